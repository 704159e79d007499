// A job manager on a job store holds only what runs: finished jobs are served from the store
// (their histories a page at a time, after a restart too), a watcher that falls behind a
// running job reads what memory dropped from the store, and retention deletes the oldest
// finished jobs.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "server/jobs/job_manager.h"
#include "tests/server/job_test_helpers.h"
#include "tests/server/store_under_test.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::server::testing::CheckStream;
using ::descent::server::testing::EndlessJob;
using ::descent::server::testing::RecordingListener;
using ::descent::server::testing::StoreKind;
using ::descent::server::testing::StoreUnderTest;
using ::descent::server::testing::StreamSummary;
using ::descent::server::testing::TinyJob;
using ::descent::server::testing::WaitForStep;
using ::descent::server::testing::WaitUntilDone;
using ::descent::server::testing::WatchAll;
using ::descent::testing::StatusIs;
using ::testing::_;
using ::testing::ElementsAre;
using ::testing::SizeIs;

class JobManagerStoreTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override { DESCENT_START_STORE_OR_SKIP(under_test_); }
  // A manager on the store under test (closing the previous one first) with `options` (store
  // and prepare filled in), its stored jobs recovered.
  JobManager& Restart(JobManagerOptions options) {
    manager_.reset();
    store_.reset();
    absl::StatusOr<std::unique_ptr<JobStore>> store = under_test_->Open();
    EXPECT_OK(store);
    store_ = *std::move(store);
    options.blas_threads = 1;
    options.store = store_.get();
    // Stored jobs are TinyJobs: the spec keeps their name and epochs.
    options.prepare = [](const v1::SubmitJobRequest& request) -> absl::StatusOr<PreparedJob> {
      return TinyJob(request.spec().training().epochs(), 64, request.spec().name());
    };
    manager_ = std::make_unique<JobManager>(options, &listener_);
    EXPECT_OK(manager_->Recover());
    return *manager_;
  }
  static JobManagerOptions Options(int workers) {
    JobManagerOptions options;
    options.workers = workers;
    return options;
  }
  // Another replica on the same database (PostgreSQL), training TinyJobs (with one worker
  // unless `other` says otherwise): its store (opened into other_store_) and its manager, its stored jobs recovered.
  std::unique_ptr<JobManager> OtherReplica(const std::string& runner,
                                           JobManagerOptions other = Options(1)) {
    absl::StatusOr<std::unique_ptr<JobStore>> store = under_test_->Open();
    EXPECT_OK(store);
    if (!store.ok()) return nullptr;
    other_store_ = *std::move(store);
    other.blas_threads = 1;
    other.store = other_store_.get();
    other.runner = runner;
    other.prepare = [](const v1::SubmitJobRequest& request) -> absl::StatusOr<PreparedJob> {
      return TinyJob(request.spec().training().epochs(), 64, request.spec().name());
    };
    auto manager = std::make_unique<JobManager>(other, nullptr);
    EXPECT_OK(manager->Recover());
    return manager;
  }

  // Destroyed bottom-up: the manager before its store, both before the store's file or
  // database.
  std::unique_ptr<StoreUnderTest> under_test_;
  RecordingListener listener_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<JobManager> manager_;
  std::unique_ptr<JobStore> other_store_;  // OtherReplica's: its manager goes first
};

INSTANTIATE_TEST_SUITE_P(Stores, JobManagerStoreTest,
                         ::testing::Values(StoreKind::kSqlite, StoreKind::kPostgres),
                         ::descent::server::testing::StoreKindName);

