// What only the PostgreSQL job store does (the shared behaviour is job_store_test.cc): one
// database shared by several stores, a server that goes away and comes back, a URL that
// leads nowhere.
#include "server/store/postgres/postgres_job_store.h"

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/store_under_test.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::server::testing::PostgresUnderTest;
using ::descent::testing::PostgresServer;
using ::descent::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

JobWrite Row(int64_t sequence, v1::JobState state) {
  JobWrite write;
  write.sequence = sequence;
  write.job.set_id(absl::StrCat("job-", sequence));
  write.job.set_state(state);
  return write;
}

TEST(PostgresJobStoreTest, StoresOpenedTogetherOnOneDatabaseCreateTheSchemaOnceAndShareJobs) {
  DESCENT_POSTGRES_DATABASE_OR_SKIP(url);
  // Replicas starting at once: each open takes the schema lock, one creates the tables.
  std::vector<absl::StatusOr<std::unique_ptr<PostgresJobStore>>> stores(3);
  {
    std::vector<std::thread> openers;
    for (auto& store : stores) {
      openers.emplace_back([&store, &url] { store = PostgresJobStore::Open(url); });
    }
    for (std::thread& opener : openers) opener.join();
  }
  for (const auto& store : stores) ASSERT_OK(store);
  PostgresUnderTest database(url);
  EXPECT_EQ(database.QueryInt("SELECT COUNT(*) FROM schema_version"), 1);
  EXPECT_EQ(database.QueryInt("SELECT version FROM schema_version"), kPostgresSchemaVersion);

  JobWrite first = Row(0, v1::QUEUED);
  ASSERT_OK((*stores[0])->Insert(v1::JobSpec(), first));
  JobWrite running = Row(0, v1::RUNNING);
  running.losses = {0.5, 0.25};
  ASSERT_OK((*stores[1])->Write(running));
  absl::StatusOr<StoredJob> seen = (*stores[2])->ReadJob(0);
  ASSERT_OK(seen);
  EXPECT_EQ(seen->job.state(), v1::RUNNING);
  EXPECT_EQ(seen->stored_steps, 2);
  // The same id from another store is one job too many.
  EXPECT_THAT((*stores[2])->Insert(v1::JobSpec(), first),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("job-0")));
}

TEST(PostgresJobStoreTest, AServerThatDoesNotAnswerIsUnavailableNamingItWithoutThePassword) {
  const int port = descent::testing::PickFreePort();
  const absl::Status refused =
      PostgresJobStore::Open(absl::StrCat("postgresql://descent:s3cret@127.0.0.1:", port, "/jobs"))
          .status();
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kUnavailable,
                                HasSubstr(absl::StrCat("postgresql://descent@127.0.0.1:", port,
                                                       "/jobs"))));
  EXPECT_THAT(refused.message(), Not(HasSubstr("s3cret")));
}

TEST(PostgresJobStoreTest, WithoutARetryWindowTheCallThatFindsTheServerRestartedFailsAndTheNextReconnects) {
  DESCENT_POSTGRES_DATABASE_OR_SKIP(url);
  absl::StatusOr<PostgresServer*> server = descent::testing::SharedPostgres();
  ASSERT_OK(server);
  absl::StatusOr<std::unique_ptr<PostgresJobStore>> store = PostgresJobStore::Open(url);
  ASSERT_OK(store);
  ASSERT_OK((*store)->Insert(v1::JobSpec(), Row(0, v1::QUEUED)));

  ASSERT_OK((*server)->Restart());
  // The call that finds the connection cut fails (what it wrote is rolled back with it); the
  // next reconnects.
  JobWrite running = Row(0, v1::RUNNING);
  running.losses = {1.0};
  const absl::Status first = (*store)->Write(running);
  if (!first.ok()) {
    EXPECT_THAT(first, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("job store")));
    ASSERT_OK((*store)->Write(running));
  }
  absl::StatusOr<StoredJob> job = (*store)->ReadJob(0);
  ASSERT_OK(job);
  EXPECT_EQ(job->job.state(), v1::RUNNING);
  EXPECT_EQ(job->stored_steps, 1);
}

