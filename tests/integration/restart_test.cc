// descentd restarted on the same job store (its --data-dir, or a PostgreSQL database): after
// kill -9 mid-training the job resumes from its checkpoint and finishes with every step once
// and the losses of an uninterrupted run, and a `descent watch` started before the kill
// carries on by itself; a data dir that
// runs out of space fails submissions cleanly and keeps what it stored; a job cancelled
// while it checkpoints every step stays cancelled across a kill -9.
#include <signal.h>
#include <sqlite3.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/job_watcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/cli_runner.h"
#include "tests/integration/descentd_process.h"
#include "tests/integration/printed_watch.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace descent::integration {
namespace {

using ::testing::HasSubstr;

// 13-128-128-1 on 2000 house_prices rows in batches of 50: 40 steps an epoch, 8000 steps,
// slow enough (a few thousand steps a second) to be killed in the middle.
v1::JobSpec RestartSpec() {
  v1::JobSpec spec;
  spec.set_name("restart");
  spec.mutable_dataset()->mutable_builtin()->set_name("house_prices");
  spec.mutable_dataset()->mutable_builtin()->set_samples(2000);
  spec.mutable_model()->add_hidden_layers()->set_units(128);
  spec.mutable_model()->add_hidden_layers()->set_units(128);
  spec.set_loss(v1::MEAN_SQUARED_ERROR);
  spec.mutable_optimizer()->mutable_adam()->set_learning_rate(0.001);
  spec.mutable_training()->set_epochs(200);
  spec.mutable_training()->set_batch_size(50);
  spec.mutable_training()->set_seed(42);
  return spec;
}
constexpr int64_t kRestartSteps = 200 * 40;

// Every loss of a finished job's history, read from step 0 in one stream; counts[s] is how
// often step s arrived.
struct History {
  std::vector<double> losses;
  std::vector<int> counts;
  int resumed_events = 0;
  v1::JobState final_state = v1::JOB_STATE_UNSPECIFIED;
};

History ReadHistory(client::DescentClient& client, const std::string& id, int64_t total) {
  History history;
  history.losses.assign(static_cast<size_t>(total + 1), 0.0);
  history.counts.assign(static_cast<size_t>(total + 1), 0);
  const absl::Status status =
      client.WatchJob(id, 0, absl::Seconds(60), [&](const v1::WatchJobResponse& event) {
        if (event.has_losses()) {
          for (int i = 0; i < event.losses().losses_size(); ++i) {
            const int64_t step = event.losses().first_step() + i;
            if (step < 1 || step > total) continue;
            ++history.counts[static_cast<size_t>(step)];
            history.losses[static_cast<size_t>(step)] = event.losses().losses(i);
          }
        }
        if (event.has_resumed()) ++history.resumed_events;
        if (event.has_state()) history.final_state = event.state().state();
        return true;
      });
  EXPECT_OK(status);
  return history;
}

// The job store the restarted descentd finds its jobs in: SQLite in its --data-dir, or a
// PostgreSQL database (--store), where the restart uses a new, empty data dir, so everything
// it serves comes from the database.
enum class Store { kSqlite, kPostgres };

class KillNineRestartTest : public ::testing::TestWithParam<Store> {};

INSTANTIATE_TEST_SUITE_P(Stores, KillNineRestartTest,
                         ::testing::Values(Store::kSqlite, Store::kPostgres),
                         [](const ::testing::TestParamInfo<Store>& info) {
                           return info.param == Store::kSqlite ? "SQLite" : "PostgreSQL";
                         });

TEST_P(KillNineRestartTest, TheJobResumesAndEveryWatcherSeesEveryStepOnce) {
  std::string data_dir = DescentdProcess::NewDataDir();
  const std::string listen = absl::StrCat("127.0.0.1:", testing::PickFreePort());
  std::vector<std::string> flags = {"--workers", "1", "--checkpoint-every-steps", "500"};
  if (GetParam() == Store::kPostgres) {
    DESCENT_POSTGRES_DATABASE_OR_SKIP(url);
    flags.insert(flags.end(), {"--store", url});
  }
  absl::StatusOr<std::unique_ptr<DescentdProcess>> server =
      DescentdProcess::StartWith(data_dir, listen, flags);
  ASSERT_OK(server);
  auto client = (*server)->NewClient();
  absl::StatusOr<v1::Job> job = client->SubmitJob(RestartSpec(), "restart-1");
  ASSERT_OK(job);
  const std::string id = job->id();

  // Two `descent watch` processes, JSON and text, started before the kill.
  const std::vector<std::string> json_argv = {DESCENT_CLI_PATH, "--server", listen, "-o", "json",
                                              "watch", id};
  const std::vector<std::string> text_argv = {DESCENT_CLI_PATH, "--server", listen, "watch", id};
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> json_cli =
      testing::Subprocess::Start(json_argv);
  ASSERT_OK(json_cli);
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> text_cli =
      testing::Subprocess::Start(text_argv);
  ASSERT_OK(text_cli);
  // Both are watching (they printed the job's state) before the kill: a watcher that never
  // reached the server has nothing to reconnect to, and exits 3 as for a wrong address.
  ASSERT_TRUE((*json_cli)->WaitForOutput("\"state\"", absl::Seconds(60)))
      << (*json_cli)->Stderr();
  ASSERT_TRUE((*text_cli)->WaitForOutput(absl::StrCat("job ", id, " "), absl::Seconds(60)))
      << (*text_cli)->Stderr();

  // Kill once a few checkpoints were written, mid-training.
  int64_t step_at_kill = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    absl::StatusOr<v1::Job> now = client->GetJob(id);
    ASSERT_OK(now);
    step_at_kill = now->progress().step();
    if (step_at_kill >= 1700) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  (*server)->Kill();
  ASSERT_GE(step_at_kill, 1700);
  ASSERT_LT(step_at_kill, kRestartSteps) << "the job ended before the kill; make it longer";

  // Same store and port: the job resumes, the CLI watchers reconnect by themselves.
  server->reset();
  if (GetParam() == Store::kPostgres) data_dir = DescentdProcess::NewDataDir();
  server = DescentdProcess::StartWith(data_dir, listen, flags);
  ASSERT_OK(server);
  EXPECT_THAT((*server)->process().Stderr(), HasSubstr("1 stored jobs resumed or queued"));
  client = (*server)->NewClient();
  absl::StatusOr<int> json_exit = (*json_cli)->Wait(absl::Seconds(120));
  ASSERT_OK(json_exit) << (*json_cli)->Stderr();
  EXPECT_EQ(*json_exit, 0) << (*json_cli)->Stderr();
  absl::StatusOr<int> text_exit = (*text_cli)->Wait(absl::Seconds(60));
  ASSERT_OK(text_exit);
  EXPECT_EQ(*text_exit, 0) << (*text_cli)->Stderr();

  const PrintedWatch printed = ReadPrintedWatch((*json_cli)->Stdout());
  EXPECT_EQ(printed.unparsed_lines, 0);
  EXPECT_TRUE(printed.in_order) << "a step repeated or missing";
  EXPECT_EQ(printed.last_step, kRestartSteps);
  EXPECT_EQ(printed.resumed, 1);
  EXPECT_THAT((*json_cli)->Stderr(), HasSubstr("dropped at step"));
  EXPECT_THAT((*text_cli)->Stdout(), HasSubstr("resumed at step"));
  EXPECT_THAT((*text_cli)->Stdout(), HasSubstr("SUCCEEDED"));

  // The job's whole history: every step once, and the same losses as the same spec run
  // without interruption (a second job, same seed), bit for bit.
  absl::StatusOr<v1::Job> done = client->GetJob(id);
  ASSERT_OK(done);
  EXPECT_EQ(done->state(), v1::SUCCEEDED);
  EXPECT_EQ(done->create_time().seconds(), job->create_time().seconds());
  const History resumed = ReadHistory(*client, id, kRestartSteps);
  EXPECT_EQ(resumed.final_state, v1::SUCCEEDED);
  EXPECT_EQ(resumed.resumed_events, 1);
  for (int64_t step = 1; step <= kRestartSteps; ++step) {
    ASSERT_EQ(resumed.counts[static_cast<size_t>(step)], 1) << "step " << step;
  }
  absl::StatusOr<v1::Job> again = client->SubmitJob(RestartSpec(), "restart-2");
  ASSERT_OK(again);
  EXPECT_NE(again->id(), id);
  const History uninterrupted = [&] {
    client::JobWatcherOptions options;
    class Ignore : public client::WatchSink {
      void OnLosses(int64_t, const double*, int) override {}
    } ignore;
    EXPECT_OK(client::WatchUntilDone(*client, again->id(), options, ignore).status());
    return ReadHistory(*client, again->id(), kRestartSteps);
  }();
  EXPECT_EQ(uninterrupted.resumed_events, 0);
  EXPECT_EQ(std::memcmp(resumed.losses.data(), uninterrupted.losses.data(),
                        resumed.losses.size() * sizeof(double)),
            0)
      << "the resumed run left the uninterrupted trajectory";
  // The request id still finds the first job.
  absl::StatusOr<v1::Job> retried = client->SubmitJob(RestartSpec(), "restart-1");
  ASSERT_OK(retried);
  EXPECT_EQ(retried->id(), id);
}

// integrity_check of the SQLite file at `path` ("ok" when sound).
std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return "cannot open";
  }
  std::string result;
  sqlite3_exec(
      db, "PRAGMA integrity_check",
      [](void* out, int, char** values, char**) {
        static_cast<std::string*>(out)->append(values[0] != nullptr ? values[0] : "");
        return 0;
      },
      &result, nullptr);
  sqlite3_close(db);
  return result;
}

