// Store versions: a store written before the store had its own schema (version 1,
// tests/data/store_version1.db, written by that descentd: a SUCCEEDED job with its model, a
// RUNNING one stopped by SIGTERM with its checkpoint, a QUEUED one) is migrated when opened,
// every float bit kept; a store newer than this descentd is refused and left untouched.
#include "server/store/store_migration.h"

#include <sqlite3.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/jobs/job_manager.h"
#include "server/jobs/store_conversion.h"
#include "server/store/sqlite_job_store.h"
#include "server/store/legacy_blobs.h"
#include "server/conversion/spec_conversion.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Version 1's byte layout, written independently of the migration's reader: a migrated
// message written back this way must give the stored bytes exactly.
class Version1Writer {
 public:
  template <typename T>
  void Put(T value) {
    static_assert(std::is_arithmetic_v<T>);
    out_.append(reinterpret_cast<const char*>(&value), sizeof(value));
  }
  template <typename T, typename Values>
  void PutArray(const Values& values) {
    Put<uint64_t>(values.size());
    for (T value : values) Put<T>(value);
  }
  void PutLayers(const google::protobuf::RepeatedPtrField<store::v1::Layer>& layers) {
    Put<uint64_t>(layers.size());
    for (const store::v1::Layer& layer : layers) {
      Put<int32_t>(layer.rows());
      Put<int32_t>(layer.cols());
      PutArray<float>(layer.weight());
      PutArray<float>(layer.bias());
    }
  }
  void PutCurve(const store::v1::LossCurve& curve) {
    PutArray<double>(curve.means());
    PutArray<int64_t>(curve.last_steps());
    Put<int64_t>(curve.bucket_width());
    Put<double>(curve.pending_sum());
    Put<int64_t>(curve.pending_count());
    Put<int64_t>(curve.pending_last_step());
  }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

std::string Version1Bytes(const store::v1::Checkpoint& checkpoint) {
  Version1Writer out;
  out.Put<uint32_t>(0x4b434344);  // "DCCK"
  out.Put<uint32_t>(1);
  out.Put<int64_t>(checkpoint.step());
  out.Put<int32_t>(checkpoint.epoch());
  out.PutLayers(checkpoint.parameters());
  out.Put<int64_t>(checkpoint.optimizer_steps());
  out.Put<uint64_t>(checkpoint.optimizer_buffers_size());
  for (const store::v1::OptimizerBuffer& buffer : checkpoint.optimizer_buffers()) {
    out.PutArray<float>(buffer.values());
  }
  out.Put<double>(checkpoint.epoch_loss_sum());
  out.PutArray<double>(checkpoint.epoch_metric_sums());
  const store::v1::DiagnosisState& diagnosis = checkpoint.diagnosis();
  out.Put<int64_t>(diagnosis.steps());
  out.Put<double>(diagnosis.first_loss());
  out.Put<double>(diagnosis.start_sum());
  out.Put<int64_t>(diagnosis.start_count());
  out.Put<int64_t>(diagnosis.diverged_step());
  out.Put<double>(diagnosis.diverged_loss());
  out.PutCurve(diagnosis.step_curve());
  out.PutCurve(diagnosis.epoch_curve());
  return out.bytes();
}

std::string Version1Bytes(const store::v1::Model& model) {
  Version1Writer out;
  out.Put<uint32_t>(0x4c4d4344);  // "DCML"
  out.Put<uint32_t>(1);
  out.Put<int32_t>(model.inputs());
  out.PutLayers(model.parameters());
  out.Put<uint64_t>(model.activations_size());
  for (int activation : model.activations()) out.Put<int32_t>(activation - 1);
  out.Put<int32_t>(model.loss() - 1);
  out.PutArray<float>(model.pos_weight());
  out.PutArray<float>(model.class_weights());
  out.Put<float>(model.label_smoothing());
  for (const auto* names : {&model.feature_names(), &model.class_names()}) {
    out.Put<uint64_t>(names->size());
    for (const std::string& name : *names) {
      out.Put<uint64_t>(name.size());
      for (char c : name) out.Put<char>(c);
    }
  }
  return out.bytes();
}

class StoreMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::copy_file(std::string(DESCENT_SOURCE_DIR) + "/tests/data/store_version1.db",
                               path_);
  }

  // Runs `sql` on the file with a connection of its own; the first column of its first row.
  std::string Query(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    std::string value;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      const void* data = sqlite3_column_blob(statement, 0);
      value.assign(static_cast<const char*>(data), sqlite3_column_bytes(statement, 0));
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return value;
  }
  void Execute(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    sqlite3_close(db);
  }

  const descent::testing::ScratchDir scratch_{"store_migration_test"};
  const std::string path_ = scratch_.path() + "/descent.db";
};