// A store on a fresh database of the shared server that retries through outages for
// `retry_for`, holding one claimed job with one stored step (sequence 0, lease token_).
class PostgresOutageTest : public ::testing::Test {
 protected:
  void Open(absl::Duration retry_for) {
    DESCENT_POSTGRES_DATABASE_OR_SKIP(url);
    absl::StatusOr<PostgresServer*> server = descent::testing::SharedPostgres();
    ASSERT_OK(server);
    server_ = *server;
    absl::StatusOr<std::unique_ptr<PostgresJobStore>> store = PostgresJobStore::Open(url, retry_for);
    ASSERT_OK(store);
    store_ = *std::move(store);
    ASSERT_OK(store_->Insert(v1::JobSpec(), Row(0, v1::QUEUED)));
    absl::StatusOr<std::optional<Lease>> lease =
        store_->Claim(LeaseHolder{"a:1", 1, absl::Seconds(30)}, std::nullopt);
    ASSERT_OK(lease);
    ASSERT_TRUE(lease->has_value());
    token_ = (*lease)->token;
    JobWrite started = Row(0, v1::RUNNING);
    started.lease_token = token_;
    started.losses = {0.5};
    ASSERT_OK(store_->Write(started));
  }

  // The write a training thread makes at a checkpoint: steps 2 and 3, an epoch's event.
  JobWrite CheckpointWrite() const {
    JobWrite write = Row(0, v1::RUNNING);
    write.lease_token = token_;
    write.first_step = 2;
    write.losses = {0.25, 0.125};
    v1::WatchJobResponse epoch;
    epoch.mutable_epoch()->set_epoch(1);
    write.events.push_back(StoredEvent{3, epoch});
    write.checkpoint.emplace().set_step(3);
    return write;
  }

  PostgresServer* server_ = nullptr;
  std::unique_ptr<PostgresJobStore> store_;
  int64_t token_ = 0;
};

TEST_F(PostgresOutageTest, CallsMadeWhileTheServerIsDownWaitForItAndLandOnce) {
  ASSERT_NO_FATAL_FAILURE(Open(absl::Seconds(60)));
  if (IsSkipped()) return;
  server_->Stop();
  // The calls start while the server is down and retry until it is back. (Resume runs on this
  // thread: the server gets SIGQUIT when the thread that started it ends.)
  absl::Status written, renewed;
  absl::Notification calling;
  std::thread caller([&] {
    calling.Notify();
    written = store_->Write(CheckpointWrite());
    renewed = store_->RenewLease(0, token_, absl::Seconds(30)).status();
  });
  calling.WaitForNotification();
  absl::SleepFor(absl::Milliseconds(300));  // the outage's length, not a synchronisation
  const absl::Status resumed = server_->Resume();
  caller.join();
  ASSERT_OK(resumed);
  EXPECT_OK(written);
  EXPECT_OK(renewed);
  // Every step and the event once, the checkpoint with them.
  absl::StatusOr<StoredJob> job = store_->ReadJob(0);
  ASSERT_OK(job);
  EXPECT_EQ(job->stored_steps, 3);
  ASSERT_TRUE(job->checkpoint.has_value());
  EXPECT_EQ(job->checkpoint->step(), 3);
  absl::StatusOr<StoredHistory> history = store_->ReadHistory(0, 0, 100);
  ASSERT_OK(history);
  EXPECT_THAT(history->losses, ::testing::ElementsAre(0.5, 0.25, 0.125));
  EXPECT_EQ(history->events.size(), 1u);
}

TEST_F(PostgresOutageTest, AServerAwayLongerThanTheLeaseFailsFencedWritesAsLeaseLost) {
  ASSERT_NO_FATAL_FAILURE(Open(absl::Milliseconds(300)));
  if (IsSkipped()) return;
  server_->Stop();
  // The lease has expired by the database's clock once it is back: this replica stops the job.
  EXPECT_THAT(store_->Write(CheckpointWrite()),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("unreachable for the whole lease")));
  EXPECT_TRUE(IsLeaseLost(store_->RenewLease(0, token_, absl::Seconds(30)).status()));
  // What no lease fences is plainly unavailable, at once now that the window has passed.
  EXPECT_THAT(store_->ReadJob(0).status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("job store")));
  ASSERT_OK(server_->Resume());
  // Back: the job is as the last write that got through left it.
  absl::StatusOr<StoredJob> job = store_->ReadJob(0);
  ASSERT_OK(job);
  EXPECT_EQ(job->stored_steps, 1);
  EXPECT_FALSE(job->checkpoint.has_value());
}

