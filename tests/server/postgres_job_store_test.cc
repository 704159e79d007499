// What only the PostgreSQL job store does (the shared behaviour is job_store_test.cc): one
// database shared by several stores, a server that goes away and comes back, a URL that
// leads nowhere.
#include "server/store/postgres/postgres_job_store.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
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

TEST(PostgresJobStoreTest, AfterTheServerRestartsTheNextCallsReconnect) {
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

}  // namespace
}  // namespace descent::server
