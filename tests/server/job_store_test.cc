#include "server/job_store.h"

#include <sqlite3.h>

#include <cstdio>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class JobStoreTest : public ::testing::Test {
 protected:

  std::unique_ptr<JobStore> Open() {
    absl::StatusOr<std::unique_ptr<JobStore>> store = JobStore::Open(path_);
    EXPECT_OK(store);
    return store.ok() ? *std::move(store) : nullptr;
  }

  static JobWrite Row(int64_t sequence, std::string id, v1::JobState state) {
    JobWrite write;
    write.sequence = sequence;
    write.job.set_id(std::move(id));
    write.job.set_state(state);
    return write;
  }
  static StoredEvent StateEvent(int64_t after_step, v1::JobState state) {
    StoredEvent event;
    event.after_step = after_step;
    event.message.mutable_state()->set_state(state);
    return event;
  }
  static StoredEvent EpochEvent(int64_t after_step, int epoch) {
    StoredEvent event;
    event.after_step = after_step;
    event.message.mutable_epoch()->set_epoch(epoch);
    event.message.mutable_epoch()->set_last_step(after_step);
    return event;
  }

  const descent::testing::ScratchDir scratch_{"job_store_test"};
  const std::string dir_ = scratch_.path();
  const std::string path_ = dir_ + "/descent.db";
};

TEST_F(JobStoreTest, JobsRoundTripInSequenceOrderAcrossReopen) {
  {
    std::unique_ptr<JobStore> store = Open();
    ASSERT_NE(store, nullptr);
    v1::JobSpec spec;
    spec.set_name("second");
    JobWrite second = Row(1, "job-000000000002", v1::QUEUED);
    second.events.push_back(StateEvent(0, v1::QUEUED));
    ASSERT_OK(store->Insert(spec, second));
    spec.set_name("first");
    ASSERT_OK(store->Insert(spec, Row(0, "job-000000000001", v1::QUEUED)));

    JobWrite running = Row(0, "job-000000000001", v1::RUNNING);
    running.events.push_back(StateEvent(0, v1::RUNNING));
    running.losses = {3.0, 2.0};
    running.checkpoint = "checkpoint at 2";
    ASSERT_OK(store->Write(running));
    JobWrite more = Row(0, "job-000000000001", v1::SUCCEEDED);
    more.first_step = 3;
    more.losses = {1.5, 0.25};
    more.events = {EpochEvent(4, 1), StateEvent(4, v1::SUCCEEDED)};
    more.clear_checkpoint = true;
    more.model = std::string("model\0bytes", 11);
    ASSERT_OK(store->Write(more));
  }
  std::unique_ptr<JobStore> store = Open();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::vector<StoredJob>> jobs = store->LoadAll();
  ASSERT_OK(jobs);
  ASSERT_EQ(jobs->size(), 2u);
  const StoredJob& first = (*jobs)[0];
  EXPECT_EQ(first.sequence, 0);
  EXPECT_EQ(first.spec.name(), "first");
  EXPECT_EQ(first.job.id(), "job-000000000001");
  EXPECT_EQ(first.job.state(), v1::SUCCEEDED);
  EXPECT_THAT(first.losses, ElementsAre(3.0, 2.0, 1.5, 0.25));
  ASSERT_EQ(first.events.size(), 3u);
  EXPECT_EQ(first.events[0].message.state().state(), v1::RUNNING);
  EXPECT_EQ(first.events[1].message.epoch().epoch(), 1);
  EXPECT_EQ(first.events[1].after_step, 4);
  EXPECT_EQ(first.events[2].message.state().state(), v1::SUCCEEDED);
  EXPECT_FALSE(first.checkpoint.has_value());
  EXPECT_EQ(first.model, std::string("model\0bytes", 11));
  const StoredJob& second = (*jobs)[1];
  EXPECT_EQ(second.spec.name(), "second");
  EXPECT_EQ(second.job.state(), v1::QUEUED);
  EXPECT_TRUE(second.losses.empty());
  ASSERT_EQ(second.events.size(), 1u);
  EXPECT_FALSE(second.model.has_value());
}

TEST_F(JobStoreTest, TruncateAfterDropsLaterLossesAndEpochsOnly) {
  std::unique_ptr<JobStore> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Insert(v1::JobSpec(), Row(0, "job-000000000001", v1::RUNNING)));
  JobWrite checkpointed = Row(0, "job-000000000001", v1::RUNNING);
  checkpointed.losses = {4, 3};
  checkpointed.events = {StateEvent(0, v1::RUNNING), EpochEvent(2, 1)};
  checkpointed.checkpoint = "at 2";
  ASSERT_OK(store->Write(checkpointed));
  JobWrite later = Row(0, "job-000000000001", v1::RUNNING);
  later.first_step = 3;
  later.losses = {2, 1};
  later.events = {EpochEvent(4, 2)};
  ASSERT_OK(store->Write(later));

  ASSERT_OK(store->TruncateAfter(0, 2, 1));
  absl::StatusOr<std::vector<StoredJob>> jobs = store->LoadAll();
  ASSERT_OK(jobs);
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_THAT((*jobs)[0].losses, ElementsAre(4, 3));
  ASSERT_EQ((*jobs)[0].events.size(), 2u);
  EXPECT_EQ((*jobs)[0].events[1].message.epoch().epoch(), 1);
  EXPECT_EQ((*jobs)[0].checkpoint, "at 2");

  // Recording the steps again replaces nothing twice: the history stays one loss a step.
  later.losses = {2.5, 1.5};
  ASSERT_OK(store->Write(later));
  jobs = store->LoadAll();
  ASSERT_OK(jobs);
  EXPECT_THAT((*jobs)[0].losses, ElementsAre(4, 3, 2.5, 1.5));
}

TEST_F(JobStoreTest, DuplicatesAndUnknownJobsAreRejected) {
  std::unique_ptr<JobStore> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Insert(v1::JobSpec(), Row(0, "job-000000000001", v1::QUEUED)));
  EXPECT_THAT(store->Insert(v1::JobSpec(), Row(0, "job-000000000002", v1::QUEUED)),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("stored already")));
  EXPECT_THAT(store->Insert(v1::JobSpec(), Row(1, "job-000000000001", v1::QUEUED)),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("job-000000000001")));
  EXPECT_THAT(store->Write(Row(5, "job-000000000005", v1::RUNNING)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("5")));
}

TEST_F(JobStoreTest, ASecondOpenOfTheSameFileIsRefused) {
  std::unique_ptr<JobStore> store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(JobStore::Open(path_).status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr(path_)));
}

TEST_F(JobStoreTest, AFileThatIsNotADatabaseIsAnError) {
  {
    FILE* file = fopen(path_.c_str(), "w");
    ASSERT_NE(file, nullptr);
    fputs("this is not an SQLite database, just some text long enough to be a header....\n",
          file);
    fclose(file);
  }
  absl::StatusOr<std::unique_ptr<JobStore>> store = JobStore::Open(path_);
  EXPECT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(path_));
}

TEST_F(JobStoreTest, AStoreOfAnotherFormatVersionIsDataLoss) {
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 7", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_THAT(JobStore::Open(path_).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("format version 7")));
}

TEST_F(JobStoreTest, AMissingDirectoryIsUnavailableNamingThePath) {
  EXPECT_THAT(JobStore::Open(dir_ + "/missing/descent.db").status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("missing/descent.db")));
}

}  // namespace
}  // namespace descent::server