// Leases (job_store.h): two replicas' stores on one database, claiming the same jobs.
class PostgresLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DESCENT_POSTGRES_DATABASE_OR_SKIP(url);
    for (auto* store : {&a_, &b_}) {
      absl::StatusOr<std::unique_ptr<PostgresJobStore>> opened = PostgresJobStore::Open(url);
      ASSERT_OK(opened);
      *store = *std::move(opened);
    }
  }
  static LeaseHolder Holder(const std::string& runner, int64_t instance,
                            absl::Duration timeout = absl::Seconds(30)) {
    return LeaseHolder{runner, instance, timeout};
  }
  // Claims until a lease comes (an expiring one takes a little while): bounded, 20 s.
  static std::optional<Lease> ClaimWhenFree(JobStore& store, const LeaseHolder& holder) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      absl::StatusOr<std::optional<Lease>> lease = store.Claim(holder, std::nullopt);
      EXPECT_OK(lease);
      if (!lease.ok() || lease->has_value()) return lease.value_or(std::nullopt);
      absl::SleepFor(absl::Milliseconds(5));
    }
    return std::nullopt;
  }

  std::unique_ptr<PostgresJobStore> a_;
  std::unique_ptr<PostgresJobStore> b_;
};

TEST_F(PostgresLeaseTest, EachQueuedJobIsClaimedByOneReplicaInOrder) {
  for (int64_t sequence : {0, 1}) ASSERT_OK(a_->Insert(v1::JobSpec(), Row(sequence, v1::QUEUED)));
  absl::StatusOr<std::optional<Lease>> first = a_->Claim(Holder("a:1", 1), std::nullopt);
  absl::StatusOr<std::optional<Lease>> second = b_->Claim(Holder("b:1", 2), std::nullopt);
  absl::StatusOr<std::optional<Lease>> none = b_->Claim(Holder("b:1", 2), std::nullopt);
  ASSERT_OK(first);
  ASSERT_OK(second);
  ASSERT_OK(none);
  ASSERT_TRUE(first->has_value() && second->has_value());
  EXPECT_EQ((*first)->sequence, 0);
  EXPECT_EQ((*first)->state, v1::QUEUED);
  EXPECT_EQ((*second)->sequence, 1);
  EXPECT_FALSE(none->has_value());
  // The claim names the runner before the runner writes anything.
  EXPECT_EQ(b_->ReadJob(0)->job.runner(), "a:1");
  // Asked for one job by sequence: only that one, and only while it is free.
  EXPECT_FALSE(b_->Claim(Holder("b:1", 2), int64_t{0})->has_value());
}

TEST_F(PostgresLeaseTest, AfterTheLeaseExpiresAnotherReplicaClaimsItAndTheFirstCanNoLongerWrite) {
  ASSERT_OK(a_->Insert(v1::JobSpec(), Row(0, v1::QUEUED)));
  absl::StatusOr<std::optional<Lease>> lease =
      a_->Claim(Holder("a:1", 1, absl::Milliseconds(200)), std::nullopt);
  ASSERT_OK(lease);
  ASSERT_TRUE(lease->has_value());
  JobWrite started = Row(0, v1::RUNNING);
  started.lease_token = (*lease)->token;
  started.losses = {0.5};
  ASSERT_OK(a_->Write(started));

  const std::optional<Lease> taken = ClaimWhenFree(*b_, Holder("b:1", 2));
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->state, v1::RUNNING);
  EXPECT_GT(taken->token, (*lease)->token);
  // Every write, renewal and truncation with the old token is refused and changes nothing.
  JobWrite late = Row(0, v1::SUCCEEDED);
  late.lease_token = (*lease)->token;
  late.losses = {9.0, 9.0};
  EXPECT_TRUE(IsLeaseLost(a_->Write(late)));
  EXPECT_TRUE(IsLeaseLost(a_->RenewLease(0, (*lease)->token, absl::Seconds(30)).status()));
  EXPECT_TRUE(IsLeaseLost(a_->TruncateAfter(0, 0, 0, (*lease)->token)));
  absl::StatusOr<StoredJob> stored = b_->ReadJob(0);
  ASSERT_OK(stored);
  EXPECT_EQ(stored->job.state(), v1::RUNNING);
  EXPECT_EQ(stored->stored_steps, 1);
  EXPECT_EQ(stored->job.runner(), "b:1");
  // The new holder writes, renews and truncates.
  JobWrite resumed = Row(0, v1::RUNNING);
  resumed.lease_token = taken->token;
  EXPECT_OK(b_->RenewLease(0, taken->token, absl::Seconds(30)));
  EXPECT_OK(b_->TruncateAfter(0, 0, 0, taken->token));
  EXPECT_OK(b_->Write(resumed));
  EXPECT_EQ(b_->Write(Row(7, v1::RUNNING)).code(), absl::StatusCode::kNotFound);
}

