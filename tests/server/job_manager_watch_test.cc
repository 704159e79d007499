// Watch streams of the job manager: every step exactly once and in order, epoch summaries
// in place, resumption with after_step, heartbeats, the terminal event last, and watchers
// that never slow training.
#include <atomic>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/conversion/engine_to_proto.h"
#include "server/jobs/job_manager.h"
#include "server/jobs/job_record.h"
#include "tests/server/job_test_helpers.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/stream_events.h"

namespace descent::server {
namespace {

using ::descent::testing::StatusIs;
using ::descent::testing::StreamEvents;
using testing::CheckStream;
using ::testing::ElementsAre;
using testing::EndlessJob;
using ::testing::HasSubstr;
using testing::RecordingListener;
using testing::StreamSummary;
using testing::TinyJob;
using testing::WaitForStep;
using testing::WaitUntilDone;
using testing::WatchAll;

std::vector<int> Range(int first, int last) {
  std::vector<int> values;
  for (int i = first; i <= last; ++i) values.push_back(i);
  return values;
}

TEST(JobManagerWatchTest, FinishedJobReplaysItsWholeHistory) {
  JobManagerOptions options;
  options.max_points_per_message = 3;
  RecordingListener listener;
  JobManager manager(options, &listener);
  absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(/*epochs=*/5));
  ASSERT_OK(job);
  ASSERT_EQ(WaitUntilDone(manager, job->id()).state(), v1::SUCCEEDED);

  std::vector<v1::WatchJobResponse> messages = WatchAll(manager, job->id());
  StreamSummary stream = CheckStream(messages, 0, 3);
  EXPECT_EQ(stream.losses.size(), 20u);
  EXPECT_EQ(stream.epochs, Range(1, 5));
  EXPECT_THAT(stream.states, ElementsAre(v1::QUEUED, v1::RUNNING, v1::SUCCEEDED));
  // State events carry the job as it was then; the terminal one the final results.
  EXPECT_EQ(messages[0].state().job().progress().step(), 0);
  EXPECT_FALSE(messages[0].state().job().has_start_time());
  EXPECT_TRUE(messages[1].state().job().has_start_time());
  const v1::Job& final_job = messages.back().state().job();
  EXPECT_EQ(final_job.progress().step(), 20);
  EXPECT_TRUE(final_job.has_diagnosis());
  EXPECT_EQ(final_job.train_loss(), stream.losses.back());
  EXPECT_EQ(final_job.spec().name(), "tiny");

  EXPECT_EQ(listener.watchers(), 0);
  EXPECT_EQ(listener.watchers_opened(), 2);  // WaitUntilDone's and this one
}

TEST(JobManagerWatchTest, ResumesAfterAStepWithoutRepeatingSteps) {
  JobManager manager(JobManagerOptions{}, nullptr);
  absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(/*epochs=*/3));  // 4 steps an epoch
  ASSERT_OK(job);
  ASSERT_EQ(WaitUntilDone(manager, job->id()).state(), v1::SUCCEEDED);
  const std::vector<v1::WatchJobResponse> whole = WatchAll(manager, job->id());
  const StreamSummary all = CheckStream(whole, 0, 4096);

  // Resuming right after an epoch's last step repeats that epoch's summary first.
  std::vector<v1::WatchJobResponse> messages = WatchAll(manager, job->id(), 4);
  ASSERT_GE(messages.size(), 2u);
  ASSERT_TRUE(messages[0].has_epoch());
  EXPECT_EQ(messages[0].epoch().epoch(), 1);
  StreamSummary resumed = CheckStream(messages, 4, 4096);
  EXPECT_EQ(resumed.epochs, Range(1, 3));
  EXPECT_EQ(resumed.losses, std::vector<double>(all.losses.begin() + 4, all.losses.end()));
  EXPECT_THAT(resumed.states, ElementsAre(v1::SUCCEEDED));

  messages = WatchAll(manager, job->id(), 5);
  ASSERT_TRUE(messages[0].has_losses());
  EXPECT_EQ(messages[0].losses().first_step(), 6);
  resumed = CheckStream(messages, 5, 4096);
  EXPECT_EQ(resumed.epochs, Range(2, 3));
  EXPECT_EQ(resumed.losses.size(), 7u);

  // Past the end: only the terminal event.
  for (int64_t after_step : {int64_t{1000}, std::numeric_limits<int64_t>::max()}) {
    messages = WatchAll(manager, job->id(), after_step);
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].state().state(), v1::SUCCEEDED);
  }
}

TEST(JobManagerWatchTest, NegativeAfterStepIsInvalid) {
  JobManager manager(JobManagerOptions{}, nullptr);
  absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(1));
  ASSERT_OK(job);
  EXPECT_THAT(manager.Watch(job->id(), -1, [](const v1::WatchJobResponse&) { return true; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("after_step must be >= 0")));
}

