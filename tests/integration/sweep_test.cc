// `descent sweep` with the real binaries: a sweep over optimizers and rates on house prices
// whose hopeless trials ASHA stops early, so the sweep runs fewer steps than its trials would
// in full; every trial an ordinary job tagged with the sweep's id; the text view and -o json.
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "descent/v1/sweeps.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/cli_runner.h"
#include "tests/integration/descentd_process.h"
#include "tests/testing/files.h"
#include "tests/testing/json_proto.h"
#include "tests/testing/status_matchers.h"

namespace descent::integration {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kCliTimeout = absl::Seconds(120);

// 13-16-1 on 400 house_prices rows, a fifth held out, batches of 32: 10 steps an epoch, 100 a
// trial. Two optimizers at three rates, one of them far too low to learn in 10 epochs.
constexpr const char* kSweep = R"json({
  "name": "sweep-test",
  "base": {
    "dataset": { "builtin": { "name": "house_prices", "samples": 400, "seed": 7 } },
    "model": { "hiddenLayers": [ { "units": 16 } ] },
    "loss": "MEAN_SQUARED_ERROR",
    "optimizer": { "adam": {} },
    "training": { "epochs": 10, "batchSize": 32, "seed": 42, "validationFraction": 0.2 }
  },
  "parameters": [
    { "path": "optimizer", "values": [ "sgd", "adam" ] },
    { "path": "optimizer.learningRate", "values": [ 1e-5, 0.003, 0.03 ] }
  ],
  "maxConcurrentTrials": 2,
  "earlyStopping": { "asha": { "minSteps": 20, "reductionFactor": 3 } }
})json";
constexpr int kTrials = 6;
constexpr int64_t kTrialSteps = 100;

class SweepTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<DescentdProcess>> started =
        DescentdProcess::Start({"--workers", "2"});
    ASSERT_OK(started);
    server_ = *std::move(started);
  }
  static void TearDownTestSuite() { server_.reset(); }

  static inline std::unique_ptr<DescentdProcess> server_;
};

TEST_F(SweepTest, AshaStopsHopelessTrialsSoTheSweepRunsFewerStepsThanFullTrials) {
  const std::string file = testing::WriteTempFile("sweep_test.json", kSweep);
  const testing::ProcessResult watched =
      RunCli(server_->address(), {"-o", "json", "sweep", "submit", file, "--watch"}, kCliTimeout);
  ASSERT_EQ(watched.exit_code, 0) << watched.out << watched.err;
  // -o json: every stream message on a line; the last one is the ended sweep.
  const std::vector<std::string> lines =
      absl::StrSplit(watched.out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  const auto last = testing::ParseJsonProto<v1::WatchSweepResponse>(lines.back());
  ASSERT_TRUE(last.has_sweep()) << lines.back();
  const v1::Sweep& sweep = last.sweep();
  EXPECT_EQ(sweep.state(), v1::SWEEP_SUCCEEDED);
  ASSERT_EQ(sweep.trials_size(), kTrials);

  // From the trials' own jobs: every trial is a job of the sweep's group, a stopped one was
  // cancelled right after the epoch its rule decided on, and all of them together ran fewer
  // steps than trials x full runs.
  int64_t steps = 0;
  int stopped = 0;
  for (const v1::Trial& trial : sweep.trials()) {
    const testing::ProcessResult got =
        RunCli(server_->address(), {"-o", "json", "get", trial.job_id()}, kCliTimeout);
    ASSERT_EQ(got.exit_code, 0) << got.err;
    const auto job = testing::ParseJsonProto<v1::Job>(got.out);
    EXPECT_EQ(job.spec().group(), sweep.id());
    EXPECT_EQ(job.progress().total_steps(), kTrialSteps);
    steps += job.progress().step();
    if (trial.state() == v1::TRIAL_STOPPED) {
      ++stopped;
      EXPECT_EQ(job.state(), v1::CANCELLED) << trial.stop_reason();
      EXPECT_THAT(trial.stop_reason(), HasSubstr("is above the top-1/3 cutoff"));
      EXPECT_LT(job.progress().step(), kTrialSteps);
    } else {
      EXPECT_EQ(trial.state(), v1::TRIAL_SUCCEEDED) << trial.index();
      EXPECT_EQ(job.state(), v1::SUCCEEDED);
    }
  }
  EXPECT_GE(stopped, 1);
  EXPECT_LT(steps, kTrials * kTrialSteps);
  EXPECT_EQ(steps, sweep.steps_run());

  // The best trial ran to the end and no trial that did is better.
  ASSERT_TRUE(sweep.has_best_trial());
  const v1::Trial& best = sweep.trials(sweep.best_trial());
  EXPECT_EQ(best.state(), v1::TRIAL_SUCCEEDED);
  for (const v1::Trial& trial : sweep.trials()) {
    if (trial.state() == v1::TRIAL_SUCCEEDED) {
      EXPECT_LE(best.objective(), trial.objective());
    }
  }

  // The text view names the best trial and what early stopping saved; the listing has it.
  const testing::ProcessResult text =
      RunCli(server_->address(), {"sweep", "get", sweep.id()}, kCliTimeout);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("VALIDATION LOSS"));
  EXPECT_THAT(text.out, HasSubstr(absl::StrCat("best: trial ", best.index())));
  EXPECT_THAT(text.out, HasSubstr("early stopping saved"));
  const testing::ProcessResult listed = RunCli(server_->address(), {"sweep", "list"}, kCliTimeout);
  EXPECT_THAT(listed.out, HasSubstr(sweep.id()));
}

TEST_F(SweepTest, ABadSweepFileIsRefusedNamingTheFieldAndExitsTwo) {
  const std::string file = testing::WriteTempFile(
      "bad_sweep.json", R"json({"base": {"loss": "MEAN_SQUARED_ERROR",
        "training": {"validationFraction": 0.2}},
        "parameters": [{"path": "optimizer.adam.learningRat", "values": [0.1]}]})json");
  const testing::ProcessResult refused =
      RunCli(server_->address(), {"sweep", "submit", file}, kCliTimeout);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("parameters[0].path"));
  EXPECT_THAT(refused.err, HasSubstr("learningRat"));
  const testing::ProcessResult unknown =
      RunCli(server_->address(), {"sweep", "get", "sweep-000000000000"}, kCliTimeout);
  EXPECT_EQ(unknown.exit_code, 2);
}

}  // namespace
}  // namespace descent::integration
