// `descent race` with the real binaries: a sweep over the optimizer alone, one trial's job per
// optimizer, starting from the same weights on the same batches; descentd killed once the
// race is under way (created and followed), the sweep and its runs carried out after the
// restart, the racing CLI reconnecting by itself to rank them, a new CLI finding them again by
// the sweep's id (`descent race --watch`) to chart and rank them, and `descent sweep get`
// showing the race as the sweep it is.
#include <signal.h>

#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/input_files.h"
#include "client/job_watcher.h"
#include "client/race_plan.h"
#include "descent/v1/sweeps.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "proto/job_state.h"
#include "tests/integration/cli_runner.h"
#include "tests/integration/descentd_process.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace descent::integration {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kCliTimeout = absl::Seconds(120);

// 13-32-1 on 1000 house_prices rows, a quarter held out, batches of 25: 30 steps an epoch,
// 9000 steps a run, long enough (tens of thousands of steps a second here) for the kill below
// to come while the runs train in turn.
constexpr const char* kRaceSpec = R"json({
  "name": "race-test",
  "dataset": { "builtin": { "name": "house_prices", "samples": 1000, "seed": 7 } },
  "model": { "hiddenLayers": [ { "units": 32 } ] },
  "loss": "MEAN_SQUARED_ERROR",
  "optimizer": { "adam": { "learningRate": 0.003 } },
  "training": { "epochs": 300, "batchSize": 25, "seed": 42, "validationFraction": 0.25 }
})json";
constexpr int64_t kRunSteps = 9000;

// Every loss of a run, step 1 first.
std::vector<double> Losses(client::DescentClient& client, const std::string& id) {
  class Collect : public client::WatchSink {
   public:
    void OnLosses(int64_t, const double* losses, int count) override {
      all.insert(all.end(), losses, losses + count);
    }
    std::vector<double> all;
  } collect;
  EXPECT_OK(client::WatchUntilDone(client, id, {}, collect).status());
  return collect.all;
}