TEST_F(StoreMigrationTest, AVersion1StoreIsMigratedWithEveryJobAndEveryBit) {
  ASSERT_EQ(Query("PRAGMA user_version"), "1");
  const std::string old_model = Query("SELECT model FROM jobs WHERE sequence = 0");
  const std::string old_checkpoint = Query("SELECT checkpoint FROM checkpoints WHERE job = 1");
  ASSERT_FALSE(old_model.empty());
  ASSERT_FALSE(old_checkpoint.empty());

  absl::StatusOr<std::unique_ptr<JobStore>> store = SqliteJobStore::Open(path_);
  ASSERT_OK(store);
  absl::StatusOr<std::vector<StoredJobSummary>> jobs = (*store)->LoadSummaries();
  ASSERT_OK(jobs);
  ASSERT_EQ(jobs->size(), 3u);
  EXPECT_EQ((*jobs)[0].state, v1::SUCCEEDED);
  EXPECT_EQ((*jobs)[1].state, v1::RUNNING);
  EXPECT_EQ((*jobs)[2].state, v1::QUEUED);
  EXPECT_LT((*jobs)[0].end_time, absl::Now());
  EXPECT_EQ((*jobs)[1].end_time, absl::InfinitePast());

  absl::StatusOr<store::v1::Model> model = (*store)->ReadModel(0);
  ASSERT_OK(model);
  EXPECT_EQ(Version1Bytes(*model), old_model);
  absl::StatusOr<TrainedModel> trained = FromStored(*model);
  ASSERT_OK(trained);
  EXPECT_EQ(trained->inputs, 13);
  EXPECT_THAT(trained->activations, ElementsAre(Activation::kRelu, Activation::kIdentity));

  absl::StatusOr<StoredJob> running = (*store)->ReadJob(1);
  ASSERT_OK(running);
  ASSERT_TRUE(running->checkpoint.has_value());
  EXPECT_EQ(Version1Bytes(*running->checkpoint), old_checkpoint);
  EXPECT_GT(running->checkpoint->step(), 0);
  EXPECT_GE(running->stored_steps, running->checkpoint->step());
  EXPECT_EQ(running->job.state(), v1::RUNNING);
  EXPECT_EQ(running->spec.name(), "running");
  absl::StatusOr<StoredHistory> history = (*store)->ReadHistory(1, 0, 10);
  ASSERT_OK(history);
  EXPECT_GE(history->losses.size(), 10u);  // whole stored chunks

  store->reset();
  EXPECT_EQ(Query("PRAGMA user_version"), absl::StrCat(kStoreVersion));
  EXPECT_EQ(Query("SELECT count(*) FROM sqlite_master WHERE name = 'jobs_version1'"), "0");
  ASSERT_OK(SqliteJobStore::Open(path_));  // a migrated store opens as it is
}

