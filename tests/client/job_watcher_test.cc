#include "client/job_watcher.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/fake_training_server.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace descent::client {
namespace {

using ::descent::client::testing::FakeTrainingServer;
using ::descent::client::testing::WatchAttempt;
using ::descent::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RecordingSink : public WatchSink {
 public:
  void OnLosses(int64_t first_step, const double* losses, int count) override {
    for (int i = 0; i < count; ++i) {
      steps.push_back(first_step + i);
      values.push_back(losses[i]);
    }
  }
  void OnEpoch(const v1::EpochSummary& summary) override { epochs.push_back(summary.epoch()); }
  void OnRawEvent(const v1::WatchJobResponse& event) override {
    if (event.has_losses()) {
      raw_first_steps.push_back(event.losses().first_step());
    }
  }
  void OnReconnecting(const absl::Status& why, absl::Duration) override {
    reconnects.push_back(why);
  }

  std::vector<int64_t> steps;
  std::vector<double> values;
  std::vector<int> epochs;
  std::vector<int64_t> raw_first_steps;
  std::vector<absl::Status> reconnects;
};

std::vector<double> Losses(int n) {
  std::vector<double> losses;
  for (int i = 1; i <= n; ++i) losses.push_back(1.0 / i);
  return losses;
}

std::vector<int64_t> Steps(int64_t from, int64_t to) {
  std::vector<int64_t> steps;
  for (int64_t s = from; s <= to; ++s) steps.push_back(s);
  return steps;
}

class JobWatcherTest : public ::testing::Test {
 protected:
  JobWatcherTest() {
    options_.initial_backoff = absl::Milliseconds(1);
    options_.max_backoff = absl::Milliseconds(4);
    options_.give_up_after = absl::Seconds(5);
  }

  FakeTrainingServer server_;
  std::unique_ptr<DescentClient> client_ = DescentClient::Connect(server_.address());
  JobWatcherOptions options_;
  RecordingSink sink_;
};

TEST_F(JobWatcherTest, AnUninterruptedStreamDeliversEveryStepAndTheFinalJob) {
  const std::string id = server_.service().AddJob(Losses(250), v1::SUCCEEDED, 50);
  absl::StatusOr<v1::Job> job = WatchUntilDone(*client_, id, options_, sink_);
  ASSERT_OK(job);
  EXPECT_EQ(job->state(), v1::SUCCEEDED);
  EXPECT_EQ(sink_.steps, Steps(1, 250));
  EXPECT_DOUBLE_EQ(sink_.values[99], 1.0 / 100);
  EXPECT_THAT(sink_.epochs, ElementsAre(1, 2, 3, 4, 5));
  EXPECT_THAT(server_.service().watch_after_steps(), ElementsAre(0));
}

TEST_F(JobWatcherTest, DroppedStreamsResumeAfterTheLastStepReceived) {
  const std::string id = server_.service().AddJob(Losses(300), v1::FAILED, 100);
  server_.service().ScriptWatch(
      id, {{.send_until_step = 70, .end = grpc::Status(grpc::StatusCode::UNAVAILABLE, "gone")},
           {.send_until_step = 180, .end = grpc::Status(grpc::StatusCode::INTERNAL, "reset")},
           // OK without the terminal event is a drop too.
           {.send_until_step = 250},
           {}});
  absl::StatusOr<v1::Job> job = WatchUntilDone(*client_, id, options_, sink_);
  ASSERT_OK(job);
  EXPECT_EQ(job->state(), v1::FAILED);
  EXPECT_EQ(sink_.steps, Steps(1, 300));
  EXPECT_THAT(server_.service().watch_after_steps(), ElementsAre(0, 70, 180, 250));
  ASSERT_EQ(sink_.reconnects.size(), 3u);
  EXPECT_THAT(sink_.reconnects[0], StatusIs(absl::StatusCode::kUnavailable, "gone"));
  EXPECT_THAT(sink_.reconnects[2],
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("before the job's final state")));
}