TEST_F(PostgresLeaseTest, ARenewedLeaseIsNotClaimableAndAReleasedOneIsAtOnce) {
  ASSERT_OK(a_->Insert(v1::JobSpec(), Row(0, v1::QUEUED)));
  absl::StatusOr<std::optional<Lease>> lease = a_->Claim(Holder("a:1", 1), std::nullopt);
  ASSERT_OK(lease);
  ASSERT_TRUE(lease->has_value());
  ASSERT_OK(a_->RenewLease(0, (*lease)->token, absl::Seconds(30)));
  EXPECT_FALSE(b_->Claim(Holder("b:1", 2), std::nullopt)->has_value());
  ASSERT_OK(a_->ReleaseLease(0, (*lease)->token));
  absl::StatusOr<std::optional<Lease>> next = b_->Claim(Holder("b:1", 2), std::nullopt);
  ASSERT_OK(next);
  ASSERT_TRUE(next->has_value());
  EXPECT_GT((*next)->token, (*lease)->token);
}

TEST_F(PostgresLeaseTest, AReplicaRestartedAtItsAddressReclaimsItsJobsAtOnce) {
  ASSERT_OK(a_->Insert(v1::JobSpec(), Row(0, v1::QUEUED)));
  ASSERT_TRUE(a_->Claim(Holder("a:1", 1), std::nullopt)->has_value());
  // Another replica waits for the lease; the same process does not claim its own job again;
  // a new process at the same address (the old one is gone) takes it over.
  EXPECT_FALSE(b_->Claim(Holder("b:1", 2), std::nullopt)->has_value());
  EXPECT_FALSE(a_->Claim(Holder("a:1", 1), std::nullopt)->has_value());
  absl::StatusOr<std::optional<Lease>> again = b_->Claim(Holder("a:1", 3), std::nullopt);
  ASSERT_OK(again);
  EXPECT_TRUE(again->has_value());
}

// A cancel on the replica whose worker claimed a job but has not started it takes the job
// over from that claim: asked for by sequence, a process may claim its own job again, and the
// worker's older token writes nothing more.
TEST_F(PostgresLeaseTest, AProcessTakesItsOwnJobOverOnlyWhenItAsksForItBySequence) {
  ASSERT_OK(a_->Insert(v1::JobSpec(), Row(0, v1::QUEUED)));
  absl::StatusOr<std::optional<Lease>> worker = a_->Claim(Holder("a:1", 1), std::nullopt);
  ASSERT_OK(worker);
  ASSERT_TRUE(worker->has_value());
  EXPECT_FALSE(b_->Claim(Holder("b:1", 2), int64_t{0})->has_value());  // another replica: no
  absl::StatusOr<std::optional<Lease>> cancel = a_->Claim(Holder("a:1", 1), int64_t{0});
  ASSERT_OK(cancel);
  ASSERT_TRUE(cancel->has_value());
  EXPECT_GT((*cancel)->token, (*worker)->token);
  JobWrite late = Row(0, v1::RUNNING);
  late.lease_token = (*worker)->token;
  EXPECT_TRUE(IsLeaseLost(a_->Write(late)));
  JobWrite cancelled = Row(0, v1::CANCELLED);
  cancelled.lease_token = (*cancel)->token;
  EXPECT_OK(a_->Write(cancelled));
  EXPECT_EQ(b_->ReadJob(0)->job.state(), v1::CANCELLED);
}