TEST(RestartTest, AFullDataDirFailsSubmissionsCleanlyAndKeepsWhatWasStored) {
  const std::string data_dir = DescentdProcess::NewDataDir();
  v1::JobSpec spec = RestartSpec();
  spec.mutable_training()->set_epochs(2);
  std::string stored_id;
  {
    absl::StatusOr<std::unique_ptr<DescentdProcess>> server =
        DescentdProcess::StartWith(data_dir, "127.0.0.1:0");
    ASSERT_OK(server);
    auto client = (*server)->NewClient();
    absl::StatusOr<v1::Job> job = client->SubmitJob(spec, "");
    ASSERT_OK(job);
    stored_id = job->id();
    ASSERT_EQ(ReadHistory(*client, stored_id, 80).final_state, v1::SUCCEEDED);
    const absl::StatusOr<int> exit_code = (*server)->Stop();
    ASSERT_OK(exit_code);
    EXPECT_EQ(*exit_code, 0) << (*server)->process().Stderr();
  }
  {
    // Files may not grow past 4 KiB (ulimit -f counts 512-byte blocks); SIGXFSZ ignored, so
    // a write past it fails with EFBIG as on a full disk instead of killing the server.
    absl::StatusOr<std::unique_ptr<DescentdProcess>> server = DescentdProcess::StartWith(
        data_dir, "127.0.0.1:0", {}, "trap '' XFSZ; ulimit -f 8");
    ASSERT_OK(server);
    auto client = (*server)->NewClient();
    absl::StatusOr<v1::Job> refused = client->SubmitJob(spec, "");
    // EFBIG reaches SQLite as a generic write error (UNAVAILABLE); ENOSPC on a really full
    // disk is RESOURCE_EXHAUSTED. Either way the message names the database.
    EXPECT_THAT(refused.status().code(), ::testing::AnyOf(absl::StatusCode::kResourceExhausted,
                                                          absl::StatusCode::kUnavailable));
    EXPECT_THAT(refused.status().message(), HasSubstr(data_dir));
    // Still serving, with what was stored.
    absl::StatusOr<v1::Job> stored = client->GetJob(stored_id);
    ASSERT_OK(stored);
    EXPECT_EQ(stored->state(), v1::SUCCEEDED);
    absl::StatusOr<v1::ListJobsResponse> list = client->ListJobs(v1::JOB_STATE_UNSPECIFIED, 0, "");
    ASSERT_OK(list);
    EXPECT_EQ(list->jobs_size(), 1);
    const absl::StatusOr<int> exit_code = (*server)->Stop();
    ASSERT_OK(exit_code);
    EXPECT_EQ(*exit_code, 0) << (*server)->process().Stderr();
  }
  EXPECT_EQ(IntegrityCheck(data_dir + "/descent.db"), "ok");
  absl::StatusOr<std::unique_ptr<DescentdProcess>> server =
      DescentdProcess::StartWith(data_dir, "127.0.0.1:0");
  ASSERT_OK(server);
  auto client = (*server)->NewClient();
  const History history = ReadHistory(*client, stored_id, 80);
  EXPECT_EQ(history.final_state, v1::SUCCEEDED);
  for (int64_t step = 1; step <= 80; ++step) {
    EXPECT_EQ(history.counts[static_cast<size_t>(step)], 1) << "step " << step;
  }
  absl::StatusOr<v1::Job> accepted = client->SubmitJob(spec, "");
  EXPECT_OK(accepted.status());
}

