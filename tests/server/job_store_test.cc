// The job store's behaviour, the same for both implementations (a test per implementation:
// .../SQLite, .../PostgreSQL), then what only the SQLite file store does.
#include "server/store/job_store.h"

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "server/conversion/engine_to_proto.h"
#include "server/jobs/store_conversion.h"
#include "tests/server/store_under_test.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::server::testing::SqliteUnderTest;
using ::descent::server::testing::StoreKind;
using ::descent::server::testing::StoreUnderTest;
using ::descent::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

class JobStoreTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override { DESCENT_START_STORE_OR_SKIP(under_test_); }

  std::unique_ptr<JobStore> Open() {
    absl::StatusOr<std::unique_ptr<JobStore>> store = under_test_->Open();
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
  static store::v1::Checkpoint CheckpointAt(int64_t step) {
    store::v1::Checkpoint checkpoint;
    checkpoint.set_step(step);
    checkpoint.set_epoch_loss_sum(0.1 + 0.2);
    return checkpoint;
  }
  static store::v1::Model ModelNamed(const std::string& feature) {
    store::v1::Model model;
    model.set_inputs(1);
    model.add_feature_names(feature);
    return model;
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

  std::unique_ptr<StoreUnderTest> under_test_;
};

INSTANTIATE_TEST_SUITE_P(Stores, JobStoreTest,
                         ::testing::Values(StoreKind::kSqlite, StoreKind::kPostgres),
                         ::descent::server::testing::StoreKindName);

// A job's whole stored history, read in pages of `page_steps`: the losses and the events
// with their positions, each exactly once.
struct History {
  std::vector<double> losses;
  std::vector<std::pair<int64_t, v1::WatchJobResponse>> events;
};
History ReadWholeHistory(const JobStore& store, int64_t sequence, int64_t page_steps) {
  History history;
  LossHistory::Cursor cursor;
  while (true) {
    absl::StatusOr<LossHistory> page =
        ReadStoredHistory(store, sequence, cursor.position(), page_steps);
    EXPECT_OK(page);
    if (!page.ok() || page->AtEnd(cursor)) return history;
    google::protobuf::RepeatedField<double> points;
    int64_t first_step = 0;
    while (!page->AtEnd(cursor)) {
      const LossHistory::Event* event = page->Read(&cursor, 1000, &first_step, &points);
      if (event != nullptr) {
        history.events.emplace_back(event->after_step, event->message);
      } else {
        EXPECT_EQ(first_step, static_cast<int64_t>(history.losses.size()) + 1);
        history.losses.insert(history.losses.end(), points.begin(), points.end());
      }
    }
  }
}

TEST_P(JobStoreTest, JobsRoundTripInSequenceOrderAcrossReopen) {
  {
    std::unique_ptr<JobStore> store = Open();
    ASSERT_NE(store, nullptr);
    v1::JobSpec spec;
    spec.set_name("second");
    JobWrite second = Row(1, "job-000000000002", v1::QUEUED);
    second.job.set_request_id("again");
    second.events.push_back(StateEvent(0, v1::QUEUED));
    ASSERT_OK(store->Insert(spec, second));
    spec.set_name("first");
    ASSERT_OK(store->Insert(spec, Row(0, "job-000000000001", v1::QUEUED)));

    JobWrite running = Row(0, "job-000000000001", v1::RUNNING);
    running.events.push_back(StateEvent(0, v1::RUNNING));
    running.losses = {3.0, 2.0};
    running.checkpoint = CheckpointAt(2);
    ASSERT_OK(store->Write(running));
    JobWrite more = Row(0, "job-000000000001", v1::SUCCEEDED);
    *more.job.mutable_end_time() = ToTimestamp(absl::FromUnixSeconds(1234));
    more.first_step = 3;
    more.losses = {1.5, 0.25};
    more.events = {EpochEvent(4, 1), StateEvent(4, v1::SUCCEEDED)};
    more.clear_checkpoint = true;
    more.model = ModelNamed(std::string("model\0bytes", 11));
    ASSERT_OK(store->Write(more));
  }
  std::unique_ptr<JobStore> store = Open();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::vector<StoredJobSummary>> summaries = store->LoadSummaries();
  ASSERT_OK(summaries);
  ASSERT_EQ(summaries->size(), 2u);
  EXPECT_EQ((*summaries)[0].sequence, 0);
  EXPECT_EQ((*summaries)[0].id, "job-000000000001");
  EXPECT_EQ((*summaries)[0].state, v1::SUCCEEDED);
  EXPECT_EQ((*summaries)[0].end_time, absl::FromUnixSeconds(1234));
  EXPECT_EQ((*summaries)[1].state, v1::QUEUED);
  EXPECT_EQ((*summaries)[1].request_id, "again");

  absl::StatusOr<StoredJob> first = store->ReadJob(0);
  ASSERT_OK(first);
  EXPECT_EQ(first->spec.name(), "first");
  EXPECT_EQ(first->job.id(), "job-000000000001");
  EXPECT_EQ(first->job.state(), v1::SUCCEEDED);
  EXPECT_EQ(first->stored_steps, 4);
  EXPECT_FALSE(first->checkpoint.has_value());
  ASSERT_OK(store->ReadModel(0));
  EXPECT_THAT(store->ReadModel(0)->feature_names(), ElementsAre(std::string("model\0bytes", 11)));
  EXPECT_EQ(*store->FindSequence("job-000000000001"), 0);
  const History history = ReadWholeHistory(*store, 0, 1);
  EXPECT_THAT(history.losses, ElementsAre(3.0, 2.0, 1.5, 0.25));
  ASSERT_EQ(history.events.size(), 3u);
  EXPECT_EQ(history.events[0].second.state().state(), v1::RUNNING);
  EXPECT_EQ(history.events[1].second.epoch().epoch(), 1);
  EXPECT_EQ(history.events[1].first, 4);
  EXPECT_EQ(history.events[2].second.state().state(), v1::SUCCEEDED);

  absl::StatusOr<StoredJob> second = store->ReadJob(1);
  ASSERT_OK(second);
  EXPECT_EQ(second->spec.name(), "second");
  EXPECT_EQ(second->job.state(), v1::QUEUED);
  EXPECT_EQ(second->stored_steps, 0);
  EXPECT_THAT(store->ReadModel(1).status(), StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(ReadWholeHistory(*store, 1, 10).events, SizeIs(1));
  EXPECT_THAT(store->ReadJob(2).status(), StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(store->FindSequence("job-000000000003").status(),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

TEST_P(JobStoreTest, PagesOfHistoryCrossChunksAndStartInsideThem) {
  std::unique_ptr<JobStore> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Insert(v1::JobSpec(), Row(0, "job-000000000001", v1::RUNNING)));
  // Three writes of 7 steps each, an epoch every 3 steps: chunks at 1, 8 and 15.
  std::vector<double> all;
  for (int write = 0; write < 3; ++write) {
    JobWrite chunk = Row(0, "job-000000000001", v1::RUNNING);
    chunk.first_step = write * 7 + 1;
    for (int i = 0; i < 7; ++i) {
      const int64_t step = write * 7 + i + 1;
      chunk.losses.push_back(static_cast<double>(step) / 4);
      all.push_back(static_cast<double>(step) / 4);
      if (step % 3 == 0) chunk.events.push_back(EpochEvent(step, static_cast<int>(step / 3)));
    }
    ASSERT_OK(store->Write(chunk));
  }
  for (int64_t page_steps : {1, 2, 5, 7, 8, 100}) {
    const History history = ReadWholeHistory(*store, 0, page_steps);
    EXPECT_EQ(history.losses, all) << "pages of " << page_steps;
    ASSERT_EQ(history.events.size(), 7u) << "pages of " << page_steps;
    for (size_t i = 0; i < history.events.size(); ++i) {
      EXPECT_EQ(history.events[i].first, static_cast<int64_t>(i + 1) * 3);
    }
  }
  // A page from the middle of the second chunk: steps 10.. and the events from step 9 on.
  absl::StatusOr<LossHistory> page = ReadStoredHistory(*store, 0, 9, 4);
  ASSERT_OK(page);
  EXPECT_EQ(page->base(), 9);
  EXPECT_GE(page->steps(), 13);  // whole chunks: up to step 21
  EXPECT_EQ(page->loss(10), 2.5);
  EXPECT_EQ(page->event(page->first_event()).after_step, 9);
  // Beyond the stored steps: an empty page.
  page = ReadStoredHistory(*store, 0, 21, 4);
  ASSERT_OK(page);
  EXPECT_EQ(page->steps(), 21);
  EXPECT_EQ(page->events_end(), page->first_event() + 1);  // epoch 7 at step 21
}

TEST_P(JobStoreTest, DeleteRemovesTheJobAndEverythingStoredForIt) {
  std::unique_ptr<JobStore> store = Open();
  ASSERT_NE(store, nullptr);
  for (int64_t sequence : {0, 1}) {
    const std::string id = absl::StrCat("job-00000000000", sequence);
    JobWrite write = Row(sequence, id, v1::RUNNING);
    write.losses = {1, 2, 3};
    write.events = {StateEvent(0, v1::RUNNING), EpochEvent(3, 1)};
    write.checkpoint = CheckpointAt(3);
    write.model = ModelNamed("x");
    ASSERT_OK(store->Insert(v1::JobSpec(), write));
  }
  ASSERT_OK(store->Delete({0}));
  EXPECT_THAT(store->ReadJob(0).status(), StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(store->FindSequence("job-000000000000").status(),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(store->ReadModel(0).status(), StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  const History gone = ReadWholeHistory(*store, 0, 10);
  EXPECT_TRUE(gone.losses.empty());
  EXPECT_TRUE(gone.events.empty());
  // Row by row, nothing is left behind in any table.
  store.reset();
  for (const char* sql : {"SELECT COUNT(*) FROM losses WHERE job = 0",
                          "SELECT COUNT(*) FROM events WHERE job = 0",
                          "SELECT COUNT(*) FROM checkpoints WHERE job = 0",
                          "SELECT COUNT(*) FROM models WHERE job = 0",
                          "SELECT 1 - COUNT(*) FROM models WHERE job = 1",
                          "SELECT COUNT(*) FROM jobs WHERE sequence = 0",
                          "SELECT 1 - COUNT(*) FROM jobs WHERE sequence = 1",
                          "SELECT 24 - SUM(length(losses)) FROM losses WHERE job = 1"}) {
    EXPECT_EQ(under_test_->QueryInt(sql), 0) << sql;
  }
}

TEST_P(JobStoreTest, TruncateAfterDropsLaterLossesAndEpochsOnly) {
  std::unique_ptr<JobStore> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Insert(v1::JobSpec(), Row(0, "job-000000000001", v1::RUNNING)));
  JobWrite checkpointed = Row(0, "job-000000000001", v1::RUNNING);
  checkpointed.losses = {4, 3};
  checkpointed.events = {StateEvent(0, v1::RUNNING), EpochEvent(2, 1)};
  checkpointed.checkpoint = CheckpointAt(2);
  ASSERT_OK(store->Write(checkpointed));
  JobWrite later = Row(0, "job-000000000001", v1::RUNNING);
  later.first_step = 3;
  later.losses = {2, 1};
  later.events = {EpochEvent(4, 2)};
  ASSERT_OK(store->Write(later));
  // Two chunks (steps 1-2 and 3-4): the job's reads count every stored step.
  for (const absl::StatusOr<StoredJob>& read : {store->ReadJob(0), store->ReadJobRow(0)}) {
    ASSERT_OK(read);
    EXPECT_EQ(read->stored_steps, 4);
    EXPECT_EQ(read->job.id(), "job-000000000001");
  }

  ASSERT_OK(store->TruncateAfter(0, 2, 1, 0));
  History history = ReadWholeHistory(*store, 0, 10);
  EXPECT_THAT(history.losses, ElementsAre(4, 3));
  ASSERT_EQ(history.events.size(), 2u);
  EXPECT_EQ(history.events[1].second.epoch().epoch(), 1);
  ASSERT_TRUE(store->ReadJob(0)->checkpoint.has_value());
  EXPECT_EQ(store->ReadJob(0)->checkpoint->step(), 2);
  EXPECT_EQ(store->ReadJob(0)->checkpoint->epoch_loss_sum(), 0.1 + 0.2);
  absl::StatusOr<std::vector<v1::EpochSummary>> epochs = store->ReadEpochs(0, 5);
  ASSERT_OK(epochs);
  ASSERT_THAT(*epochs, SizeIs(1));
  EXPECT_EQ((*epochs)[0].epoch(), 1);

  // Recording the steps again replaces nothing twice: the history stays one loss a step.
  later.losses = {2.5, 1.5};
  ASSERT_OK(store->Write(later));
  EXPECT_THAT(ReadWholeHistory(*store, 0, 1).losses, ElementsAre(4, 3, 2.5, 1.5));
}

TEST_P(JobStoreTest, DuplicatesAndUnknownJobsAreRejected) {
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

TEST_P(JobStoreTest, AStoreOfANewerFormatVersionIsRefused) {
  ASSERT_NE(Open(), nullptr);
  ASSERT_TRUE(under_test_->SetVersion(under_test_->CurrentVersion() + 5));
  const absl::Status refused = under_test_->Open().status();
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition,
                                HasSubstr(absl::StrCat("version ",
                                                       under_test_->CurrentVersion() + 5))));
  EXPECT_THAT(refused.message(),
              HasSubstr(absl::StrCat("(version ", under_test_->CurrentVersion(), ")")));
}

TEST_P(JobStoreTest, ACheckpointOrModelThatDoesNotParseIsDataLossNamingTheJob) {
  {
    std::unique_ptr<JobStore> store = Open();
    ASSERT_NE(store, nullptr);
    JobWrite write = Row(0, "job-000000000001", v1::RUNNING);
    write.checkpoint = CheckpointAt(2);
    write.model = ModelNamed("x");
    ASSERT_OK(store->Insert(v1::JobSpec(), write));
  }
  ASSERT_TRUE(under_test_->Execute(
      absl::StrCat("UPDATE checkpoints SET checkpoint = ", under_test_->BytesLiteral("ffffffff"))));
  ASSERT_TRUE(under_test_->Execute(
      absl::StrCat("UPDATE models SET model = ", under_test_->BytesLiteral("0a"))));
  std::unique_ptr<JobStore> store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->ReadJob(0).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("checkpoint for job sequence 0")));
  EXPECT_THAT(store->ReadModel(0).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("model for job sequence 0")));
}

// What only the SQLite store does: a file, held by one process.
class SqliteJobStoreTest : public ::testing::Test {
 protected:
  SqliteUnderTest file_;
  const std::string path_ = file_.path();
  const std::string dir_ = path_.substr(0, path_.rfind('/'));
};

TEST_F(SqliteJobStoreTest, ASecondOpenOfTheSameFileIsRefused) {
  absl::StatusOr<std::unique_ptr<SqliteJobStore>> store = SqliteJobStore::Open(path_);
  ASSERT_OK(store);
  EXPECT_THAT(SqliteJobStore::Open(path_).status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr(path_)));
}

TEST_F(SqliteJobStoreTest, AFileThatIsNotADatabaseIsAnError) {
  {
    FILE* file = fopen(path_.c_str(), "w");
    ASSERT_NE(file, nullptr);
    fputs("this is not an SQLite database, just some text long enough to be a header....\n",
          file);
    fclose(file);
  }
  absl::StatusOr<std::unique_ptr<SqliteJobStore>> store = SqliteJobStore::Open(path_);
  EXPECT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(path_));
}

TEST_F(SqliteJobStoreTest, AMissingDirectoryIsUnavailableNamingThePath) {
  EXPECT_THAT(SqliteJobStore::Open(dir_ + "/missing/descent.db").status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("missing/descent.db")));
}

}  // namespace
}  // namespace descent::server