TEST_P(JobManagerStoreTest, AFinishedJobsReplayAfterARestartIsEveryStepOnceAcrossPages) {
  // 50 epochs of 4 steps, written in chunks of 7 steps (the checkpoint interval).
  JobManagerOptions first = Options(1);
  first.checkpoint_every_steps = 7;
  JobManager& before = Restart(first);
  absl::StatusOr<v1::Job> job = before.Submit(TinyJob(50));
  ASSERT_OK(job);
  const StreamSummary expected = CheckStream(WatchAll(before, job->id()), 0, 4096);
  ASSERT_THAT(expected.losses, SizeIs(200));

  // Pages of 16 steps, 5 losses a message: pages cross chunks and messages cross pages.
  JobManagerOptions paged = Options(1);
  paged.max_points_per_message = 5;
  paged.watch_page_steps = 16;
  JobManager& manager = Restart(paged);
  const StreamSummary replay = CheckStream(WatchAll(manager, job->id()), 0, 5);
  EXPECT_EQ(replay.losses, expected.losses);
  EXPECT_EQ(replay.epochs, expected.epochs);
  EXPECT_THAT(replay.states, ElementsAre(v1::QUEUED, v1::RUNNING, v1::SUCCEEDED));

  // From inside a page, at its edges, at an epoch's end, at the last step and beyond it.
  for (int64_t after_step : {1, 13, 15, 16, 17, 40, 199, 200, 500}) {
    SCOPED_TRACE(after_step);
    const std::vector<v1::WatchJobResponse> messages = WatchAll(manager, job->id(), after_step);
    const StreamSummary from = CheckStream(messages, after_step, 5);
    if (after_step > 200) {
      ASSERT_THAT(messages, SizeIs(1));
      EXPECT_EQ(messages[0].state().state(), v1::SUCCEEDED);
      continue;
    }
    EXPECT_EQ(from.losses, std::vector<double>(expected.losses.begin() + after_step,
                                               expected.losses.end()));
    // Epoch summaries from the one that closed after_step (repeated: it may have been lost).
    std::vector<int> epochs;
    for (int epoch = static_cast<int>((after_step + 3) / 4); epoch <= 50; ++epoch) {
      if (epoch >= 1 && epoch * 4 >= after_step) epochs.push_back(epoch);
    }
    EXPECT_EQ(from.epochs, epochs);
    EXPECT_EQ(from.states.back(), v1::SUCCEEDED);
  }
}

TEST_P(JobManagerStoreTest, AWatcherThatFallsBehindARunningJobGetsEveryStep) {
  JobManagerOptions options = Options(1);
  options.checkpoint_every_steps = 10;  // memory holds at most the last 10 steps
  options.max_points_per_message = 4;
  options.watcher_fell_behind_steps = 1000;
  JobManager& manager = Restart(options);
  // A blocker holds the only worker until the slow watcher is attached to the queued job.
  absl::StatusOr<v1::Job> blocker = manager.Submit(EndlessJob("blocker"));
  ASSERT_OK(blocker);
  absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(2000));  // 8000 steps
  ASSERT_OK(job);
  // The slow watcher takes its first losses, then stops reading until the job is past step
  // 4000: everything it has not read by then is only in the store.
  absl::Notification attached;
  absl::Notification far_ahead;
  std::vector<v1::WatchJobResponse> slow;
  std::thread watcher([&] {
    absl::Status status = manager.Watch(job->id(), 0, [&](const v1::WatchJobResponse& message) {
      if (!attached.HasBeenNotified()) attached.Notify();
      if (message.has_losses() && !far_ahead.HasBeenNotified()) far_ahead.WaitForNotification();
      slow.push_back(message);
      return true;
    });
    EXPECT_OK(status);
  });
  attached.WaitForNotification();
  ASSERT_OK(manager.Cancel(blocker->id()));
  // Polled, not watched: the slow watcher is the only one following the running job.
  while (manager.Get(job->id())->progress().step() < 4000) absl::SleepFor(absl::Milliseconds(1));
  far_ahead.Notify();
  watcher.join();
  const StreamSummary got = CheckStream(slow, 0, 4);
  ASSERT_THAT(got.losses, SizeIs(8000));
  EXPECT_EQ(got.epochs.size(), 2000u);
  EXPECT_EQ(got.states.back(), v1::SUCCEEDED);
  EXPECT_EQ(listener_.fell_behind(), 1);
  // A replay of the ended job reads the store from its first step: that is not falling behind.
  EXPECT_EQ(got.losses, CheckStream(WatchAll(manager, job->id()), 0, 4).losses);
  EXPECT_EQ(listener_.fell_behind(), 1);
}