TEST(RestartTest, ACancelWhileCheckpointingEveryStepStaysCancelledAfterAKill) {
  const std::string data_dir = DescentdProcess::NewDataDir();
  const std::string listen = absl::StrCat("127.0.0.1:", testing::PickFreePort());
  // A checkpoint after every step: the cancel lands while one is being written or between
  // two, never far from one.
  const std::vector<std::string> flags = {"--workers", "1", "--checkpoint-every-steps", "1"};
  absl::StatusOr<std::unique_ptr<DescentdProcess>> server =
      DescentdProcess::StartWith(data_dir, listen, flags);
  ASSERT_OK(server);
  auto client = (*server)->NewClient();
  absl::StatusOr<v1::Job> job = client->SubmitJob(RestartSpec(), "");
  ASSERT_OK(job);
  const std::string id = job->id();
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline && client->GetJob(id)->progress().step() < 50) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  const testing::ProcessResult cancel = RunCli(listen, {"cancel", id}, absl::Seconds(60));
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  const History before = ReadHistory(*client, id, kRestartSteps);
  ASSERT_EQ(before.final_state, v1::CANCELLED);
  absl::StatusOr<v1::Job> cancelled = client->GetJob(id);
  ASSERT_OK(cancelled);
  const int64_t last_step = cancelled->progress().step();
  ASSERT_GE(last_step, 50);
  ASSERT_LT(last_step, kRestartSteps);

  (*server)->Kill();
  server->reset();
  EXPECT_EQ(IntegrityCheck(data_dir + "/descent.db"), "ok");
  server = DescentdProcess::StartWith(data_dir, listen, flags);
  ASSERT_OK(server);
  client = (*server)->NewClient();
  // Not resurrected: still CANCELLED at the same step, its history every step once.
  absl::StatusOr<v1::Job> after = client->GetJob(id);
  ASSERT_OK(after);
  EXPECT_EQ(after->state(), v1::CANCELLED);
  EXPECT_EQ(after->progress().step(), last_step);
  const History history = ReadHistory(*client, id, kRestartSteps);
  EXPECT_EQ(history.final_state, v1::CANCELLED);
  EXPECT_EQ(history.resumed_events, 0);
  for (int64_t step = 1; step <= kRestartSteps; ++step) {
    ASSERT_EQ(history.counts[static_cast<size_t>(step)], step <= last_step ? 1 : 0)
        << "step " << step;
    ASSERT_EQ(history.losses[static_cast<size_t>(step)], before.losses[static_cast<size_t>(step)])
        << "step " << step;
  }
}

}  // namespace
}  // namespace descent::integration