// A cancel asked on a replica that does not hold the job reaches the holder at once (the
// store's notification), again with each renewal, and whoever claims the job later.
TEST_F(PostgresLeaseTest, ACancelAskedOnAnyReplicaReachesTheHolderAndLaterClaims) {
  ASSERT_OK(a_->Insert(v1::JobSpec(), Row(0, v1::QUEUED)));
  absl::StatusOr<std::optional<Lease>> lease =
      a_->Claim(Holder("a:1", 1, absl::Milliseconds(500)), std::nullopt);
  ASSERT_OK(lease);
  ASSERT_TRUE(lease->has_value());
  EXPECT_FALSE((*lease)->cancel_requested);
  absl::StatusOr<bool> renewed = a_->RenewLease(0, (*lease)->token, absl::Milliseconds(500));
  ASSERT_OK(renewed);
  EXPECT_FALSE(*renewed);
  absl::Notification heard;
  a_->SetCancelHandler([&](int64_t sequence) {
    if (sequence == 0 && !heard.HasBeenNotified()) heard.Notify();
  });

  absl::StatusOr<v1::JobState> requested = b_->RequestCancel(0);
  ASSERT_OK(requested);
  EXPECT_EQ(*requested, v1::QUEUED);
  EXPECT_TRUE(heard.WaitForNotificationWithTimeout(absl::Seconds(20)));
  a_->SetCancelHandler(nullptr);
  renewed = a_->RenewLease(0, (*lease)->token, absl::Milliseconds(1));
  ASSERT_OK(renewed);
  EXPECT_TRUE(*renewed);
  const std::optional<Lease> taken = ClaimWhenFree(*b_, Holder("b:1", 2));
  ASSERT_TRUE(taken.has_value());
  EXPECT_TRUE(taken->cancel_requested);

  // A job that ended is not touched; one that is not stored is NOT_FOUND.
  JobWrite cancelled = Row(0, v1::CANCELLED);
  cancelled.lease_token = taken->token;
  ASSERT_OK(b_->Write(cancelled));
  requested = a_->RequestCancel(0);
  ASSERT_OK(requested);
  EXPECT_EQ(*requested, v1::CANCELLED);
  EXPECT_EQ(a_->RequestCancel(7).status().code(), absl::StatusCode::kNotFound);
}

// A replica following a job another one trains is woken by each write of that job.
TEST_F(PostgresLeaseTest, AWriteWakesTheReplicasFollowingTheJob) {
  ASSERT_OK(a_->Insert(v1::JobSpec(), Row(0, v1::QUEUED)));
  absl::StatusOr<std::optional<Lease>> lease = a_->Claim(Holder("a:1", 1), std::nullopt);
  ASSERT_OK(lease);
  ASSERT_TRUE(lease->has_value());
  for (int write = 1; write <= 3; ++write) {
    const uint64_t mark = b_->ChangeMark();
    JobWrite progress = Row(0, v1::RUNNING);
    progress.lease_token = (*lease)->token;
    progress.first_step = write;
    progress.losses = {0.5};
    ASSERT_OK(a_->Write(progress));
    EXPECT_TRUE(b_->AwaitChange(0, mark, absl::Now() + absl::Seconds(20)));
    absl::StatusOr<StoredHistory> history = b_->ReadHistory(0, 0, 10);
    ASSERT_OK(history);
    EXPECT_EQ(history->losses.size(), static_cast<size_t>(write));
  }
}

// Every replica's idle workers hear of a job that became claimable: submitted anywhere, or
// its lease given up.
TEST_F(PostgresLeaseTest, ASubmissionAndAReleasedLeaseAnnounceAClaimableJob) {
  absl::Mutex mu;
  int heard = 0;
  b_->SetClaimableHandler([&] {
    absl::MutexLock lock(&mu);
    ++heard;
  });
  const auto heard_at_least = [&](int count) {
    absl::MutexLock lock(&mu);
    const auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return heard >= count; };
    return mu.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(20));
  };
  ASSERT_OK(a_->Insert(v1::JobSpec(), Row(0, v1::QUEUED)));
  EXPECT_TRUE(heard_at_least(1));
  absl::StatusOr<std::optional<Lease>> lease = a_->Claim(Holder("a:1", 1), std::nullopt);
  ASSERT_OK(lease);
  ASSERT_TRUE(lease->has_value());
  ASSERT_OK(a_->ReleaseLease(0, (*lease)->token));
  EXPECT_TRUE(heard_at_least(2));
  b_->SetClaimableHandler(nullptr);
}

TEST_F(PostgresLeaseTest, SequencesAreHandedOutOnceAcrossReplicas) {
  absl::StatusOr<int64_t> first = a_->NextSequence();
  absl::StatusOr<int64_t> second = b_->NextSequence();
  ASSERT_OK(first);
  ASSERT_OK(second);
  EXPECT_GT(*second, *first);
}

}  // namespace
}  // namespace descent::server