// After a crash a job resumes from its last checkpoint, before steps its watchers saw: a
// watcher reconnecting from its own last step hears of the resumption first, then gets
// every step after its own once.
TEST_P(JobManagerStoreTest, AWatcherAheadOfTheResumedCheckpointHearsOfTheResumptionFirst) {
  std::string id;
  int64_t stopped_at = 0;
  {
    JobManager& manager = Restart(Options(1));
    absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(2000));  // 8000 steps
    ASSERT_OK(job);
    id = job->id();
    WaitForStep(manager, id, 100);
    manager.Shutdown();  // checkpoints where it stopped
    stopped_at = manager.Get(id)->progress().step();
    ASSERT_LT(stopped_at, 8000);
  }
  JobManager& manager = Restart(Options(1));
  const int64_t after_step = stopped_at + 37;  // what a watcher saw before a crash
  const std::vector<v1::WatchJobResponse> messages = WatchAll(manager, id, after_step);
  ASSERT_FALSE(messages.empty());
  ASSERT_TRUE(messages[0].has_resumed());
  EXPECT_EQ(messages[0].resumed().step(), stopped_at);
  const StreamSummary rest = CheckStream(
      std::vector<v1::WatchJobResponse>(messages.begin() + 1, messages.end()), after_step, 4096);
  EXPECT_EQ(static_cast<int64_t>(rest.losses.size()), 8000 - after_step);
  EXPECT_TRUE(rest.resumed_at.empty());
}

TEST_P(JobManagerStoreTest, OnceAJobEndedTheStoreIsWhereItIsServedFrom) {
  JobManager& manager = Restart(Options(1));
  absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(5));
  ASSERT_OK(job);
  ASSERT_EQ(WaitUntilDone(manager, job->id()).state(), v1::SUCCEEDED);
  // The worker lets go of the record right after the terminal event; Get answers the same
  // before and after.
  const v1::Job done = *manager.Get(job->id());
  ASSERT_OK(manager.Model(job->id()).status());
  const std::vector<v1::WatchJobResponse> stream = WatchAll(manager, job->id());
  // Deleting the job's rows behind the manager's back: a finished job is not in memory, so
  // every call now finds nothing, once the worker has dropped the record.
  absl::StatusOr<int64_t> sequence = store_->FindSequence(job->id());
  ASSERT_OK(sequence);
  // A new job that the same worker runs to its end proves the first one was settled.
  absl::StatusOr<v1::Job> second = manager.Submit(TinyJob(1, 64, "second"));
  ASSERT_OK(second);
  WaitUntilDone(manager, second->id());
  ASSERT_OK(store_->Delete({*sequence}));
  EXPECT_THAT(manager.Get(job->id()).status(), StatusIs(absl::StatusCode::kNotFound, _));
  EXPECT_THAT(manager.Model(job->id()).status(), StatusIs(absl::StatusCode::kNotFound, _));
  EXPECT_THAT(manager.Watch(job->id(), 0, [](const v1::WatchJobResponse&) { return true; }),
              StatusIs(absl::StatusCode::kNotFound, _));
  EXPECT_EQ(done.state(), v1::SUCCEEDED);
  EXPECT_EQ(stream.back().state().state(), v1::SUCCEEDED);
}

// Four jobs cancelled in the order 0, 1, 3, 4 (their end times) and two left queued.
std::vector<std::string> CancelSome(JobManager& manager) {
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(3, 64, absl::StrCat("job", i)));
    EXPECT_OK(job);
    ids.push_back(job.ok() ? job->id() : "");
  }
  for (int i : {0, 1, 3, 4}) EXPECT_OK(manager.Cancel(ids[static_cast<size_t>(i)]).status());
  return ids;
}