// The migrated store resumes its jobs: the RUNNING one from its checkpoint (which the
// trainer accepts), the QUEUED one after it; the finished one serves its model.
TEST_F(StoreMigrationTest, AMigratedStoreResumesItsJobs) {
  absl::StatusOr<std::unique_ptr<JobStore>> store = SqliteJobStore::Open(path_);
  ASSERT_OK(store);
  const int64_t checkpoint_step = (*(*store)->ReadJob(1)).checkpoint->step();
  JobManagerOptions options;
  options.workers = 1;
  options.store = store->get();
  options.prepare = [](const v1::SubmitJobRequest& request) { return PrepareJob(request); };
  JobManager jobs(options, nullptr);
  absl::StatusOr<int> recovered = jobs.Recover();
  ASSERT_OK(recovered);
  EXPECT_EQ(*recovered, 2);  // the RUNNING job resumed, the QUEUED one queued
  absl::StatusOr<JobPage> page = jobs.List(v1::JOB_STATE_UNSPECIFIED, 10, "");
  ASSERT_OK(page);
  ASSERT_EQ(page->jobs.size(), 3u);
  const std::string finished = page->jobs[2].id();
  const std::string running = page->jobs[1].id();
  ASSERT_OK(jobs.Model(finished));
  // Training goes on past the checkpoint; the job is then cancelled.
  const absl::Time deadline = absl::Now() + absl::Minutes(2);
  int64_t step = 0;
  while (absl::Now() < deadline) {
    absl::StatusOr<v1::Job> job = jobs.Get(running);
    ASSERT_OK(job);
    ASSERT_EQ(job->state(), v1::RUNNING) << job->error();
    step = job->progress().step();
    if (step > checkpoint_step + 5) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_GT(step, checkpoint_step + 5);
  ASSERT_OK(jobs.Cancel(running));
}

TEST_F(StoreMigrationTest, AnUnreadableVersion1BlobIsDataLossAndTheStoreStaysVersion1) {
  Execute("UPDATE checkpoints SET checkpoint = substr(checkpoint, 1, 40) WHERE job = 1");
  EXPECT_THAT(SqliteJobStore::Open(path_).status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("job sequence 1"), HasSubstr("store version 1"))));
  EXPECT_EQ(Query("PRAGMA user_version"), "1");
  EXPECT_FALSE(Query("SELECT model FROM jobs WHERE sequence = 0").empty());
}

TEST_F(StoreMigrationTest, AStoreNewerThanThisDescentdIsRefusedAndLeftUntouched) {
  std::filesystem::remove(path_);
  Execute("CREATE TABLE future (x); PRAGMA user_version = 9");
  const std::string before = descent::testing::ReadWholeFile(path_);
  EXPECT_THAT(SqliteJobStore::Open(path_).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(path_), HasSubstr("format version 9"),
                             HasSubstr(absl::StrCat("version ", kStoreVersion)))));
  EXPECT_EQ(descent::testing::ReadWholeFile(path_), before);
  EXPECT_FALSE(std::filesystem::exists(path_ + "-wal"));
}

TEST(LegacyBlobsTest, TruncatedOrForeignVersion1BytesAreDataLoss) {
  store::v1::Checkpoint checkpoint;
  checkpoint.set_step(3);
  checkpoint.add_parameters()->set_rows(1);
  checkpoint.mutable_parameters(0)->set_cols(2);
  checkpoint.mutable_parameters(0)->add_weight(0.5f);
  checkpoint.mutable_parameters(0)->add_weight(-1.5f);
  checkpoint.add_optimizer_buffers()->add_values(7.0f);
  const std::string bytes = Version1Bytes(checkpoint);
  absl::StatusOr<store::v1::Checkpoint> decoded = DecodeVersion1Checkpoint(bytes);
  ASSERT_OK(decoded);
  EXPECT_EQ(Version1Bytes(*decoded), bytes);
  EXPECT_EQ(decoded->optimizer_buffers(0).values(0), 7.0f);
  for (size_t length : {size_t{0}, size_t{5}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_THAT(DecodeVersion1Checkpoint(bytes.substr(0, length)).status(),
                StatusIs(absl::StatusCode::kDataLoss, ::testing::_))
        << length;
  }
  EXPECT_THAT(DecodeVersion1Checkpoint(bytes + "x").status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("corrupt")));
  store::v1::Model model;
  model.set_loss(store::v1::LOSS_MEAN_SQUARED_ERROR);
  EXPECT_THAT(DecodeVersion1Checkpoint(Version1Bytes(model)).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("format")));
  ASSERT_OK(DecodeVersion1Model(Version1Bytes(model)));
}

}  // namespace
}  // namespace descent::server
