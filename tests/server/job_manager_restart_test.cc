// A job manager restarted on the same job store: unfinished jobs continue (running ones from
// their checkpoint, on the same trajectory), finished ones are served as they ended.
#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/jobs/job_manager.h"
#include "server/observability/metrics.h"
#include "server/conversion/spec_conversion.h"
#include "tests/server/job_test_helpers.h"
#include "tests/server/store_under_test.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/text_proto.h"
#include "tests/testing/stream_events.h"

namespace descent::server {
namespace {

using ::descent::server::testing::CheckStream;
using ::descent::server::testing::StoreKind;
using ::descent::server::testing::StoreUnderTest;
using ::descent::server::testing::StreamSummary;
using ::descent::server::testing::WaitForStep;
using ::descent::server::testing::WatchAll;
using ::descent::testing::ParseTextProto;
using ::descent::testing::StreamEvents;
using ::testing::ElementsAre;
using ::testing::SizeIs;

// 13-16-1 on 64 house_prices rows, a quarter held out for validation, batch 16: 3 steps an
// epoch.
v1::SubmitJobRequest Request(int epochs, const std::string& name = "restartable") {
  v1::SubmitJobRequest request;
  *request.mutable_spec() = ParseTextProto<v1::JobSpec>(R"pb(
    dataset { builtin { name: "house_prices" samples: 64 seed: 5 } }
    model { hidden_layers { units: 16 } }
    loss: MEAN_SQUARED_ERROR
    optimizer { adam { learning_rate: 0.001 } }
    training { batch_size: 16 seed: 11 validation_fraction: 0.25 }
  )pb");
  request.mutable_spec()->set_name(name);
  request.mutable_spec()->mutable_training()->set_epochs(epochs);
  return request;
}

PreparedJob Prepared(const v1::SubmitJobRequest& request) {
  absl::StatusOr<PreparedJob> job = PrepareJob(request);
  EXPECT_OK(job);
  return *std::move(job);
}

bool SameBits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

class JobManagerRestartTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override { DESCENT_START_STORE_OR_SKIP(under_test_); }

  // A manager on the store under test (closing the previous one first), with its stored jobs
  // recovered; *recovered receives how many were queued or resumed.
  JobManager& Restart(int workers, int64_t checkpoint_every_steps = 5, int* recovered = nullptr) {
    manager_.reset();
    store_.reset();
    absl::StatusOr<std::unique_ptr<JobStore>> store = under_test_->Open();
    EXPECT_OK(store);
    store_ = *std::move(store);
    JobManagerOptions options;
    options.workers = workers;
    options.blas_threads = 1;
    options.store = store_.get();
    options.prepare = prepare_;
    options.checkpoint_every_steps = checkpoint_every_steps;
    // As descentd does: the workers start once the stored jobs are recovered.
    options.start_workers = false;
    manager_ = std::make_unique<JobManager>(options, listener_);
    absl::StatusOr<int> count = manager_->Recover();
    EXPECT_OK(count);
    if (recovered != nullptr) *recovered = count.value_or(-1);
    manager_->StartWorkers("replica-a:50051");
    return *manager_;
  }

