// A learning-rate range test (JobSpec.lr_find) is a job of its own kind: queued, watched with
// each step's rate, ended with a suggestion instead of a model, recovered after a restart.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

#include "engine/lr_finder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/conversion/spec_conversion.h"
#include "server/jobs/job_events.h"
#include "server/jobs/job_manager.h"
#include "server/store/sqlite_job_store.h"
#include "tests/server/job_test_helpers.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/text_proto.h"

namespace descent::server {
namespace {

using ::descent::server::testing::CheckStream;
using ::descent::server::testing::StreamSummary;
using ::descent::server::testing::WatchAll;
using ::descent::testing::ParseTextProto;
using ::descent::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// SGD without a learning rate: the range sets it.
v1::SubmitJobRequest RangeTest(const std::string& lr_find, const std::string& model) {
  v1::SubmitJobRequest request;
  *request.mutable_spec() = ParseTextProto<v1::JobSpec>(R"pb(
    name: "range"
    dataset { builtin { name: "house_prices" samples: 256 seed: 5 } }
    loss: MEAN_SQUARED_ERROR
    optimizer { sgd {} }
    training { batch_size: 32 seed: 11 epochs: 1 validation_fraction: 0.25 }
  )pb");
  *request.mutable_spec()->mutable_lr_find() = ParseTextProto<v1::LrFind>(lr_find);
  *request.mutable_spec()->mutable_model() = ParseTextProto<v1::ModelSpec>(model);
  return request;
}

PreparedJob Prepared(const v1::SubmitJobRequest& request) {
  absl::StatusOr<PreparedJob> job = PrepareJob(request);
  EXPECT_OK(job);
  return *std::move(job);
}

// The rates each loss message carried, in step order.
std::vector<double> StreamRates(const std::vector<v1::WatchJobResponse>& messages) {
  std::vector<double> rates;
  for (const v1::WatchJobResponse& message : messages) {
    if (!message.has_losses()) continue;
    EXPECT_EQ(message.losses().learning_rates_size(), message.losses().losses_size());
    rates.insert(rates.end(), message.losses().learning_rates().begin(),
                 message.losses().learning_rates().end());
  }
  return rates;
}

TEST(LrFindJobTest, StreamsEachStepsRateAndEndsWithASuggestionAndNoModel) {
  JobManagerOptions options;
  options.blas_threads = 1;
  JobManager manager(options, nullptr);
  const v1::SubmitJobRequest request = RangeTest(
      "min_learning_rate: 1e-6 max_learning_rate: 1 steps: 60", "hidden_layers { units: 16 }");
  absl::StatusOr<v1::Job> submitted = manager.Submit(Prepared(request));
  ASSERT_OK(submitted);
  EXPECT_EQ(submitted->progress().total_steps(), 60);

  const std::vector<v1::WatchJobResponse> stream = WatchAll(manager, submitted->id());
  const StreamSummary summary = CheckStream(stream, 0, 4096);
  EXPECT_THAT(summary.states, ElementsAre(v1::QUEUED, v1::RUNNING, v1::SUCCEEDED));
  const std::vector<double> rates = StreamRates(stream);
  ASSERT_EQ(rates.size(), summary.losses.size());
  const LrFindSpec find{.min_learning_rate = 1e-6, .max_learning_rate = 1, .steps = 60};
  for (size_t i = 0; i < rates.size(); ++i) {
    EXPECT_EQ(rates[i], LrFindLearningRate(find, static_cast<int64_t>(i) + 1)) << "step " << i + 1;
  }

  const v1::Job done = *manager.Get(submitted->id());
  ASSERT_EQ(done.state(), v1::SUCCEEDED) << done.error();
  EXPECT_FALSE(done.has_diagnosis());
  const v1::LrFindResult& result = done.lr_find();
  // Every step trained is a point, with the stream's loss and rate.
  ASSERT_EQ(result.points_size(), static_cast<int>(summary.losses.size()));
  for (int i = 0; i < result.points_size(); ++i) {
    EXPECT_EQ(result.points(i).step(), i + 1);
    EXPECT_EQ(result.points(i).loss(), summary.losses[static_cast<size_t>(i)]);
    EXPECT_EQ(result.points(i).learning_rate(), rates[static_cast<size_t>(i)]);
  }
  EXPECT_EQ(result.diverged(), result.points_size() < 60);
  EXPECT_EQ(result.suggestion().rule(), v1::STEEPEST_DECADE);
  EXPECT_EQ(result.suggested_learning_rate(), result.suggestion().learning_rate());
  EXPECT_EQ(result.suggested_learning_rate(),
            result.points(static_cast<int>(result.suggestion().step()) - 1).learning_rate());
  EXPECT_THAT(result.suggestion().reason(), HasSubstr("steepest decade"));
  ASSERT_EQ(result.candidates_size(), 3);
  EXPECT_EQ(result.candidates(0).rule(), v1::VALLEY);
  EXPECT_EQ(result.candidates(1).rule(), v1::STEEPEST_SLOPE);
  EXPECT_EQ(result.candidates(2).rule(), v1::MINIMUM_OVER_TEN);

  EXPECT_THAT(manager.Model(submitted->id()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("lr-find")));
}

TEST(LrFindJobTest, TheRangeIsCheckedAtSubmitNamingTheField) {
  EXPECT_THAT(PrepareJob(RangeTest("steps: 5", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.lr_find.steps")));
  EXPECT_THAT(
      PrepareJob(RangeTest("min_learning_rate: 1 max_learning_rate: 0.1", "")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.lr_find.max_learning_rate")));
  // Without lr_find, the same SGD spec needs its rate.
  v1::SubmitJobRequest training = RangeTest("", "");
  training.mutable_spec()->clear_lr_find();
  EXPECT_THAT(PrepareJob(training), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("spec.optimizer.sgd.learning_rate")));
}

// Holds the training thread inside one step's OnStep until released, so a job cannot run
// past that step however long the test's own thread takes to stop the server.
class HoldAtStep : public JobEventListener {
 public:
  explicit HoldAtStep(int64_t step) : step_(step) {}
  void OnStep(const JobLabels& /*job*/, int64_t step, double /*loss*/, int /*examples*/,
              absl::Duration /*step_time*/, double /*steps_per_second*/) override {
    if (step != step_) return;
    held_.Notify();
    released_.WaitForNotification();
  }
  bool WaitUntilHeld() { return held_.WaitForNotificationWithTimeout(absl::Minutes(2)); }
  void Release() {
    if (!released_.HasBeenNotified()) released_.Notify();
  }

 private:
  const int64_t step_;
  absl::Notification held_;
  absl::Notification released_;
};

// A range test that was running when the server stopped runs again from step 0 at the next
// start, on the same trajectory, and its finished result is served from the store.
TEST(LrFindJobTest, SurvivesARestartAndIsServedFromTheStore) {
  const descent::testing::ScratchDir scratch("lr_find_job_test");
  // Rates low enough that the test runs all its steps.
  v1::SubmitJobRequest request = RangeTest(
      "min_learning_rate: 1e-9 max_learning_rate: 1e-7 steps: 100", "hidden_layers { units: 16 }");
  request.set_request_id("range-test-before-the-restart");
  const auto open = [&] {
    absl::StatusOr<std::unique_ptr<SqliteJobStore>> store =
        SqliteJobStore::Open(scratch.path() + "/descent.db");
    EXPECT_OK(store);
    return std::unique_ptr<JobStore>(*std::move(store));
  };
  constexpr int64_t kStopAt = 30;
  std::string id;
  std::vector<double> before;
  {
    std::unique_ptr<JobStore> store = open();
    HoldAtStep hold(kStopAt);
    JobManagerOptions options;
    options.blas_threads = 1;
    options.store = store.get();
    options.prepare = [](const v1::SubmitJobRequest& r) { return PrepareJob(r); };
    options.checkpoint_every_steps = 10;  // a training job would checkpoint; a range test not
    JobManager manager(options, &hold);
    // Released before the manager is destroyed, whatever fails below.
    absl::Cleanup release = [&hold] { hold.Release(); };
    const PreparedJob prepared = Prepared(request);
    absl::StatusOr<v1::Job> job = manager.Submit(prepared);
    ASSERT_OK(job);
    id = job->id();
    ASSERT_TRUE(hold.WaitUntilHeld()) << "the range test never reached step " << kStopAt;
    // Shutdown asks the running jobs to stop in the same critical section that makes Submit
    // refuse; once the same submission again (the request_id's job, nothing new) is refused,
    // the held job stops right after step kStopAt.
    std::thread stopper([&manager] { manager.Shutdown(); });
    const absl::Time deadline = absl::Now() + absl::Minutes(2);
    while (manager.Submit(prepared).status().code() != absl::StatusCode::kUnavailable &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    hold.Release();
    stopper.join();
    const v1::Job stopped = *manager.Get(id);
    ASSERT_EQ(stopped.state(), v1::RUNNING) << "the test ended before the server stopped";
    EXPECT_EQ(stopped.progress().step(), kStopAt);
    const absl::Status watched = manager.Watch(id, 0, [&](const v1::WatchJobResponse& message) {
      if (message.has_losses()) {
        before.insert(before.end(), message.losses().losses().begin(),
                      message.losses().losses().end());
      }
      return true;
    });
    EXPECT_EQ(watched.code(), absl::StatusCode::kUnavailable) << watched;
    ASSERT_EQ(before.size(), static_cast<size_t>(kStopAt));
  }

  std::unique_ptr<JobStore> store = open();
  JobManagerOptions options;
  options.blas_threads = 1;
  options.store = store.get();
  options.prepare = [](const v1::SubmitJobRequest& r) { return PrepareJob(r); };
  auto manager = std::make_unique<JobManager>(options, nullptr);
  absl::StatusOr<int> recovered = manager->Recover();
  ASSERT_OK(recovered);
  EXPECT_EQ(*recovered, 1);
  const std::vector<v1::WatchJobResponse> stream = WatchAll(*manager, id);
  const StreamSummary rerun = CheckStream(stream, 0, 4096);
  EXPECT_THAT(rerun.resumed_at, ElementsAre(0));  // no checkpoint: from the start
  ASSERT_EQ(rerun.losses.size(), 100u);
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(rerun.losses[i], before[i]) << "step " << i + 1 << " left the trajectory";
  }
  const v1::Job done = *manager->Get(id);
  ASSERT_EQ(done.state(), v1::SUCCEEDED) << done.error();
  EXPECT_EQ(done.lr_find().points_size(), 100);

  // Served from the store by the next process as it ended, still without a model.
  manager.reset();
  auto again = std::make_unique<JobManager>(options, nullptr);
  recovered = again->Recover();
  ASSERT_OK(recovered);
  EXPECT_EQ(*recovered, 0);
  EXPECT_EQ(again->Get(id)->lr_find().SerializeAsString(), done.lr_find().SerializeAsString());
  EXPECT_EQ(StreamRates(WatchAll(*again, id)), StreamRates(stream));
  EXPECT_THAT(again->Model(id), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("lr-find")));
}

}  // namespace
}  // namespace descent::server