TEST(RaceTest, RunsEachOptimizerFromTheSameStartAndSurvivesARestart) {
  const std::string data_dir = DescentdProcess::NewDataDir();
  const std::string listen = absl::StrCat("127.0.0.1:", testing::PickFreePort());
  // One worker: the runs train in turn, checkpointed every 1000 steps. The kill comes once the
  // first run trains; how far it got depends on the machine's speed, and nothing below does.
  const std::vector<std::string> flags = {"--workers", "1", "--checkpoint-every-steps", "1000"};
  absl::StatusOr<std::unique_ptr<DescentdProcess>> server =
      DescentdProcess::StartWith(data_dir, listen, flags);
  ASSERT_OK(server);
  const std::string spec = testing::WriteTempFile("race_test.json", kRaceSpec);

  absl::StatusOr<std::unique_ptr<testing::Subprocess>> racing = testing::Subprocess::Start(
      {DESCENT_CLI_PATH, "--server", listen, "race", spec, "sgd:0.01", "adam", "rmsprop:0.001"},
      CliProcessOptions());
  ASSERT_OK(racing);
  ASSERT_TRUE((*racing)->WaitForOutput("rmsprop:0.001\n", absl::Seconds(60)))
      << (*racing)->Stdout() << (*racing)->Stderr();
  std::smatch match;
  const std::string announced = (*racing)->Stdout();
  ASSERT_TRUE(
      std::regex_search(announced, match, std::regex(R"(race (sweep-[0-9a-f]{12}): 3 runs)")))
      << announced;
  const std::string race_id = match[1].str();
  std::vector<std::string> ids;
  const std::regex run_line(R"(  (\S+)  \S+:)");
  for (std::sregex_iterator it(announced.begin(), announced.end(), run_line);
       it != std::sregex_iterator(); ++it) {
    ids.push_back((*it)[1].str());
  }
  ASSERT_EQ(ids.size(), 3u) << announced;

  // A second CLI following the race is killed under it (kill -9): nothing of the race lives
  // in a CLI, as the new one below finds.
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> follower = testing::Subprocess::Start(
      {DESCENT_CLI_PATH, "--server", listen, "race", "--watch", race_id}, CliProcessOptions());
  ASSERT_OK(follower);
  ASSERT_TRUE(
      (*follower)->WaitForOutput(absl::StrCat("race ", race_id, ": 3 runs\n"), absl::Seconds(60)))
      << (*follower)->Stdout() << (*follower)->Stderr();
  (*follower)->Signal(SIGKILL);
  ASSERT_OK((*follower)->Wait(kCliTimeout).status());

  // descentd dies under the race, once its first run trains and before its last one ended.
  auto client = (*server)->NewClient();
  for (absl::Time give_up = absl::Now() + absl::Seconds(60); absl::Now() < give_up;) {
    const absl::StatusOr<v1::Job> first = client->GetJob(ids[0]);
    ASSERT_OK(first);
    if (first->progress().step() > 0) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  const absl::StatusOr<v1::Job> last = client->GetJob(ids[2]);
  ASSERT_OK(last);
  ASSERT_FALSE(v1::IsTerminal(last->state()))
      << "the race ended before the kill; make the runs longer";
  // The CLI that started the race reconnects to the new one (its watches retry for up to
  // --reconnect-timeout), follows every run to its end and ranks them.
  (*server)->Kill();
  server->reset();
  server = DescentdProcess::StartWith(data_dir, listen, flags);
  ASSERT_OK(server);
  client = (*server)->NewClient();
  const absl::StatusOr<int> raced = (*racing)->Wait(kCliTimeout);
  ASSERT_OK(raced);
  EXPECT_EQ(*raced, 0) << (*racing)->Stderr();
  EXPECT_THAT((*racing)->Stdout(), HasSubstr("FINAL VAL LOSS"));

  // Found again by its id, followed to the end and ranked.
  const testing::ProcessResult watched =
      RunCli(listen, {"-o", "json", "race", "--watch", race_id}, kCliTimeout);
  ASSERT_EQ(watched.exit_code, 0) << watched.err;
  google::protobuf::Struct race;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(watched.out, &race).ok()) << watched.out;
  EXPECT_EQ(race.fields().at("group").string_value(), race_id);
  EXPECT_EQ(race.fields().at("metric").string_value(), "VALIDATION_LOSS");
  const google::protobuf::ListValue& runs = race.fields().at("runs").list_value();
  ASSERT_EQ(runs.values_size(), 3);
  std::vector<std::string> optimizers;
  double previous = 0;
  for (int i = 0; i < runs.values_size(); ++i) {
    const auto& run = runs.values(i).struct_value().fields();
    optimizers.push_back(run.at("optimizer").string_value());
    EXPECT_EQ(run.at("rank").number_value(), i + 1);
    EXPECT_EQ(run.at("state").string_value(), "SUCCEEDED");
    EXPECT_EQ(run.at("steps").number_value(), kRunSteps);
    const double final_loss = run.at("finalLoss").number_value();
    EXPECT_GE(final_loss, previous) << "ranked by final loss";
    previous = final_loss;
  }
  // The winner is within 10% of the best by definition.
  EXPECT_TRUE(runs.values(0).struct_value().fields().at("stepsToWithin10PercentOfBest").has_number_value());
  EXPECT_THAT(optimizers, ::testing::UnorderedElementsAre("sgd:0.01", "adam:0.003", "rmsprop:0.001"));

  // The same start: step 1's loss (before any update) is the same for every optimizer, so
  // the weights and the first batch were; each run has every step once.
  std::vector<std::vector<double>> losses;
  for (const std::string& id : ids) {
    losses.push_back(Losses(*client, id));
    ASSERT_EQ(losses.back().size(), static_cast<size_t>(kRunSteps)) << id;
  }
  EXPECT_EQ(losses[1][0], losses[0][0]);
  EXPECT_EQ(losses[2][0], losses[0][0]);
  EXPECT_NE(losses[1][1], losses[0][1]);  // and then they part

  // Each run trained the job file with its racer's optimizer, as a trial of the race's sweep.
  const absl::StatusOr<v1::JobSpec> file = descent::client::ReadJobSpec(spec);
  ASSERT_OK(file);
  const std::vector<std::string> racers = {"sgd:0.01", "adam", "rmsprop:0.001"};
  for (size_t i = 0; i < ids.size(); ++i) {
    const absl::StatusOr<v1::Job> job = client->GetJob(ids[i]);
    ASSERT_OK(job);
    const absl::StatusOr<v1::Optimizer> expected =
        descent::client::ParseRacer(racers[i], file->optimizer());
    ASSERT_OK(expected);
    EXPECT_EQ(job->spec().optimizer().SerializeAsString(), expected->SerializeAsString()) << ids[i];
    EXPECT_EQ(job->spec().group(), race_id);
    EXPECT_EQ(job->spec().training().seed(), 42);
  }

  // The race is a sweep: one trial per racer, in their order, each with its run's job, every
  // one run to its end, and a best trial: the ranking's first, as both compare the last
  // epoch's validation loss.
  const testing::ProcessResult got =
      RunCli(listen, {"-o", "json", "sweep", "get", race_id}, kCliTimeout);
  ASSERT_EQ(got.exit_code, 0) << got.err;
  v1::Sweep sweep;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(got.out, &sweep).ok()) << got.out;
  EXPECT_EQ(sweep.state(), v1::SWEEP_SUCCEEDED);
  EXPECT_EQ(sweep.spec().name(), "race-test race");
  EXPECT_EQ(sweep.spec().objective().metric(), v1::VALIDATION_LOSS);
  ASSERT_EQ(sweep.trials_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(sweep.trials(i).job_id(), ids[i]);
    EXPECT_EQ(sweep.trials(i).state(), v1::TRIAL_SUCCEEDED);
    EXPECT_EQ(sweep.trials(i).step(), kRunSteps);
  }
  ASSERT_TRUE(sweep.has_best_trial());
  const v1::Trial& best = sweep.trials(sweep.best_trial());
  const auto& first = runs.values(0).struct_value().fields();
  EXPECT_EQ(first.at("jobId").string_value(), best.job_id());
  EXPECT_DOUBLE_EQ(first.at("finalLoss").number_value(), best.objective());
  const testing::ProcessResult sweeps = RunCli(listen, {"sweep", "list"}, kCliTimeout);
  EXPECT_EQ(sweeps.exit_code, 0) << sweeps.err;
  EXPECT_THAT(sweeps.out, HasSubstr(race_id));

  // The finished race in text: one chart with a legend per optimizer, and the ranking.
  const testing::ProcessResult shown = RunCli(listen, {"race", "--watch", race_id}, kCliTimeout);
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("\u25cf sgd:0.01  \u25a0 adam:0.003  \u25c6 rmsprop:0.001"));
  EXPECT_THAT(shown.out, HasSubstr("FINAL VAL LOSS"));
  EXPECT_THAT(shown.out, HasSubstr("WITHIN 10% OF BEST"));
  const testing::ProcessResult listed = RunCli(listen, {"list", "--group", race_id}, kCliTimeout);
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  for (const std::string& id : ids) EXPECT_THAT(listed.out, HasSubstr(id));

  // A race made before races were sweeps: jobs tagged with a group, still found by it.
  const std::string group = "race-0123456789ab";
  for (const char* rate : {"0.01", "0.001"}) {
    v1::JobSpec old_run = *file;
    old_run.mutable_training()->set_epochs(1);
    old_run.mutable_optimizer()->mutable_adam()->set_learning_rate(std::stod(rate));
    old_run.set_group(group);
    ASSERT_OK(client->SubmitJob(old_run, absl::StrCat(group, "/adam:", rate)).status());
  }
  const testing::ProcessResult old_race =
      RunCli(listen, {"-o", "json", "race", "--watch", group}, kCliTimeout);
  ASSERT_EQ(old_race.exit_code, 0) << old_race.err;
  google::protobuf::Struct old_ranking;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(old_race.out, &old_ranking).ok())
      << old_race.out;
  EXPECT_EQ(old_ranking.fields().at("group").string_value(), group);
  EXPECT_EQ(old_ranking.fields().at("runs").list_value().values_size(), 2);

  // An id that is neither a sweep nor the group of an earlier version's race.
  for (const std::string unknown_id : {"race-000000000000", "sweep-000000000000"}) {
    const testing::ProcessResult unknown =
        RunCli(listen, {"race", "--watch", unknown_id}, kCliTimeout);
    EXPECT_EQ(unknown.exit_code, 2);
    EXPECT_THAT(unknown.err, HasSubstr("no race " + unknown_id));
  }
}

}  // namespace
}  // namespace descent::integration
