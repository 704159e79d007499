// Sweeps run as jobs: trials started through the job manager up to the concurrency limit,
// followed to their end, stopped early by ASHA with a reason, the best one named; bad sweeps
// refused before any job exists; cancellation; the watch stream.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/conversion/spec_conversion.h"
#include "server/jobs/job_manager.h"
#include "server/sweeps/sweep_manager.h"
#include "tests/testing/json_proto.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::testing::ParseJsonProto;
using ::descent::testing::StatusIs;
using ::testing::HasSubstr;

absl::StatusOr<PreparedJob> Prepare(const v1::JobSpec& spec) {
  v1::SubmitJobRequest request;
  *request.mutable_spec() = spec;
  return PrepareJob(request);
}

JobManagerOptions TwoWorkers() {
  JobManagerOptions options;
  options.workers = 2;
  return options;
}

// house_prices, 200 rows with a fifth held out: 10 steps an epoch, 30 epochs.
constexpr char kBase[] = R"("base": {
    "name": "houses",
    "dataset": {"builtin": {"name": "house_prices", "samples": 200, "seed": 5}},
    "model": {"hiddenLayers": [{"units": 8}]},
    "loss": "MEAN_SQUARED_ERROR",
    "optimizer": {"adam": {"learningRate": 0.01}},
    "training": {"epochs": 30, "batchSize": 16, "seed": 3, "validationFraction": 0.2}
  })";

v1::SweepSpec Sweep(const std::string& rest) {
  return ParseJsonProto<v1::SweepSpec>(std::string("{") + kBase + ", " + rest + "}");
}

// Watches the sweep to its end; every message in order.
std::vector<v1::WatchSweepResponse> WatchToEnd(SweepManager& sweeps, const std::string& id) {
  std::vector<v1::WatchSweepResponse> messages;
  EXPECT_OK(sweeps.Watch(
      id, 0,
      [&](const v1::WatchSweepResponse& message) {
        messages.push_back(message);
        return true;
      },
      [] { return true; }));
  return messages;
}