TEST_F(JobWatcherTest, StepsAServerRepeatsAreTrimmedSoEachArrivesOnce) {
  const std::string id = server_.service().AddJob(Losses(120), v1::SUCCEEDED);
  server_.service().ScriptWatch(
      id, {{.send_until_step = 50, .end = grpc::Status(grpc::StatusCode::UNAVAILABLE, "x")},
           {.replay = 30}});
  ASSERT_OK(WatchUntilDone(*client_, id, options_, sink_));
  EXPECT_EQ(sink_.steps, Steps(1, 120));
  // The raw event of the overlapping message was trimmed to start at step 51.
  EXPECT_THAT(sink_.raw_first_steps, ::testing::Contains(51));
  EXPECT_THAT(sink_.raw_first_steps, ::testing::Not(::testing::Contains(21)));
}

TEST_F(JobWatcherTest, ASkippedStepIsDataLossNotRetried) {
  const std::string id = server_.service().AddJob(Losses(120), v1::SUCCEEDED);
  server_.service().ScriptWatch(
      id, {{.send_until_step = 50, .end = grpc::Status(grpc::StatusCode::UNAVAILABLE, "x")},
           {.gap = 5}});
  EXPECT_THAT(WatchUntilDone(*client_, id, options_, sink_),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("skipped steps 51..55")));
  EXPECT_THAT(server_.service().watch_after_steps(), ElementsAre(0, 50));
}

TEST_F(JobWatcherTest, ResumesFromTheRequestedStep) {
  const std::string id = server_.service().AddJob(Losses(100), v1::SUCCEEDED);
  options_.after_step = 60;
  ASSERT_OK(WatchUntilDone(*client_, id, options_, sink_));
  EXPECT_EQ(sink_.steps, Steps(61, 100));
  EXPECT_THAT(server_.service().watch_after_steps(), ElementsAre(60));
}

TEST_F(JobWatcherTest, AFinishedJobWhoseTerminalEventWasLostIsConfirmedByGetJob) {
  const std::string id = server_.service().AddJob(Losses(40), v1::CANCELLED);
  server_.service().ScriptWatch(
      id, {{.end = grpc::Status(grpc::StatusCode::UNAVAILABLE, "x"), .send_terminal = false}});
  absl::StatusOr<v1::Job> job = WatchUntilDone(*client_, id, options_, sink_);
  ASSERT_OK(job);
  EXPECT_EQ(job->state(), v1::CANCELLED);
  EXPECT_EQ(sink_.steps, Steps(1, 40));
  // GetJob said the job ended at step 40, which had arrived: no second stream.
  EXPECT_THAT(server_.service().watch_after_steps(), ElementsAre(0));
}

TEST_F(JobWatcherTest, AStreamEndingWhileTheJobRunsIsNotCalledFinished) {
  const std::string id = server_.service().AddJob(Losses(40), v1::SUCCEEDED);
  server_.service().SetVisibleState(id, v1::RUNNING);
  server_.service().ScriptWatch(id, {{.send_until_step = 40, .send_terminal = false}, {}});
  absl::StatusOr<v1::Job> job = WatchUntilDone(*client_, id, options_, sink_);
  ASSERT_OK(job);
  EXPECT_EQ(job->state(), v1::SUCCEEDED);  // from the second stream's terminal event
  EXPECT_THAT(server_.service().watch_after_steps(), ElementsAre(0, 40));
}