// Two watchers from the start and one that stops mid-way and resumes with after_step, all
// attached before the job starts, so they read it live.
TEST(JobManagerWatchTest, ConcurrentAndResumedWatchersSeeEveryStepOnceInOrder) {
  JobManagerOptions options;
  options.max_points_per_message = 64;
  RecordingListener listener;
  JobManager manager(options, &listener);
  // A blocker holds the only worker until every watcher is attached to the job.
  absl::StatusOr<v1::Job> blocker = manager.Submit(EndlessJob("blocker"));
  ASSERT_OK(blocker);
  // 64 samples / batch 4 = 16 steps an epoch, 40 epochs = 640 steps.
  PreparedJob spec = TinyJob(/*epochs=*/40);
  spec.train_spec.training.batch_size = 4;
  absl::StatusOr<v1::Job> job = manager.Submit(std::move(spec));
  ASSERT_OK(job);
  constexpr int64_t kSteps = 640;

  std::vector<std::vector<v1::WatchJobResponse>> seen(3);
  std::vector<absl::Notification> attached(3);
  std::vector<absl::Status> results(3);
  std::vector<std::thread> watchers;
  for (int w = 0; w < 2; ++w) {
    watchers.emplace_back([&, w] {
      results[w] = manager.Watch(job->id(), 0, [&, w](const v1::WatchJobResponse& message) {
        if (!attached[w].HasBeenNotified()) attached[w].Notify();
        seen[w].push_back(message);
        return true;
      });
    });
  }
  // The third stops once it has step 100 or later, then resumes after its last step.
  int64_t resume_after = 0;
  std::vector<v1::WatchJobResponse> second_half;
  absl::Status resumed_status;
  watchers.emplace_back([&] {
    results[2] = manager.Watch(job->id(), 0, [&](const v1::WatchJobResponse& message) {
      if (!attached[2].HasBeenNotified()) attached[2].Notify();
      seen[2].push_back(message);
      if (message.has_losses()) {
        resume_after = message.losses().first_step() + message.losses().losses_size() - 1;
        return resume_after < 100;
      }
      return true;
    });
    resumed_status = manager.Watch(job->id(), resume_after, [&](const v1::WatchJobResponse& m) {
      second_half.push_back(m);
      return true;
    });
  });
  for (absl::Notification& notification : attached) notification.WaitForNotification();
  ASSERT_OK(manager.Cancel(blocker->id()));
  for (std::thread& watcher : watchers) watcher.join();

  EXPECT_OK(results[0]);
  EXPECT_OK(results[1]);
  EXPECT_THAT(results[2], StatusIs(absl::StatusCode::kCancelled, HasSubstr(job->id())));
  EXPECT_OK(resumed_status);
  const StreamSummary first = CheckStream(seen[0], 0, 64);
  CheckStream(seen[1], 0, 64);
  ASSERT_EQ(first.losses.size(), static_cast<size_t>(kSteps));
  EXPECT_EQ(first.epochs, Range(1, 40));
  EXPECT_THAT(first.states, ElementsAre(v1::QUEUED, v1::RUNNING, v1::SUCCEEDED));
  // Each watcher woke at its own moments, so their batches differ; their events may not.
  EXPECT_EQ(StreamEvents(seen[1]), StreamEvents(seen[0]));

  // The resumed watcher: its two streams join into the whole run, no step or event twice
  // (it stopped on losses, before any summary that followed them).
  ASSERT_GE(resume_after, 100);
  std::vector<v1::WatchJobResponse> joined = seen[2];
  joined.insert(joined.end(), second_half.begin(), second_half.end());
  CheckStream(joined, 0, 64);
  EXPECT_EQ(StreamEvents(joined), StreamEvents(seen[0]));

  EXPECT_EQ(listener.watchers(), 0);
  EXPECT_EQ(listener.fell_behind(), 0);
  // Two whole streams plus the two halves, less the message the third refused (its send
  // returned false, so it does not count as sent); the blocker had no watcher.
  const int refused = seen[2].back().losses().losses_size();
  EXPECT_EQ(listener.points_sent(), 3 * kSteps - refused);
}

// Watchers read when training wakes them, and one wake-up can leave more than one read's
// worth (64 messages): the rest must follow at once. The heartbeat is an hour away, so a
// watcher that waited for another wake-up after the job's last one would never end.
TEST(JobManagerWatchTest, WatcherReadsOnWhatAWakeUpLeftWithoutWaitingForAnother) {
  JobManagerOptions options;
  options.heartbeat_interval = absl::Hours(1);
  options.max_points_per_message = 2;
  JobManager manager(options, nullptr);
  // A blocker holds the only worker until the watcher is attached to the queued job.
  absl::StatusOr<v1::Job> blocker = manager.Submit(EndlessJob("blocker"));
  ASSERT_OK(blocker);
  // 4 steps an epoch, 200 epochs: ~600 messages, most of them after the last wake-up.
  absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(/*epochs=*/200));
  ASSERT_OK(job);
  absl::Notification attached;
  std::vector<v1::WatchJobResponse> messages;
  absl::Status status;
  std::thread watcher([&] {
    status = manager.Watch(job->id(), 0, [&](const v1::WatchJobResponse& message) {
      if (!attached.HasBeenNotified()) attached.Notify();
      messages.push_back(message);
      return true;
    });
  });
  attached.WaitForNotification();
  ASSERT_OK(manager.Cancel(blocker->id()));
  watcher.join();
  EXPECT_OK(status);
  const StreamSummary stream = CheckStream(messages, 0, 2);
  EXPECT_EQ(stream.losses.size(), 800u);
  EXPECT_EQ(stream.epochs, Range(1, 200));
  EXPECT_THAT(stream.states, ElementsAre(v1::QUEUED, v1::RUNNING, v1::SUCCEEDED));
}