TEST(SweepManagerTest, AshaStopsHopelessTrialsAndTheSweepNamesItsBest) {
  JobManager jobs(TwoWorkers(), nullptr);
  SweepManager sweeps(&jobs, nullptr, Prepare);
  // The same good trial twice (they run together, on the same trajectory: neither is worse
  // than the other at any rung), then two SGD rates far too low to learn: when these reach
  // the first rung, the good ones are recorded there already.
  const auto created = sweeps.Create(Sweep(R"(
    "parameters": [{"path": "optimizer", "values": [
      {"adam": {"learningRate": 0.01}}, {"adam": {"learningRate": 0.01}},
      {"sgd": {"learningRate": 1e-6}}, {"sgd": {"learningRate": 1e-7}}]}],
    "maxConcurrentTrials": 2,
    "earlyStopping": {"asha": {"minSteps": 20, "reductionFactor": 3}})"));
  ASSERT_OK(created.status());
  // Its trials are a few milliseconds long: the sweep may have ended by the time Create
  // answers.
  EXPECT_THAT(created->state(), ::testing::AnyOf(v1::SWEEP_RUNNING, v1::SWEEP_SUCCEEDED));
  ASSERT_EQ(created->trials_size(), 4);
  // maxConcurrentTrials: two at once (a trial that ended already may have made room for a
  // third by the time Create answers).
  int started = 0;
  int running = 0;
  for (const v1::Trial& trial : created->trials()) {
    started += !trial.job_id().empty();
    running += trial.state() == v1::TRIAL_RUNNING;
  }
  EXPECT_GE(started, 2);
  EXPECT_LE(running, 2);

  const std::vector<v1::WatchSweepResponse> messages = WatchToEnd(sweeps, created->id());
  ASSERT_FALSE(messages.empty());
  ASSERT_TRUE(messages.back().has_sweep());
  const v1::Sweep& sweep = messages.back().sweep();
  EXPECT_EQ(sweep.state(), v1::SWEEP_SUCCEEDED);
  for (int t : {0, 1}) EXPECT_EQ(sweep.trials(t).state(), v1::TRIAL_SUCCEEDED) << t;
  for (int t : {2, 3}) {
    const v1::Trial& trial = sweep.trials(t);
    EXPECT_EQ(trial.state(), v1::TRIAL_STOPPED) << t;
    EXPECT_THAT(trial.stop_reason(),
                HasSubstr("stopped at step 20: validation loss"));
    EXPECT_THAT(trial.stop_reason(), HasSubstr("is above the top-1/3 cutoff"));
    // The rule stops the job on its training thread as the epoch ends: before its next step
    // or the one after, however fast it trains.
    EXPECT_LE(trial.step(), 21);
    // The job behind it was cancelled.
    const auto job = jobs.Get(trial.job_id());
    ASSERT_OK(job.status());
    EXPECT_EQ(job->state(), v1::CANCELLED);
    EXPECT_EQ(job->spec().group(), sweep.id());
  }
  ASSERT_TRUE(sweep.has_best_trial());
  EXPECT_EQ(sweep.best_trial(), 0);  // the first of two equal trials
  EXPECT_EQ(sweep.trials(0).objective(), sweep.trials(1).objective());
  EXPECT_EQ(sweep.steps_full(), 4 * 300);
  EXPECT_LT(sweep.steps_run(), sweep.steps_full());
  EXPECT_GE(sweep.steps_run(), 2 * 300 + 2 * 20);

  // The stream told the story: each trial started once, reported, and the two ended by the
  // rule were stopped with the reason they keep.
  std::vector<int> starts(4), stops(4), finishes(4);
  int64_t sequence = 0;
  for (const v1::WatchSweepResponse& message : messages) {
    if (!message.has_trial()) continue;
    const v1::TrialEvent& event = message.trial();
    EXPECT_EQ(event.sequence(), ++sequence);
    if (event.kind() == v1::TrialEvent::STARTED) ++starts[event.trial()];
    if (event.kind() == v1::TrialEvent::STOPPED) {
      ++stops[event.trial()];
      EXPECT_EQ(event.reason(), sweep.trials(event.trial()).stop_reason());
    }
    if (event.kind() == v1::TrialEvent::FINISHED) ++finishes[event.trial()];
  }
  EXPECT_EQ(starts, std::vector<int>({1, 1, 1, 1}));
  EXPECT_EQ(stops, std::vector<int>({0, 0, 1, 1}));
  EXPECT_EQ(finishes, std::vector<int>({1, 1, 0, 0}));
}

TEST(SweepManagerTest, RefusesABadSweepBeforeAnyJobExists) {
  JobManager jobs(TwoWorkers(), nullptr);
  SweepManager sweeps(&jobs, nullptr, Prepare);
  EXPECT_THAT(sweeps.Create(Sweep(R"("parameters": [{"path": "optimizer.adam.rate",
                                                     "values": [0.1]}])"))
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parameters[0].path")));
  // SGD without a rate is refused as SubmitJob refuses it, naming the trial.
  EXPECT_THAT(sweeps.Create(Sweep(R"("parameters": [{"path": "optimizer",
                                                     "values": ["adam", "sgd"]}])"))
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("trial 1: ")));
  const auto listed = jobs.List(v1::JOB_STATE_UNSPECIFIED, 0, "");
  ASSERT_OK(listed.status());
  EXPECT_TRUE(listed->jobs.empty());
  const auto sweeps_listed = sweeps.List();
  ASSERT_OK(sweeps_listed.status());
  EXPECT_TRUE(sweeps_listed->empty());
  EXPECT_THAT(sweeps.Get("sweep-000000000000").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("sweep-000000000000")));
}

TEST(SweepManagerTest, CancelEndsPendingTrialsAtOnceAndRunningOnesThroughTheirJobs) {
  JobManager jobs(TwoWorkers(), nullptr);
  SweepManager sweeps(&jobs, nullptr, Prepare);
  const auto created = sweeps.Create(Sweep(R"(
    "parameters": [{"path": "training.epochs", "values": [1000000, 1000000, 1000000]}],
    "maxConcurrentTrials": 1)"));
  ASSERT_OK(created.status());
  const auto cancelled = sweeps.Cancel(created->id());
  ASSERT_OK(cancelled.status());
  EXPECT_EQ(cancelled->state(), v1::SWEEP_CANCELLED);
  EXPECT_EQ(cancelled->trials(2).state(), v1::TRIAL_CANCELLED);
  const std::vector<v1::WatchSweepResponse> messages = WatchToEnd(sweeps, created->id());
  ASSERT_TRUE(messages.back().has_sweep());
  for (const v1::Trial& trial : messages.back().sweep().trials()) {
    EXPECT_EQ(trial.state(), v1::TRIAL_CANCELLED) << trial.index();
  }
  EXPECT_THAT(sweeps.Cancel(created->id()).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already ended")));
}

}  // namespace
}  // namespace descent::server