TEST_F(JobWatcherTest, ASilentStreamIsADrop) {
  const std::string id = server_.service().AddJob(Losses(30), v1::SUCCEEDED);
  server_.service().ScriptWatch(id, {{.send_until_step = 10, .hang = true}, {}});
  options_.idle_timeout = absl::Milliseconds(200);
  ASSERT_OK(WatchUntilDone(*client_, id, options_, sink_));
  EXPECT_EQ(sink_.steps, Steps(1, 30));
  EXPECT_THAT(server_.service().watch_after_steps(), ElementsAre(0, 10));
  ASSERT_EQ(sink_.reconnects.size(), 1u);
  EXPECT_EQ(sink_.reconnects[0].code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(JobWatcherTest, StopAfterStepReturnsTheJobAsItIsNow) {
  const std::string id = server_.service().AddJob(Losses(500), v1::SUCCEEDED);
  server_.service().SetVisibleState(id, v1::RUNNING);
  server_.service().set_points_per_message(25);
  options_.stop_after_step = 110;
  absl::StatusOr<v1::Job> job = WatchUntilDone(*client_, id, options_, sink_);
  ASSERT_OK(job);
  EXPECT_EQ(job->state(), v1::RUNNING);
  EXPECT_EQ(sink_.steps, Steps(1, 125));  // whole messages: up to the one holding step 110
}

TEST_F(JobWatcherTest, UnknownJobIsNotFound) {
  EXPECT_THAT(WatchUntilDone(*client_, "nope", options_, sink_),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
}

TEST(JobWatcherUnreachableTest, NeverReachingTheServerFailsAtOnce) {
  auto client =
      DescentClient::Connect("127.0.0.1:" + std::to_string(descent::testing::PickFreePort()));
  RecordingSink sink;
  JobWatcherOptions options;
  options.give_up_after = absl::Hours(1);  // not what ends it
  EXPECT_THAT(WatchUntilDone(*client, "j", options, sink),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  EXPECT_TRUE(sink.reconnects.empty());
}

TEST(JobWatcherUnreachableTest, ACallerThatReachedTheServerBeforeWaitsForItToComeBack) {
  // As a race's watchers do after submitting their runs: the server went away before the
  // first stream opened; the watcher retries until give_up_after instead of failing at once.
  auto client =
      DescentClient::Connect("127.0.0.1:" + std::to_string(descent::testing::PickFreePort()));
  RecordingSink sink;
  JobWatcherOptions options;
  options.server_reached = true;
  options.initial_backoff = absl::Milliseconds(5);
  options.max_backoff = absl::Milliseconds(20);
  options.give_up_after = absl::Milliseconds(200);
  EXPECT_THAT(WatchUntilDone(*client, "j", options, sink),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("could not get it back")));
  EXPECT_GE(sink.reconnects.size(), 2u);
}

TEST(JobWatcherGiveUpTest, AServerThatGoesAwayForGoodEndsTheWatchUnavailable) {
  auto server = std::make_unique<FakeTrainingServer>();
  const std::string id = server->service().AddJob(Losses(100), v1::SUCCEEDED);
  server->service().ScriptWatch(
      id, {{.send_until_step = 20, .end = grpc::Status(grpc::StatusCode::UNAVAILABLE, "bye")}});
  server->service().SetVisibleState(id, v1::RUNNING);
  auto client = DescentClient::Connect(server->address());

  class StopServerSink : public RecordingSink {
   public:
    explicit StopServerSink(std::unique_ptr<FakeTrainingServer>* server) : server_(server) {}
    void OnReconnecting(const absl::Status& why, absl::Duration delay) override {
      RecordingSink::OnReconnecting(why, delay);
      server_->reset();  // the server disappears for good after the first drop
    }
    std::unique_ptr<FakeTrainingServer>* server_;
  } sink(&server);

  JobWatcherOptions options;
  options.initial_backoff = absl::Milliseconds(5);
  options.max_backoff = absl::Milliseconds(20);
  options.give_up_after = absl::Milliseconds(300);
  EXPECT_THAT(WatchUntilDone(*client, id, options, sink),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("after step 20")));
  EXPECT_EQ(sink.steps, Steps(1, 20));
  EXPECT_GE(sink.reconnects.size(), 2u);
}

}  // namespace
}  // namespace descent::client