TEST(JobManagerWatchTest, QuietStreamSendsHeartbeats) {
  JobManagerOptions options;
  options.workers = 0;  // the job stays queued: nothing else to send
  options.heartbeat_interval = absl::Milliseconds(5);
  JobManager manager(options, nullptr);
  absl::StatusOr<v1::Job> job = manager.Submit(TinyJob(1));
  ASSERT_OK(job);
  std::vector<v1::WatchJobResponse> messages;
  absl::Status status = manager.Watch(job->id(), 0, [&](const v1::WatchJobResponse& message) {
    messages.push_back(message);
    return messages.size() < 4;
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kCancelled, HasSubstr("stopped reading")));
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[0].state().state(), v1::QUEUED);
  for (int i = 1; i < 4; ++i) {
    ASSERT_TRUE(messages[i].has_heartbeat()) << i;
    EXPECT_EQ(messages[i].heartbeat().latest_step(), 0);
    EXPECT_GT(messages[i].heartbeat().time().seconds(), 0);
  }
  EXPECT_GE(FromTimestamp(messages[3].heartbeat().time()),
            FromTimestamp(messages[1].heartbeat().time()));
}

TEST(JobManagerWatchTest, WatcherThatNeverReadsDoesNotBlockTraining) {
  JobManagerOptions options;
  options.max_points_per_message = 16;
  options.watcher_fell_behind_steps = 50;
  options.workers = 1;
  RecordingListener listener;
  JobManager manager(options, &listener);
  // A blocker holds the only worker until the watcher is attached to the queued job.
  absl::StatusOr<v1::Job> blocker = manager.Submit(EndlessJob("blocker"));
  ASSERT_OK(blocker);
  PreparedJob spec = TinyJob(/*epochs=*/100);  // 400 steps
  absl::StatusOr<v1::Job> job = manager.Submit(std::move(spec));
  ASSERT_OK(job);

  absl::Notification blocked;
  absl::Notification release;
  std::vector<v1::WatchJobResponse> messages;
  absl::Status status;
  std::thread stuck([&] {
    status = manager.Watch(job->id(), 0, [&](const v1::WatchJobResponse& message) {
      messages.push_back(message);
      if (!blocked.HasBeenNotified()) {
        blocked.Notify();
        release.WaitForNotification();  // a client that does not read
      }
      return true;
    });
  });
  blocked.WaitForNotification();
  ASSERT_OK(manager.Cancel(blocker->id()));
  // The job finishes while its watcher is stuck in its first send.
  while (!IsTerminal(manager.Get(job->id())->state())) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(manager.Get(job->id())->state(), v1::SUCCEEDED);
  EXPECT_EQ(messages.size(), 1u);
  release.Notify();
  stuck.join();

  EXPECT_OK(status);
  const StreamSummary stream = CheckStream(messages, 0, 16);
  EXPECT_EQ(stream.losses.size(), 400u);
  EXPECT_EQ(stream.epochs, Range(1, 100));
  EXPECT_EQ(listener.fell_behind(), 1);  // reported once, though it lagged for many reads
}

TEST(JobManagerWatchTest, ShutdownEndsStreamsWithTheTerminalEvent) {
  JobManager manager(JobManagerOptions{}, nullptr);
  absl::StatusOr<v1::Job> job = manager.Submit(EndlessJob());
  ASSERT_OK(job);
  WaitForStep(manager, job->id(), 1);
  std::vector<v1::WatchJobResponse> messages;
  absl::Notification receiving;
  absl::Status status;
  std::thread watcher([&] {
    status = manager.Watch(job->id(), 0, [&](const v1::WatchJobResponse& message) {
      messages.push_back(message);
      if (message.has_losses() && !receiving.HasBeenNotified()) receiving.Notify();
      return true;
    });
  });
  receiving.WaitForNotification();
  manager.Shutdown();
  watcher.join();
  EXPECT_OK(status);
  const StreamSummary stream = CheckStream(messages, 0, 4096);
  EXPECT_THAT(stream.states, ElementsAre(v1::QUEUED, v1::RUNNING, v1::CANCELLED));
  EXPECT_EQ(static_cast<int64_t>(stream.losses.size()), manager.Get(job->id())->progress().step());
}

}  // namespace
}  // namespace descent::server
