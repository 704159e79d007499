// The job manager's events as log lines: one line per event, in order, naming the job, with
// the outcome (state, steps, diagnosis verdict, error) when it ends.
#include "server/observability/job_event_log.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "server/jobs/job_manager.h"
#include "server/observability/log.h"
#include "tests/server/job_test_helpers.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::server::testing::EndlessJob;
using ::descent::server::testing::TinyJob;
using ::descent::server::testing::WaitForStep;
using ::descent::server::testing::WaitUntilDone;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class JobEventLogTest : public ::testing::Test {
 protected:
  JobEventLogTest() { SetLogFormat(LogFormat::kJson); }
  ~JobEventLogTest() override { SetLogFormat(LogFormat::kText); }

  JobManagerOptions Options() {
    JobManagerOptions options;
    options.workers = 1;
    options.blas_threads = 1;
    return options;
  }

  // The parsed lines about `job_id`, oldest first.
  std::vector<google::protobuf::Struct> LinesAbout(const std::string& job_id) {
    absl::MutexLock lock(&mu_);
    std::vector<google::protobuf::Struct> about;
    for (const std::string& line : lines_) {
      google::protobuf::Struct parsed;
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &parsed).ok()) << line;
      auto id = parsed.fields().find("job_id");
      if (id != parsed.fields().end() && id->second.string_value() == job_id) {
        about.push_back(std::move(parsed));
      }
    }
    return about;
  }

  static std::vector<std::string> Events(const std::vector<google::protobuf::Struct>& lines) {
    std::vector<std::string> events;
    for (const google::protobuf::Struct& line : lines) {
      events.push_back(line.fields().at("event").string_value());
    }
    return events;
  }

  static std::string Field(const google::protobuf::Struct& line, const std::string& key) {
    auto it = line.fields().find(key);
    if (it == line.fields().end()) return "<missing>";
    return it->second.has_number_value() ? std::to_string(it->second.number_value())
                                         : it->second.string_value();
  }

  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  LogCapture capture_{[this](const std::string& line) {
    absl::MutexLock lock(&mu_);
    lines_.push_back(line);
  }};
  JobEventLog log_;
};

TEST_F(JobEventLogTest, ASucceededJobIsSubmittedStartedAndSucceededWithItsVerdict) {
  JobManager manager(Options(), &log_);
  absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(5, 64, "house"));
  ASSERT_OK(job);
  const v1::Job done = WaitUntilDone(manager, job->id());
  ASSERT_EQ(done.state(), v1::SUCCEEDED);

  const std::vector<google::protobuf::Struct> lines = LinesAbout(job->id());
  EXPECT_THAT(Events(lines), ElementsAre("job_submitted", "job_started", "job_succeeded"));
  ASSERT_EQ(lines.size(), 3u);
  const google::protobuf::Struct& end = lines[2];
  EXPECT_EQ(Field(end, "level"), "info");
  EXPECT_EQ(Field(end, "job_name"), "house");
  EXPECT_EQ(Field(end, "state"), "SUCCEEDED");
  EXPECT_EQ(end.fields().at("steps").number_value(), 20);  // 5 epochs of 4 steps
  EXPECT_EQ(Field(end, "verdict"), v1::Verdict_Name(done.diagnosis().verdict()));
  EXPECT_THAT(Field(end, "message"),
              HasSubstr(absl::StrCat("job ", job->id(), " \"house\" SUCCEEDED at step 20")));
}

TEST_F(JobEventLogTest, AFailedJobLogsItsErrorAndACancelledOneItsState) {
  JobManager manager(Options(), &log_);
  PreparedJob diverging = TinyJob(50, 64, "too-fast");
  diverging.train_spec.optimizer.kind = OptimizerKind::kSgd;
  diverging.train_spec.optimizer.learning_rate = 10.0;  // diverges on unscaled prices
  absl::StatusOr<v1::Job> failed = manager.Submit(std::move(diverging));
  ASSERT_OK(failed);
  const v1::Job failed_end = WaitUntilDone(manager, failed->id());
  ASSERT_EQ(failed_end.state(), v1::FAILED);
  std::vector<google::protobuf::Struct> lines = LinesAbout(failed->id());
  ASSERT_THAT(Events(lines), ElementsAre("job_submitted", "job_started", "job_failed"));
  EXPECT_EQ(Field(lines[2], "level"), "warning");
  EXPECT_EQ(Field(lines[2], "verdict"), "DIVERGED");
  EXPECT_EQ(Field(lines[2], "error"), failed_end.error());
  EXPECT_THAT(Field(lines[2], "message"), HasSubstr(failed_end.error()));

  absl::StatusOr<v1::Job> endless = manager.Submit(EndlessJob("forever"));
  ASSERT_OK(endless);
  WaitForStep(manager, endless->id(), 1);
  ASSERT_OK(manager.Cancel(endless->id()));
  ASSERT_EQ(WaitUntilDone(manager, endless->id()).state(), v1::CANCELLED);
  lines = LinesAbout(endless->id());
  ASSERT_THAT(Events(lines), ElementsAre("job_submitted", "job_started", "job_cancelled"));
  EXPECT_EQ(Field(lines[2], "state"), "CANCELLED");
}

TEST_F(JobEventLogTest, AJobCancelledWhileQueuedNeverStarted) {
  JobManagerOptions options = Options();
  options.workers = 0;
  JobManager manager(options, &log_);
  absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(1));
  ASSERT_OK(job);
  ASSERT_OK(manager.Cancel(job->id()));
  const std::vector<google::protobuf::Struct> lines = LinesAbout(job->id());
  ASSERT_THAT(Events(lines), ElementsAre("job_submitted", "job_cancelled"));
  EXPECT_EQ(lines[1].fields().at("steps").number_value(), 0);
}

TEST_F(JobEventLogTest, AnEndTheStoreCouldNotKeepIsAnErrorNamingTheStateAndTheReason) {
  log_.OnEndNotStored({"job-0123456789ab", "house"}, v1::SUCCEEDED,
                      absl::ResourceExhaustedError("database or disk is full"));
  const std::vector<google::protobuf::Struct> lines = LinesAbout("job-0123456789ab");
  ASSERT_THAT(Events(lines), ElementsAre("job_store_failed"));
  EXPECT_EQ(Field(lines[0], "level"), "error");
  EXPECT_EQ(Field(lines[0], "state"), "SUCCEEDED");
  EXPECT_EQ(Field(lines[0], "error"), "database or disk is full");
  EXPECT_THAT(Field(lines[0], "message"),
              HasSubstr("ended SUCCEEDED but the job store kept its earlier state"));
}

}  // namespace
}  // namespace descent::server