std::vector<std::string> ListedIds(const JobManager& manager) {
  absl::StatusOr<JobPage> page = manager.List(v1::JOB_STATE_UNSPECIFIED, 0, "");
  EXPECT_OK(page);
  std::vector<std::string> ids;
  if (page.ok()) {
    for (const v1::Job& job : page->jobs) ids.push_back(job.id());
  }
  return ids;
}

TEST_P(JobManagerStoreTest, RetentionByCountDeletesExactlyTheOldestFinishedJobs) {
  const std::vector<std::string> ids = CancelSome(Restart(Options(0)));
  JobManagerOptions keep_two = Options(0);
  keep_two.retain_finished_jobs = 2;
  JobManager& manager = Restart(keep_two);
  // At start: of the four finished, the two that ended first go; queued ones always stay.
  EXPECT_THAT(ListedIds(manager), ElementsAre(ids[5], ids[4], ids[3], ids[2]));
  for (int i : {0, 1}) {
    EXPECT_THAT(manager.Get(ids[static_cast<size_t>(i)]).status(),
                StatusIs(absl::StatusCode::kNotFound, _));
    EXPECT_THAT(store_->FindSequence(ids[static_cast<size_t>(i)]).status(),
                StatusIs(absl::StatusCode::kNotFound, _));
    EXPECT_THAT(store_->ReadHistory(i, 0, 100)->events, ::testing::IsEmpty());
    EXPECT_THAT(store_->ReadHistory(i, 0, 100)->losses, ::testing::IsEmpty());
  }
  // While running: a third finished job pushes out the oldest remaining one.
  ASSERT_OK(manager.Cancel(ids[2]).status());
  EXPECT_THAT(ListedIds(manager), ElementsAre(ids[5], ids[4], ids[2]));
  EXPECT_THAT(store_->FindSequence(ids[3]).status(), StatusIs(absl::StatusCode::kNotFound, _));
  EXPECT_EQ(manager.Get(ids[5])->state(), v1::QUEUED);
  // Sequences go on after the deleted ones: a new job lists first.
  absl::StatusOr<v1::Job> next = manager.Submit(TinyJob(1, 64, "next"));
  ASSERT_OK(next);
  EXPECT_EQ(ListedIds(manager).front(), next->id());
}

TEST_P(JobManagerStoreTest, RetentionByAgeDeletesFinishedJobsOnlyAndKeepsQueuedOnes) {
  const std::vector<std::string> ids = CancelSome(Restart(Options(0)));
  JobManagerOptions young = Options(0);
  young.retain_finished_for = absl::Nanoseconds(1);  // every finished job is too old
  JobManager& manager = Restart(young);
  EXPECT_THAT(ListedIds(manager), ElementsAre(ids[5], ids[2]));
  ASSERT_OK(manager.Cancel(ids[5]).status());
  EXPECT_THAT(ListedIds(manager), ElementsAre(ids[2]));
  EXPECT_THAT(store_->FindSequence(ids[5]).status(), StatusIs(absl::StatusCode::kNotFound, _));
}