  // Destroyed bottom-up: the manager before its store, both before the store's file or
  // database.
  std::unique_ptr<StoreUnderTest> under_test_;
  // How Restart's manager prepares stored jobs again.
  std::function<absl::StatusOr<PreparedJob>(const v1::SubmitJobRequest&)> prepare_ =
      [](const v1::SubmitJobRequest& request) { return PrepareJob(request); };
  // What Restart's manager reports to (may be null); must outlive the manager.
  JobEventListener* listener_ = nullptr;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<JobManager> manager_;
};

INSTANTIATE_TEST_SUITE_P(Stores, JobManagerRestartTest,
                         ::testing::Values(StoreKind::kSqlite, StoreKind::kPostgres),
                         ::descent::server::testing::StoreKindName);

// The losses of a run of `request` that nothing interrupts (a manager without a store).
std::vector<double> UninterruptedLosses(const v1::SubmitJobRequest& request) {
  JobManagerOptions options;
  options.blas_threads = 1;
  JobManager manager(options, nullptr);
  absl::StatusOr<v1::Job> job = manager.Submit(Prepared(request));
  EXPECT_OK(job);
  return CheckStream(WatchAll(manager, job->id()), 0, 4096).losses;
}

TEST_P(JobManagerRestartTest, ARunningJobResumesFromItsCheckpointOnTheSameTrajectory) {
  // 48 training rows (a quarter is validation): 3 steps an epoch, 60000 steps.
  const v1::SubmitJobRequest request = Request(/*epochs=*/20000);
  const std::vector<double> expected = UninterruptedLosses(request);
  ASSERT_THAT(expected, SizeIs(60000));

  std::string id;
  int64_t seen_before_stop = 0;
  {
    JobManager& manager = Restart(/*workers=*/1, /*checkpoint_every_steps=*/97);
    absl::StatusOr<v1::Job> job = manager.Submit(Prepared(request));
    ASSERT_OK(job);
    id = job->id();
    WaitForStep(manager, id, 30);
    // A watcher that is there when the server stops: its stream ends UNAVAILABLE after the
    // steps recorded, never with a terminal event.
    std::vector<v1::WatchJobResponse> before;
    absl::Notification watching;
    std::thread watcher([&] {
      absl::Status status = manager.Watch(id, 0, [&](const v1::WatchJobResponse& message) {
        before.push_back(message);
        if (message.has_losses() && !watching.HasBeenNotified()) watching.Notify();
        return true;
      });
      EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
    });
    watching.WaitForNotification();
    manager.Shutdown();
    watcher.join();
    for (const v1::WatchJobResponse& message : before) {
      EXPECT_FALSE(message.has_state() && message.state().state() != v1::QUEUED &&
                   message.state().state() != v1::RUNNING)
          << "a stopping server must not end the job";
      if (message.has_losses()) {
        EXPECT_EQ(message.losses().first_step(), seen_before_stop + 1);
        seen_before_stop += message.losses().losses_size();
      }
    }
    EXPECT_EQ(manager.Get(id)->state(), v1::RUNNING);
    EXPECT_EQ(manager.Get(id)->progress().step(), seen_before_stop);
    ASSERT_LT(seen_before_stop, 60000) << "the job finished before the server stopped";
  }

  int recovered = 0;
  JobManager& manager = Restart(/*workers=*/1, /*checkpoint_every_steps=*/97, &recovered);
  EXPECT_EQ(recovered, 1);
  // The watcher carries on from its own last step: nothing repeated, nothing missing.
  const std::vector<v1::WatchJobResponse> after = WatchAll(manager, id, seen_before_stop);
  const StreamSummary continued = CheckStream(after, seen_before_stop, 4096);
  ASSERT_EQ(seen_before_stop + static_cast<int64_t>(continued.losses.size()), 60000);
  EXPECT_EQ(continued.states.back(), v1::SUCCEEDED);
  EXPECT_THAT(continued.resumed_at, ElementsAre(seen_before_stop));
  // The whole history once more, from step 0: every step exactly once, bit-equal to the
  // uninterrupted run, with the resumption where the first server stopped.
  const StreamSummary replay = CheckStream(WatchAll(manager, id), 0, 4096);
  EXPECT_TRUE(SameBits(replay.losses, expected));
  EXPECT_THAT(replay.resumed_at, ElementsAre(seen_before_stop));
  EXPECT_THAT(replay.states, ElementsAre(v1::QUEUED, v1::RUNNING, v1::SUCCEEDED));
  std::vector<int> all_epochs(20000);
  for (int i = 0; i < 20000; ++i) all_epochs[static_cast<size_t>(i)] = i + 1;
  EXPECT_EQ(replay.epochs, all_epochs);
}

TEST_P(JobManagerRestartTest, QueuedJobsStayQueuedInTheirOrderWithTheirIdsAndTimes) {
  std::vector<v1::Job> submitted;
  {
    JobManager& manager = Restart(/*workers=*/0);
    for (const char* name : {"first", "second", "third"}) {
      absl::StatusOr<v1::Job> job = manager.Submit(Prepared(Request(2, name)));
      ASSERT_OK(job);
      submitted.push_back(*job);
    }
    ASSERT_OK(manager.Cancel(submitted[1].id()).status());
  }
  int recovered = 0;
  JobManager& manager = Restart(/*workers=*/0, 5, &recovered);
  EXPECT_EQ(recovered, 2);
  absl::StatusOr<JobPage> page = manager.List(v1::JOB_STATE_UNSPECIFIED, 0, "");
  ASSERT_OK(page);
  ASSERT_THAT(page->jobs, SizeIs(3));
  // Newest first, as before the restart.
  EXPECT_EQ(page->jobs[0].id(), submitted[2].id());
  EXPECT_EQ(page->jobs[1].id(), submitted[1].id());
  EXPECT_EQ(page->jobs[2].id(), submitted[0].id());
  EXPECT_EQ(page->jobs[0].state(), v1::QUEUED);
  EXPECT_EQ(page->jobs[1].state(), v1::CANCELLED);
  EXPECT_EQ(page->jobs[2].state(), v1::QUEUED);
  EXPECT_EQ(page->jobs[2].create_time().seconds(), submitted[0].create_time().seconds());
  EXPECT_EQ(page->jobs[2].create_time().nanos(), submitted[0].create_time().nanos());
  EXPECT_EQ(page->jobs[2].spec().name(), "first");

  // They run in submission order once a worker is there, and new jobs get new ids.
  manager_.reset();
  JobManager& working = Restart(/*workers=*/1);
  absl::StatusOr<v1::Job> fourth = working.Submit(Prepared(Request(1, "fourth")));
  ASSERT_OK(fourth);
  for (const v1::Job& job : submitted) EXPECT_NE(fourth->id(), job.id());
  const v1::Job last = testing::WaitUntilDone(working, fourth->id());
  EXPECT_EQ(last.state(), v1::SUCCEEDED);
  const v1::Job first = *working.Get(submitted[0].id());
  const v1::Job third = *working.Get(submitted[2].id());
  EXPECT_EQ(first.state(), v1::SUCCEEDED);
  EXPECT_EQ(third.state(), v1::SUCCEEDED);
  EXPECT_LE(absl::FromUnixNanos(first.end_time().seconds() * 1'000'000'000 + first.end_time().nanos()),
            absl::FromUnixNanos(third.start_time().seconds() * 1'000'000'000 +
                                third.start_time().nanos()));
}

TEST_P(JobManagerRestartTest, FinishedJobsAreServedAsTheyEnded) {
  std::string id;
  v1::Job done;
  std::vector<v1::WatchJobResponse> stream;
  TrainedModel model;
  {
    JobManager& manager = Restart(/*workers=*/1);
    absl::StatusOr<v1::Job> job = manager.Submit(Prepared(Request(5)));
    ASSERT_OK(job);
    id = job->id();
    stream = WatchAll(manager, id);
    CheckStream(stream, 0, 4096);
    done = *manager.Get(id);
    ASSERT_EQ(done.state(), v1::SUCCEEDED);
    EXPECT_EQ(done.runner(), "replica-a:50051");
    absl::StatusOr<TrainedModel> trained = manager.Model(id);
    ASSERT_OK(trained);
    model = *trained;
  }
  int recovered = -1;
  JobManager& manager = Restart(/*workers=*/1, 5, &recovered);
  EXPECT_EQ(recovered, 0);
  absl::StatusOr<v1::Job> again = manager.Get(id);
  ASSERT_OK(again);
  // steps_per_second is derived from the times, which survive as stored.
  EXPECT_EQ(again->SerializeAsString(), done.SerializeAsString());
  // The replay holds the events the live stream held, not its framing: live, points came in
  // batches of whatever had accumulated when the watcher woke, with heartbeats if it waited.
  const std::vector<v1::WatchJobResponse> replay = WatchAll(manager, id);
  const StreamSummary replayed = CheckStream(replay, 0, 4096);
  EXPECT_EQ(replayed.losses.size(), 15u);
  EXPECT_THAT(replayed.states, ElementsAre(v1::QUEUED, v1::RUNNING, v1::SUCCEEDED));
  EXPECT_EQ(StreamEvents(replay), StreamEvents(stream));
  absl::StatusOr<TrainedModel> restored = manager.Model(id);
  ASSERT_OK(restored);
  EXPECT_EQ(restored->job_id, id);
  EXPECT_EQ(restored->spec.SerializeAsString(), model.spec.SerializeAsString());
  ASSERT_EQ(restored->parameters.size(), model.parameters.size());
  for (size_t i = 0; i < model.parameters.size(); ++i) {
    EXPECT_EQ(restored->parameters[i].weight.values(), model.parameters[i].weight.values());
    EXPECT_EQ(restored->parameters[i].bias, model.parameters[i].bias);
  }
  EXPECT_EQ(restored->feature_names, model.feature_names);
}

TEST_P(JobManagerRestartTest, ACancelWhileCheckpointingEveryStepStaysCancelled) {
  std::string id;
  {
    JobManager& manager = Restart(/*workers=*/1, /*checkpoint_every_steps=*/1);
    absl::StatusOr<v1::Job> job = manager.Submit(Prepared(Request(1'000'000)));
    ASSERT_OK(job);
    id = job->id();
    WaitForStep(manager, id, 20);
    ASSERT_OK(manager.Cancel(id).status());
    EXPECT_EQ(testing::WaitUntilDone(manager, id).state(), v1::CANCELLED);
  }
  int recovered = -1;
  JobManager& manager = Restart(/*workers=*/1, 1, &recovered);
  EXPECT_EQ(recovered, 0);
  const v1::Job job = *manager.Get(id);
  EXPECT_EQ(job.state(), v1::CANCELLED);
  const StreamSummary replay = CheckStream(WatchAll(manager, id), 0, 4096);
  EXPECT_EQ(static_cast<int64_t>(replay.losses.size()), job.progress().step());
  EXPECT_GE(job.progress().step(), 20);
  EXPECT_TRUE(replay.resumed_at.empty());
}

TEST_P(JobManagerRestartTest, AJobThatCannotBePreparedAgainFailsWithTheReasonAndStaysFailed) {
  std::string id;
  {
    JobManager& manager = Restart(/*workers=*/0);
    absl::StatusOr<v1::Job> job = manager.Submit(Prepared(Request(2)));
    ASSERT_OK(job);
    id = job->id();
  }
  prepare_ = [](const v1::SubmitJobRequest&) -> absl::StatusOr<PreparedJob> {
    return absl::NotFoundError("dataset \"gone\" not found");
  };
  int recovered = -1;
  Restart(/*workers=*/1, 5, &recovered);
  // SQLite: it fails at Recover. A shared store's unfinished jobs are claimed by the workers
  // after Recover, which counts them all: it fails when claimed.
  EXPECT_EQ(recovered, GetParam() == StoreKind::kSqlite ? 0 : 1);
  const v1::Job failed = testing::WaitUntilDone(*manager_, id);
  EXPECT_EQ(failed.state(), v1::FAILED);
  EXPECT_THAT(failed.error(), ::testing::AllOf(::testing::HasSubstr("cannot continue after the restart"),
                                               ::testing::HasSubstr("dataset \"gone\" not found")));
  prepare_ = [](const v1::SubmitJobRequest& request) { return PrepareJob(request); };
  JobManager& manager = Restart(/*workers=*/1, 5, &recovered);
  EXPECT_EQ(recovered, 0);
  EXPECT_EQ(manager.Get(id)->state(), v1::FAILED);
  EXPECT_EQ(manager.Get(id)->error(), failed.error());
}

// The job counters' values in one scrape, summed over their labels.
struct JobCounts {
  double submitted = 0, recovered = 0, recovered_running = 0, finished = 0, running = 0, queued = 0;

  explicit JobCounts(const std::vector<prometheus::MetricFamily>& families) {
    for (const prometheus::MetricFamily& family : families) {
      for (const prometheus::ClientMetric& series : family.metric) {
        if (family.name == "descent_jobs_submitted_total") submitted += series.counter.value;
        if (family.name == "descent_jobs_finished_total") finished += series.counter.value;
        if (family.name == "descent_jobs_running") running += series.gauge.value;
        if (family.name == "descent_jobs_queued") queued += series.gauge.value;
        if (family.name == "descent_jobs_recovered_total") {
          recovered += series.counter.value;
          for (const prometheus::ClientMetric::Label& label : series.label) {
            if (label.name == "state" && label.value == "running") {
              recovered_running += series.counter.value;
            }
          }
        }
      }
    }
  }
  // The identity the metrics promise in every scrape (metrics.h).
  bool AddUp() const { return submitted + recovered == finished + running + queued; }
};

// The counts once `done` holds for them (a shared store's jobs are recovered when a worker
// claims them, after Recover): polled, at most a minute.
template <typename Done>
JobCounts CountsOnce(ServiceMetrics& metrics, Done done) {
  const absl::Time deadline = absl::Now() + absl::Minutes(1);
  JobCounts counts(metrics.Collect());
  while (!done(counts) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
    counts = JobCounts(metrics.Collect());
  }
  return counts;
}

// Counters count what happened in their own process. A job accepted before a restart and
// finished after it is recovered (not submitted) in the second process, so both processes'
// counters add up, though the second finishes jobs it never accepted.
TEST_P(JobManagerRestartTest, JobCountersAddUpInEachProcessAcrossARestart) {
  ServiceMetrics first_process;
  listener_ = &first_process;
  JobManager& first = Restart(/*workers=*/1);
  absl::StatusOr<v1::Job> done = first.Submit(Prepared(Request(2, "done")));
  ASSERT_OK(done);
  ASSERT_EQ(testing::WaitUntilDone(first, done->id()).state(), v1::SUCCEEDED);
  absl::StatusOr<v1::Job> running = first.Submit(Prepared(Request(1'000'000, "long")));
  ASSERT_OK(running);
  WaitForStep(first, running->id(), 10);  // past its checkpoint at step 5
  absl::StatusOr<v1::Job> queued = first.Submit(Prepared(Request(2, "waits")));
  ASSERT_OK(queued);  // behind the long job on the only worker
  JobCounts before_stop(first_process.Collect());
  EXPECT_TRUE(before_stop.AddUp());
  first.Shutdown();  // the long job stays RUNNING, the other QUEUED, for the next start
  const JobCounts stopped(first_process.Collect());
  EXPECT_EQ(stopped.submitted, 3);
  EXPECT_EQ(stopped.finished, 1);
  EXPECT_EQ(stopped.running, 1);
  EXPECT_EQ(stopped.queued, 1);
  EXPECT_TRUE(stopped.AddUp());

  ServiceMetrics second_process;
  listener_ = &second_process;
  JobManager& second = Restart(/*workers=*/1);
  const JobCounts recovered(second_process.Collect());
  EXPECT_EQ(recovered.submitted, 0);
  if (GetParam() == StoreKind::kSqlite) {  // a shared store's jobs are recovered when claimed
    EXPECT_EQ(recovered.recovered, 2);
    EXPECT_EQ(recovered.recovered_running, 1);
  }
  EXPECT_TRUE(recovered.AddUp());
  ASSERT_OK(second.Cancel(running->id()));
  EXPECT_EQ(testing::WaitUntilDone(second, running->id()).state(), v1::CANCELLED);
  EXPECT_EQ(testing::WaitUntilDone(second, queued->id()).state(), v1::SUCCEEDED);
  const JobCounts ended(second_process.Collect());
  EXPECT_EQ(ended.recovered, 2);
  EXPECT_EQ(ended.recovered_running, 1);
  EXPECT_EQ(ended.finished, 2);
  EXPECT_EQ(ended.running + ended.queued, 0);
  EXPECT_GT(ended.finished, ended.submitted);  // what used to look like a counting bug
  EXPECT_TRUE(ended.AddUp());
  manager_.reset();  // before the listeners it reports to
}

// On a shared store a worker claims a stored job and loads it outside the manager's lock. A
// cancel that comes meanwhile claims the job too (a replica may claim again what it holds),
// recovers and ends it; the worker's copy then goes, so the job is recovered (and counted)
// once.
TEST_P(JobManagerRestartTest, ACancelWhileAWorkerLoadsAStoredJobRecoversItOnce) {
  if (GetParam() != StoreKind::kPostgres) {
    GTEST_SKIP() << "a single-box store recovers its jobs at start, before any call";
  }
  std::string id;
  {
    JobManager& first = Restart(/*workers=*/1);
    absl::StatusOr<v1::Job> running = first.Submit(Prepared(Request(1'000'000, "long")));
    ASSERT_OK(running);
    id = running->id();
    WaitForStep(first, id, 10);  // past its checkpoint at step 5
    first.Shutdown();            // it stays RUNNING, its lease given up
  }
  // The first preparation is the worker's load of the claimed job: held until the cancel,
  // which prepares the job again, has ended it.
  absl::Notification loading;
  absl::Notification release;
  std::atomic<int> preparations{0};
  prepare_ = [&](const v1::SubmitJobRequest& request) {
    if (preparations.fetch_add(1) == 0) {
      loading.Notify();
      release.WaitForNotification();
    }
    return PrepareJob(request);
  };
  ServiceMetrics metrics;
  listener_ = &metrics;
  absl::Cleanup stop = [&] {
    if (!release.HasBeenNotified()) release.Notify();
    manager_.reset();  // before the listener and the preparation it uses
  };
  JobManager& second = Restart(/*workers=*/1);
  loading.WaitForNotification();
  absl::StatusOr<v1::Job> cancelled = second.Cancel(id);
  ASSERT_OK(cancelled);
  EXPECT_EQ(cancelled->state(), v1::CANCELLED);
  release.Notify();

  // The only worker comes back from that claim to train the next job.
  absl::StatusOr<v1::Job> next = second.Submit(Prepared(Request(2, "next")));
  ASSERT_OK(next);
  EXPECT_EQ(testing::WaitUntilDone(second, next->id()).state(), v1::SUCCEEDED);
  EXPECT_EQ(testing::WaitUntilDone(second, id).state(), v1::CANCELLED);
  const JobCounts counts(metrics.Collect());
  EXPECT_EQ(counts.recovered, 1);
  EXPECT_EQ(counts.recovered_running, 1);
  EXPECT_EQ(counts.finished, 2);
  EXPECT_TRUE(counts.AddUp());
}

// A stored job that cannot continue is recovered and fails in the same process: counted
// both ways, so the identity holds.
TEST_P(JobManagerRestartTest, AJobFailingAtRecoveryIsCountedRecoveredAndFinished) {
  {
    JobManager& manager = Restart(/*workers=*/0);
    ASSERT_OK(manager.Submit(Prepared(Request(2))));
  }
  prepare_ = [](const v1::SubmitJobRequest&) -> absl::StatusOr<PreparedJob> {
    return absl::NotFoundError("dataset \"gone\" not found");
  };
  ServiceMetrics metrics;
  listener_ = &metrics;
  Restart(/*workers=*/1);
  const JobCounts counts =
      CountsOnce(metrics, [](const JobCounts& counts) { return counts.finished == 1; });
  EXPECT_EQ(counts.recovered, 1);
  EXPECT_EQ(counts.finished, 1);
  EXPECT_TRUE(counts.AddUp());
  manager_.reset();
}

}  // namespace
}  // namespace descent::server
