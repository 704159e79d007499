// descentd replicas on one PostgreSQL database (--store): jobs submitted to one replica train
// on others; a replica killed (kill -9) in the middle of a job loses it to another once its
// lease expires (a short --lease-timeout), which resumes it from the last checkpoint and
// finishes it on the same trajectory, bit for bit, while a watcher on a third replica streams
// it from the database through the failover; PostgreSQL restarted under running jobs moves
// and loses nothing; PostgreSQL away for longer than the lease stops the jobs, which resume
// from their checkpoints once it is back; a dataset uploaded to one replica trains, lists and
// is protected from deletion on the others; a race (a sweep) whose replica is killed is
// finished by another, where a CLI ranks it.
#include <signal.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "descent/v1/sweeps.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "proto/job_state.h"
#include "tests/integration/cli_runner.h"
#include "tests/integration/descentd_process.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace descent::integration {
namespace {

// 13-256-256-1 on 2000 house_prices rows in batches of 50: 40 steps an epoch, 4000 steps,
// long enough (about a millisecond a step) that the second job starts on the other replica
// while the first trains, and that a kill right after step kKillAfterStep lands mid-job.
v1::JobSpec FailoverSpec() {
  v1::JobSpec spec;
  spec.set_name("failover");
  spec.mutable_dataset()->mutable_builtin()->set_name("house_prices");
  spec.mutable_dataset()->mutable_builtin()->set_samples(2000);
  spec.mutable_model()->add_hidden_layers()->set_units(256);
  spec.mutable_model()->add_hidden_layers()->set_units(256);
  spec.set_loss(v1::MEAN_SQUARED_ERROR);
  spec.mutable_optimizer()->mutable_adam()->set_learning_rate(0.001);
  spec.mutable_training()->set_epochs(100);
  spec.mutable_training()->set_batch_size(50);
  spec.mutable_training()->set_seed(42);
  return spec;
}
constexpr int64_t kSteps = 100 * 40;
constexpr int64_t kKillAfterStep = 350;  // past the first checkpoint (every 300 steps)

// A job's history read in one stream from step 0 to its end (at most five minutes).
struct History {
  std::vector<double> losses;  // losses[s - 1] is step s, in the order received
  bool in_order = true;        // every step once, 1, 2, 3, ...
  std::vector<int64_t> resumed_at;
  int epochs = 0;  // epoch summaries received
  v1::JobState final_state = v1::JOB_STATE_UNSPECIFIED;
};

History ReadHistory(client::DescentClient& client, const std::string& id) {
  History history;
  EXPECT_OK(client.WatchJob(id, 0, absl::Minutes(5), [&](const v1::WatchJobResponse& event) {
    if (event.has_losses()) {
      history.in_order &= event.losses().first_step() ==
                          static_cast<int64_t>(history.losses.size()) + 1;
      for (double loss : event.losses().losses()) history.losses.push_back(loss);
    }
    if (event.has_resumed()) history.resumed_at.push_back(event.resumed().step());
    if (event.has_epoch()) ++history.epochs;
    if (event.has_state()) history.final_state = event.state().state();
    return true;
  }));
  return history;
}

// The job as `client` sees it once `done` says so (polled; at most five minutes). A failed
// over job of 4,000 steps takes ~80 s under ASan on two cores and over two minutes with other
// builds beside it: the bound stops a stuck test, it does not time the job.
template <typename Done>
v1::Job WaitFor(client::DescentClient& client, const std::string& id, Done done) {
  const absl::Time deadline = absl::Now() + absl::Minutes(5);
  absl::StatusOr<v1::Job> job = client.GetJob(id);
  while (absl::Now() < deadline && !(job.ok() && done(*job))) {
    absl::SleepFor(absl::Milliseconds(20));
    job = client.GetJob(id);
  }
  EXPECT_OK(job);
  return job.value_or(v1::Job());
}

// Starts `count` replicas on `url` with one worker each, checkpointing every 300 steps.
void StartReplicas(int count, const std::string& url, const std::string& lease_timeout,
                   std::vector<std::unique_ptr<DescentdProcess>>* replicas) {
  for (int i = 0; i < count; ++i) {
    const std::string listen = absl::StrCat("127.0.0.1:", testing::PickFreePort());
    absl::StatusOr<std::unique_ptr<DescentdProcess>> replica = DescentdProcess::StartWith(
        DescentdProcess::NewDataDir(), listen,
        {"--store", url, "--workers", "1", "--lease-timeout", lease_timeout,
         "--checkpoint-every-steps", "300"});
    ASSERT_OK(replica);
    replicas->push_back(*std::move(replica));
  }
}

// Watches job `id` on `client` until its stream has shown step `step`; that step.
int64_t WatchUntilStep(client::DescentClient& client, const std::string& id, int64_t step) {
  int64_t seen = 0;
  const absl::Status watched =
      client.WatchJob(id, 0, absl::Seconds(60), [&](const v1::WatchJobResponse& event) {
        if (event.has_losses()) {
          seen = event.losses().first_step() + event.losses().losses_size() - 1;
        }
        return seen < step;
      });
  EXPECT_GE(seen, step) << watched;
  return seen;
}

// Submits two `spec` jobs through `client` (request ids PREFIX-1, PREFIX-2) and waits until
// each has left the queue for a runner; the jobs as then seen (none on failure).
std::vector<v1::Job> SubmitTwoAndWaitUntilStarted(client::DescentClient& client,
                                                  const std::string& prefix,
                                                  const v1::JobSpec& spec = FailoverSpec()) {
  std::vector<v1::Job> jobs;
  for (int i = 1; i <= 2; ++i) {
    absl::StatusOr<v1::Job> job = client.SubmitJob(spec, absl::StrCat(prefix, "-", i));
    EXPECT_OK(job);
    if (!job.ok()) return {};
    jobs.push_back(*job);
  }
  for (v1::Job& job : jobs) {
    job = WaitFor(client, job.id(), [](const v1::Job& seen) {
      return seen.state() != v1::QUEUED && !seen.runner().empty();
    });
  }
  return jobs;
}

TEST(ReplicasTest, AJobOfAKilledReplicaFinishesElsewhereOnTheSameTrajectoryWhileAThirdStreamsIt) {
  DESCENT_POSTGRES_DATABASE_OR_SKIP(url);
  std::vector<std::unique_ptr<DescentdProcess>> replicas;
  ASSERT_NO_FATAL_FAILURE(StartReplicas(3, url, "2s", &replicas));
  // Both jobs go to the first replica; with one worker each, two replicas train one each.
  auto first = replicas[0]->NewClient();
  const std::vector<v1::Job> running = SubmitTwoAndWaitUntilStarted(*first, "failover");
  ASSERT_EQ(running.size(), 2u);
  const std::vector<std::string> ids = {running[0].id(), running[1].id()};
  ASSERT_EQ(running[0].state(), v1::RUNNING);
  ASSERT_EQ(running[1].state(), v1::RUNNING);
  ASSERT_NE(running[0].runner(), running[1].runner()) << "both jobs train on one replica";
  const auto index_of = [&](const std::string& address) {
    for (size_t i = 0; i < replicas.size(); ++i) {
      if (replicas[i]->address() == address) return i;
    }
    ADD_FAILURE() << "no replica at " << address;
    return size_t{0};
  };
  const size_t killed = index_of(running[0].runner());  // the replica training ids[0]
  const size_t other = index_of(running[1].runner());
  const size_t idle = 3 - killed - other;  // trains neither: its watcher reads the database

  // A watcher on the idle replica follows ids[0] from its first step, through the failover.
  History followed;
  std::thread watcher([&] { followed = ReadHistory(*replicas[idle]->NewClient(), ids[0]); });
  // Kill the replica training ids[0] once its stream shows step kKillAfterStep.
  ASSERT_GE(WatchUntilStep(*replicas[killed]->NewClient(), ids[0], kKillAfterStep),
            kKillAfterStep);
  replicas[killed]->Kill();

  // Another replica takes the job over once the lease expired and finishes it.
  auto client = replicas[other]->NewClient();
  for (const std::string& id : ids) {
    const v1::Job done =
        WaitFor(*client, id, [](const v1::Job& job) { return IsTerminal(job.state()); });
    EXPECT_EQ(done.state(), v1::SUCCEEDED) << done.error();
    EXPECT_NE(done.runner(), replicas[killed]->address());
  }
  watcher.join();
  const History failed_over = ReadHistory(*client, ids[0]);
  const History uninterrupted = ReadHistory(*client, ids[1]);
  EXPECT_EQ(failed_over.final_state, v1::SUCCEEDED);
  EXPECT_TRUE(failed_over.in_order);
  ASSERT_EQ(failed_over.losses.size(), static_cast<size_t>(kSteps));
  // Resumed once, from a checkpoint written before the kill.
  ASSERT_EQ(failed_over.resumed_at.size(), 1u);
  EXPECT_GE(failed_over.resumed_at[0], 300);
  EXPECT_LE(failed_over.resumed_at[0], kSteps - 1);
  EXPECT_TRUE(uninterrupted.in_order);
  EXPECT_TRUE(uninterrupted.resumed_at.empty());
  ASSERT_EQ(uninterrupted.losses.size(), static_cast<size_t>(kSteps));
  EXPECT_EQ(std::memcmp(failed_over.losses.data(), uninterrupted.losses.data(),
                        uninterrupted.losses.size() * sizeof(double)),
            0)
      << "the job left its trajectory when it moved to another replica";
  // The idle replica's watcher got every step once, in order, through the failover.
  EXPECT_EQ(followed.final_state, v1::SUCCEEDED);
  EXPECT_TRUE(followed.in_order);
  EXPECT_EQ(followed.losses, uninterrupted.losses);
}

// PostgreSQL stopped (fast shutdown) and started again on the same port and data while both
// replicas train: they reconnect, the database's absence (well under --lease-timeout) moves no
// job, and every job's history is an uninterrupted run's, every step stored once.
TEST(ReplicasTest, PostgresRestartedUnderRunningJobsLosesNothing) {
  DESCENT_POSTGRES_DATABASE_OR_SKIP(url);
  absl::StatusOr<testing::PostgresServer*> postgres = testing::SharedPostgres();
  ASSERT_OK(postgres);
  std::vector<std::unique_ptr<DescentdProcess>> replicas;
  ASSERT_NO_FATAL_FAILURE(StartReplicas(2, url, "20s", &replicas));
  auto client = replicas[0]->NewClient();
  const std::vector<v1::Job> running = SubmitTwoAndWaitUntilStarted(*client, "restart");
  ASSERT_EQ(running.size(), 2u);
  std::vector<std::string> ids, runners;
  for (const v1::Job& job : running) {
    ASSERT_EQ(job.state(), v1::RUNNING);
    ids.push_back(job.id());
    runners.push_back(job.runner());
  }
  ASSERT_NE(runners[0], runners[1]) << "both jobs train on one replica";
  // Past the first checkpoint of the job that started first, so both have written to the
  // database and will again while it is away.
  const size_t first_runner = runners[0] == replicas[0]->address() ? 0 : 1;
  ASSERT_GE(WatchUntilStep(*replicas[first_runner]->NewClient(), ids[0], kKillAfterStep),
            kKillAfterStep);
  ASSERT_OK((*postgres)->Restart());

  for (size_t i = 0; i < ids.size(); ++i) {
    const v1::Job done =
        WaitFor(*client, ids[i], [](const v1::Job& job) { return IsTerminal(job.state()); });
    EXPECT_EQ(done.state(), v1::SUCCEEDED) << done.error();
    EXPECT_EQ(done.runner(), runners[i]) << "the job moved while the database was away";
  }
  // The same spec once more, with the database up throughout: the trajectory to match.
  absl::StatusOr<v1::Job> reference = client->SubmitJob(FailoverSpec(), "restart-reference");
  ASSERT_OK(reference);
  WaitFor(*client, reference->id(), [](const v1::Job& job) { return IsTerminal(job.state()); });
  const History uninterrupted = ReadHistory(*client, reference->id());
  ASSERT_EQ(uninterrupted.final_state, v1::SUCCEEDED);
  ASSERT_EQ(uninterrupted.losses.size(), static_cast<size_t>(kSteps));
  for (const std::string& id : ids) {
    const History history = ReadHistory(*client, id);
    EXPECT_EQ(history.final_state, v1::SUCCEEDED);
    EXPECT_TRUE(history.in_order) << id << ": a step stored twice or missing";
    EXPECT_TRUE(history.resumed_at.empty()) << id << " was resumed, so it stopped";
    EXPECT_EQ(history.epochs, uninterrupted.epochs) << id;
    ASSERT_EQ(history.losses.size(), static_cast<size_t>(kSteps)) << id;
    EXPECT_EQ(std::memcmp(history.losses.data(), uninterrupted.losses.data(),
                          uninterrupted.losses.size() * sizeof(double)),
              0)
        << id << " left its trajectory across the database restart";
  }
}

// PostgreSQL away for longer than --lease-timeout while both replicas train: the replicas give
// their jobs up (their leases have expired by the database's clock), and once it is back the
// jobs are claimed again and resume from their last checkpoint, on the same trajectory.
TEST(ReplicasTest, PostgresAwayLongerThanTheLeaseStopsTheJobsAndTheyResumeOnceItIsBack) {
  DESCENT_POSTGRES_DATABASE_OR_SKIP(url);
  absl::StatusOr<testing::PostgresServer*> postgres = testing::SharedPostgres();
  ASSERT_OK(postgres);
  std::vector<std::unique_ptr<DescentdProcess>> replicas;
  ASSERT_NO_FATAL_FAILURE(StartReplicas(2, url, "2s", &replicas));
  auto client = replicas[0]->NewClient();
  v1::JobSpec spec = FailoverSpec();
  spec.mutable_training()->set_epochs(30);  // 1200 steps: long enough to span the outage
  const std::vector<v1::Job> running = SubmitTwoAndWaitUntilStarted(*client, "outage", spec);
  ASSERT_EQ(running.size(), 2u);
  const size_t first_runner = running[0].runner() == replicas[0]->address() ? 0 : 1;
  ASSERT_GE(WatchUntilStep(*replicas[first_runner]->NewClient(), running[0].id(), kKillAfterStep),
            kKillAfterStep);
  (*postgres)->Stop();
  // The database stays away until the first job's replica has given the job up: its writes
  // and renewals retry for a lease timeout from when each began, which on a loaded machine can
  // end well after the lease expired by the database's clock.
  EXPECT_TRUE(replicas[first_runner]->process().WaitForOutput(
      absl::StrCat(running[0].id(), " \"", spec.name(), "\" lost its lease"), absl::Seconds(90),
      true))
      << "the first job's replica kept it through an outage longer than its lease";
  ASSERT_OK((*postgres)->Resume());

  std::vector<History> histories;
  for (const v1::Job& job : running) {
    const v1::Job done =
        WaitFor(*client, job.id(), [](const v1::Job& seen) { return IsTerminal(seen.state()); });
    EXPECT_EQ(done.state(), v1::SUCCEEDED) << done.error();
    histories.push_back(ReadHistory(*client, job.id()));
  }
  for (size_t i = 0; i < histories.size(); ++i) {
    const History& history = histories[i];
    EXPECT_TRUE(history.in_order) << running[i].id() << ": a step stored twice or missing";
    ASSERT_EQ(history.losses.size(), 1200u);
    EXPECT_EQ(history.epochs, 30);
  }
  // The first job had stored its checkpoint at step 300 before the database went away, and
  // resumed from there or later. (The second may have been claimed while its start was on
  // the way to the database, and then starts again from step 0 on whichever replica claims
  // it: no resumption, as nothing of it was stored.)
  ASSERT_GE(histories[0].resumed_at.size(), 1u) << "the first job never stopped";
  EXPECT_GE(histories[0].resumed_at[0], 300);
  // Both jobs (one spec, one seed) agree bit for bit after their resumptions (that a resumed
  // job keeps an uninterrupted run's trajectory is the kill test's to show).
  EXPECT_EQ(std::memcmp(histories[0].losses.data(), histories[1].losses.data(),
                        histories[0].losses.size() * sizeof(double)),
            0);
}

// Uploaded datasets live in the database the replicas share: a file uploaded to one replica
// trains jobs the other claims (which reads its bytes from the database), the other lists it,
// and refuses to delete it while a job on either replica uses it.
TEST(ReplicasTest, ADatasetUploadedToOneReplicaServesJobsListingsAndDeletesOnAnother) {
  DESCENT_POSTGRES_DATABASE_OR_SKIP(url);
  std::vector<std::unique_ptr<DescentdProcess>> replicas;
  ASSERT_NO_FATAL_FAILURE(StartReplicas(2, url, "10s", &replicas));
  const std::string a = replicas[0]->address();
  const std::string b = replicas[1]->address();
  auto cli = [](const std::string& address, std::vector<std::string> args) {
    return RunCli(address, std::move(args), absl::Seconds(60));
  };
  std::string csv = "x1,x2,x3,y\n";
  for (int row = 0; row < 200; ++row) {
    absl::StrAppend(&csv, row % 7, ",", row % 11, ",", row % 13, ",", (row % 7) + 2 * (row % 5),
                    "\n");
  }
  const testing::ProcessResult uploaded =
      cli(a, {"upload", WriteTempFile("shared.csv", csv), "--name", "shared"});
  ASSERT_EQ(uploaded.exit_code, 0) << uploaded.err;
  const testing::ProcessResult listed = cli(b, {"datasets"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, ::testing::HasSubstr("shared  ds-"));

  // Two jobs on it through the first replica; with one worker each, the second trains on the
  // other replica. A step takes milliseconds, so both run until cancelled below.
  v1::JobSpec spec;
  spec.set_name("on-shared-data");
  spec.mutable_dataset()->set_name("shared");
  spec.mutable_dataset()->add_targets("y");
  spec.mutable_model()->add_hidden_layers()->set_units(512);
  spec.mutable_model()->add_hidden_layers()->set_units(512);
  spec.set_loss(v1::MEAN_SQUARED_ERROR);
  spec.mutable_optimizer()->mutable_adam()->set_learning_rate(0.001);
  spec.mutable_training()->set_epochs(5000);
  spec.mutable_training()->set_batch_size(200);
  auto client = replicas[0]->NewClient();
  const std::vector<v1::Job> running = SubmitTwoAndWaitUntilStarted(*client, "dataset", spec);
  ASSERT_EQ(running.size(), 2u);
  ASSERT_NE(running[0].runner(), running[1].runner()) << "both jobs train on one replica";
  for (const v1::Job& job : running) {
    EXPECT_EQ(job.state(), v1::RUNNING) << job.error();
    EXPECT_THAT(job.spec().dataset().resolved().id(), ::testing::StartsWith("ds-"));
  }

  const testing::ProcessResult refused = cli(b, {"dataset", "rm", "shared"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, ::testing::HasSubstr("RUNNING job"));
  for (const v1::Job& job : running) {
    ASSERT_OK(client->CancelJob(job.id()));
    const v1::Job ended =
        WaitFor(*client, job.id(), [](const v1::Job& seen) { return IsTerminal(seen.state()); });
    EXPECT_EQ(ended.state(), v1::CANCELLED) << ended.error();
  }
  const testing::ProcessResult deleted = cli(b, {"dataset", "rm", "shared"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  const testing::ProcessResult gone = cli(a, {"datasets"});
  EXPECT_EQ(gone.exit_code, 0) << gone.err;
  EXPECT_THAT(gone.out, ::testing::Not(::testing::HasSubstr("shared")));
}

// A race is a sweep: the replica it was created on drives it under the sweep's lease while
// both replicas train its runs; killed (kill -9, with the CLI that started the race), the
// other replica claims the sweep and the dead one's run once their leases expired, finishes
// both, and a CLI following the race there ranks them.
TEST(ReplicasTest, ARaceWhoseReplicaDiesIsFinishedAndRankedOnAnother) {
  DESCENT_POSTGRES_DATABASE_OR_SKIP(url);
  std::vector<std::unique_ptr<DescentdProcess>> replicas;
  ASSERT_NO_FATAL_FAILURE(StartReplicas(2, url, "2s", &replicas));
  // FailoverSpec's network, 20 epochs: 800 steps a run, about a millisecond each.
  const std::string spec = WriteTempFile("replica_race.json", R"json({
    "name": "replica-race",
    "dataset": {"builtin": {"name": "house_prices", "samples": 2000}},
    "model": {"hiddenLayers": [{"units": 256}, {"units": 256}]},
    "loss": "MEAN_SQUARED_ERROR",
    "optimizer": {"adam": {"learningRate": 0.001}},
    "training": {"epochs": 20, "batchSize": 50, "seed": 42}
  })json");
  constexpr int64_t kRaceSteps = 20 * 40;
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> racing = testing::Subprocess::Start(
      {DESCENT_CLI_PATH, "--server", replicas[0]->address(), "race", spec, "adam", "rmsprop:0.001"},
      CliProcessOptions());
  ASSERT_OK(racing);
  ASSERT_TRUE((*racing)->WaitForOutput("rmsprop:0.001\n", absl::Seconds(60)))
      << (*racing)->Stdout() << (*racing)->Stderr();
  const std::string announced = (*racing)->Stdout();
  ASSERT_TRUE(absl::StartsWith(announced, "race sweep-")) << announced;
  const std::string race_id = announced.substr(5, announced.find(':') - 5);
  const testing::ProcessResult created =
      RunCli(replicas[1]->address(), {"-o", "json", "sweep", "get", race_id}, absl::Seconds(60));
  ASSERT_EQ(created.exit_code, 0) << created.err;
  v1::Sweep sweep;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(created.out, &sweep).ok()) << created.out;
  ASSERT_EQ(sweep.trials_size(), 2);

  // A CLI on the other replica follows the race; the first replica dies with both runs
  // training, one on each replica, and with it the CLI that started the race.
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> following =
      testing::Subprocess::Start({DESCENT_CLI_PATH, "--server", replicas[1]->address(), "-o",
                                  "json", "race", "--watch", race_id},
                                 CliProcessOptions());
  ASSERT_OK(following);
  auto client = replicas[1]->NewClient();
  for (const v1::Trial& trial : sweep.trials()) {
    const v1::Job started = WaitFor(*client, trial.job_id(), [](const v1::Job& job) {
      return job.progress().step() > 0 || IsTerminal(job.state());
    });
    ASSERT_FALSE(IsTerminal(started.state())) << "a run ended before the kill; make it longer";
  }
  replicas[0]->Kill();
  (*racing)->Signal(SIGKILL);
  ASSERT_OK((*racing)->Wait(absl::Seconds(60)).status());

  const absl::StatusOr<int> followed = (*following)->Wait(absl::Seconds(180));
  ASSERT_OK(followed);
  ASSERT_EQ(*followed, 0) << (*following)->Stderr();
  google::protobuf::Struct race;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage((*following)->Stdout(), &race).ok())
      << (*following)->Stdout();
  EXPECT_EQ(race.fields().at("metric").string_value(), "TRAIN_LOSS");
  const google::protobuf::ListValue& runs = race.fields().at("runs").list_value();
  ASSERT_EQ(runs.values_size(), 2);
  for (const google::protobuf::Value& run : runs.values()) {
    EXPECT_EQ(run.struct_value().fields().at("state").string_value(), "SUCCEEDED");
    EXPECT_EQ(run.struct_value().fields().at("steps").number_value(), kRaceSteps);
  }
  // The sweep ended on the surviving replica with its best trial the ranking's first.
  const testing::ProcessResult ended =
      RunCli(replicas[1]->address(), {"-o", "json", "sweep", "get", race_id}, absl::Seconds(60));
  ASSERT_EQ(ended.exit_code, 0) << ended.err;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ended.out, &sweep).ok()) << ended.out;
  EXPECT_EQ(sweep.state(), v1::SWEEP_SUCCEEDED);
  ASSERT_TRUE(sweep.has_best_trial());
  EXPECT_EQ(sweep.trials(sweep.best_trial()).job_id(),
            runs.values(0).struct_value().fields().at("jobId").string_value());
}

}  // namespace
}  // namespace descent::integration