// Replicas on one PostgreSQL database: a replica lists the jobs another one was given after
// it started, in their current states, with pages and the state filter, from the database.
TEST_P(JobManagerStoreTest, AReplicaListsTheJobsOfTheOthersAsTheDatabaseHoldsThem) {
  if (GetParam() != StoreKind::kPostgres) GTEST_SKIP() << "a SQLite store has one process";
  JobManager& observer = Restart(Options(0));  // trains nothing, serves the database
  std::vector<std::string> ids;
  {
    std::unique_ptr<JobManager> trainer = OtherReplica("replica-b:50051");
    ASSERT_NE(trainer, nullptr);
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<v1::Job> job = trainer->Submit(TinyJob(2));
      ASSERT_OK(job);
      ids.push_back(job->id());
    }
    for (const std::string& id : ids) {
      ASSERT_EQ(WaitUntilDone(*trainer, id).state(), v1::SUCCEEDED);
    }
  }
  absl::StatusOr<JobPage> all = observer.List(v1::JOB_STATE_UNSPECIFIED, 0, "");
  ASSERT_OK(all);
  ASSERT_THAT(all->jobs, SizeIs(3));
  EXPECT_EQ(all->jobs[0].id(), ids[2]);  // newest first
  EXPECT_EQ(all->jobs[2].id(), ids[0]);
  for (const v1::Job& job : all->jobs) {
    EXPECT_EQ(job.state(), v1::SUCCEEDED);
    EXPECT_EQ(job.runner(), "replica-b:50051");
  }
  EXPECT_TRUE(all->next_page_token.empty());
  absl::StatusOr<JobPage> first = observer.List(v1::SUCCEEDED, 2, "");
  ASSERT_OK(first);
  ASSERT_THAT(first->jobs, SizeIs(2));
  absl::StatusOr<JobPage> rest = observer.List(v1::SUCCEEDED, 2, first->next_page_token);
  ASSERT_OK(rest);
  ASSERT_THAT(rest->jobs, SizeIs(1));
  EXPECT_EQ(rest->jobs[0].id(), ids[0]);
  EXPECT_TRUE(rest->next_page_token.empty());
  EXPECT_THAT(observer.List(v1::RUNNING, 0, "")->jobs, SizeIs(0));
  EXPECT_EQ(observer.Get(ids[1])->state(), v1::SUCCEEDED);
}

// A replica that does not train a job streams it from the database as the trainer writes
// it (woken by the database's notifications), every step once and in order to the terminal
// event, and its cancel reaches the trainer, which ends the job CANCELLED.
TEST_P(JobManagerStoreTest, AnotherReplicaWatchesAndCancelsAJobThroughTheDatabase) {
  if (GetParam() != StoreKind::kPostgres) GTEST_SKIP() << "a SQLite store has one process";
  JobManager& observer = Restart(Options(0));
  std::unique_ptr<JobManager> trainer = OtherReplica("replica-b:50051");
  ASSERT_NE(trainer, nullptr);
  absl::StatusOr<v1::Job> job = trainer->Submit(EndlessJob());
  ASSERT_OK(job);
  WaitForStep(*trainer, job->id(), 20);
  std::vector<v1::WatchJobResponse> followed;
  std::thread watcher([&] { followed = WatchAll(observer, job->id()); });
  WaitForStep(observer, job->id(), 200);  // steps the observer read from the database

  absl::StatusOr<v1::Job> cancelled = observer.Cancel(job->id());
  ASSERT_OK(cancelled);
  EXPECT_EQ(cancelled->id(), job->id());
  EXPECT_EQ(cancelled->runner(), "replica-b:50051");
  EXPECT_EQ(WaitUntilDone(*trainer, job->id()).state(), v1::CANCELLED);
  watcher.join();
  const StreamSummary seen =
      CheckStream(followed, 0, JobManagerOptions().max_points_per_message);
  EXPECT_THAT(seen.states, ::testing::Contains(v1::CANCELLED));
  EXPECT_GE(seen.losses.size(), 200u);
  // What the observer streamed is the trainer's history, bit for bit.
  const StreamSummary trained =
      CheckStream(WatchAll(*trainer, job->id()), 0, JobManagerOptions().max_points_per_message);
  EXPECT_EQ(seen.losses, trained.losses);
  EXPECT_EQ(seen.epochs, trained.epochs);
  EXPECT_EQ(observer.Get(job->id())->state(), v1::CANCELLED);
  EXPECT_THAT(observer.Cancel(job->id()).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, _));
}

// An idle worker hears of a job submitted to another replica from the database at once: with
// its polling all but off, it still claims and trains the job; the replica it was submitted
// to, which has no worker, lets the job go and streams it from the database to its end.
TEST_P(JobManagerStoreTest, AJobSubmittedToOneReplicaWakesTheIdleWorkersOfAnother) {
  if (GetParam() != StoreKind::kPostgres) GTEST_SKIP() << "a SQLite store has one process";
  JobManager& submitter = Restart(Options(0));
  JobManagerOptions idle = Options(1);
  idle.lease_timeout = absl::Hours(3);
  idle.claim_poll_interval = absl::Hours(1);
  std::unique_ptr<JobManager> trainer = OtherReplica("replica-b:50051", idle);
  ASSERT_NE(trainer, nullptr);
  // A job of its own first: once it ended, the worker has looked for more and sleeps.
  absl::StatusOr<v1::Job> own = trainer->Submit(TinyJob(1));
  ASSERT_OK(own);
  ASSERT_EQ(WaitUntilDone(*trainer, own->id()).state(), v1::SUCCEEDED);
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<v1::Job> job = submitter.Submit(TinyJob(1));
    ASSERT_OK(job);
    // Watched on the replica it was submitted to, which trains nothing: the stream follows the
    // job in the database to its end (a minute at most: the trainer's poll would take an hour).
    std::vector<v1::WatchJobResponse> seen;
    const absl::Time deadline = absl::Now() + absl::Minutes(1);
    ASSERT_OK(submitter.Watch(job->id(), 0, [&](const v1::WatchJobResponse& message) {
      seen.push_back(message);
      return absl::Now() < deadline;
    }));
    ASSERT_FALSE(seen.empty());
    ASSERT_TRUE(seen.back().has_state());
    EXPECT_EQ(seen.back().state().job().state(), v1::SUCCEEDED);
    EXPECT_EQ(seen.back().state().job().runner(), "replica-b:50051");
    const StreamSummary watched =
        CheckStream(seen, 0, JobManagerOptions().max_points_per_message);
    EXPECT_EQ(static_cast<int64_t>(watched.losses.size()),
              seen.back().state().job().progress().step());
  }
}

// Replicas on one PostgreSQL database share request ids (a request repeated to another
// replica is the same job), the --max-queued-jobs limit (every replica's queued jobs count)
// and the counts of their unfinished jobs, which any replica reports to its listener.
TEST_P(JobManagerStoreTest, ReplicasShareRequestIdsTheQueueLimitAndTheJobCounts) {
  if (GetParam() != StoreKind::kPostgres) GTEST_SKIP() << "a SQLite store has one process";
  JobManagerOptions limited = Options(0);
  limited.max_queued_jobs = 2;
  JobManager& observer = Restart(limited);
  std::unique_ptr<JobManager> trainer = OtherReplica("replica-b:50051");  // one worker
  ASSERT_NE(trainer, nullptr);
  const auto with_request = [](PreparedJob job, const std::string& request_id) {
    job.request_id = request_id;
    return job;
  };
  absl::StatusOr<v1::Job> endless = trainer->Submit(with_request(EndlessJob(), "request-1"));
  ASSERT_OK(endless);
  absl::StatusOr<v1::Job> repeated = observer.Submit(with_request(EndlessJob(), "request-1"));
  ASSERT_OK(repeated);
  EXPECT_EQ(repeated->id(), endless->id());
  EXPECT_THAT(observer.Submit(with_request(TinyJob(3), "request-1")).status(),
              StatusIs(absl::StatusCode::kAlreadyExists, ::testing::HasSubstr(endless->id())));

  // The trainer's one worker trains the endless job: two more wait in the cluster's queue,
  // which is full then for every replica.
  WaitForStep(*trainer, endless->id(), 1);
  for (int i = 0; i < 2; ++i) ASSERT_OK(trainer->Submit(TinyJob(1)).status());
  EXPECT_THAT(observer.Submit(TinyJob(1)).status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       ::testing::HasSubstr("across the replicas")));

  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline &&
         !(listener_.cluster_jobs(v1::RUNNING, "replica-b:50051") == 1 &&
           listener_.cluster_jobs(v1::QUEUED, "") == 2)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(listener_.cluster_jobs(v1::RUNNING, "replica-b:50051"), 1);
  EXPECT_EQ(listener_.cluster_jobs(v1::QUEUED, ""), 2);
  ASSERT_OK(observer.Cancel(endless->id()).status());
}

}  // namespace
}  // namespace descent::server
