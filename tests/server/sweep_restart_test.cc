// A sweep whose server restarts mid-way: its trials' jobs resume, the trials
// not yet started start, the decisions made before stand with their reasons, the early-
// stopping rule's records carry over to the trials decided after, and no trial is sampled or
// submitted twice.
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/conversion/spec_conversion.h"
#include "server/jobs/job_manager.h"
#include "server/sweeps/sweep_manager.h"
#include "tests/server/store_under_test.h"
#include "tests/server/sweep_test_specs.h"
#include "tests/testing/json_proto.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::server::testing::StoreKind;
using ::descent::server::testing::StoreUnderTest;
using ::descent::server::testing::kFourTrialAshaSweep;
using ::descent::testing::ParseJsonProto;
using ::testing::HasSubstr;


class SweepRestartTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override { DESCENT_START_STORE_OR_SKIP(under_test_); }
  void TearDown() override { Stop(); }

  // As descentd starts: the job manager, the sweep manager (so that recovered trial jobs get
  // their epoch gates), the jobs recovered, then the sweeps, then the workers.
  SweepManager& Start() {
    absl::StatusOr<std::unique_ptr<JobStore>> store = under_test_->Open();
    EXPECT_OK(store);
    store_ = *std::move(store);
    JobManagerOptions options;
    options.workers = 1;
    options.blas_threads = 1;
    options.store = store_.get();
    options.checkpoint_every_steps = 5;
    options.start_workers = false;
    options.prepare = [this](const v1::SubmitJobRequest& request) -> absl::StatusOr<PreparedJob> {
      absl::StatusOr<PreparedJob> job = PrepareJob(request);
      if (job.ok() && sweeps_ != nullptr) sweeps_->GateTrial(&*job);
      return job;
    };
    jobs_ = std::make_unique<JobManager>(options, nullptr);
    sweeps_ = std::make_unique<SweepManager>(
        jobs_.get(), nullptr,
        [](const v1::JobSpec& spec) {
          v1::SubmitJobRequest request;
          *request.mutable_spec() = spec;
          return PrepareJob(request);
        },
        store_->sweeps());
    EXPECT_OK(jobs_->Recover().status());
    EXPECT_OK(sweeps_->Recover().status());
    jobs_->StartWorkers("replica-a:50051");
    // On PostgreSQL: the sweep given up at the stop is claimed again.
    sweeps_->StartLeasing(LeaseHolder{"replica-a:50051", ++instance_, absl::Seconds(30)});
    return *sweeps_;
  }

  // As descentd stops: the jobs checkpoint and stay RUNNING, the sweep manager's followers end.
  void Stop() {
    if (jobs_ != nullptr) jobs_->Shutdown();
    if (sweeps_ != nullptr) sweeps_->Shutdown();
    sweeps_.reset();
    jobs_.reset();
    store_.reset();
  }

  std::unique_ptr<StoreUnderTest> under_test_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<JobManager> jobs_;
  std::unique_ptr<SweepManager> sweeps_;
  int64_t instance_ = 0;  // this process's, restart after restart
};

INSTANTIATE_TEST_SUITE_P(Stores, SweepRestartTest,
                         ::testing::Values(StoreKind::kSqlite, StoreKind::kPostgres),
                         ::descent::server::testing::StoreKindName);

TEST_P(SweepRestartTest, ASweepRestartedMidWayFinishesAsIfNothingHappened) {
  const auto created = Start().Create(ParseJsonProto<v1::SweepSpec>(kFourTrialAshaSweep));
  ASSERT_OK(created.status());
  const std::string id = created->id();
  // Until the third trial reported its first epoch: the first has run to its end by then,
  // the rule has stopped the second, and the third is running (or just ended).
  std::vector<v1::TrialEvent> before;
  const absl::Status watched = sweeps_->Watch(
      id, 0,
      [&](const v1::WatchSweepResponse& message) {
        if (message.has_trial()) before.push_back(message.trial());
        return !(message.has_trial() && message.trial().trial() == 2 &&
                 message.trial().kind() == v1::TrialEvent::REPORTED);
      },
      [] { return true; });
  ASSERT_EQ(watched.code(), absl::StatusCode::kCancelled) << watched;
  std::string reason;
  for (const v1::TrialEvent& event : before) {
    if (event.kind() == v1::TrialEvent::STOPPED) {
      EXPECT_EQ(event.trial(), 1);
      reason = event.reason();
    }
  }
  EXPECT_THAT(reason, HasSubstr("stopped at step 20: validation loss"));
  Stop();

  SweepManager& sweeps = Start();
  const auto restarted = sweeps.Get(id);
  ASSERT_OK(restarted.status());
  EXPECT_EQ(restarted->trials(1).state(), v1::TRIAL_STOPPED);
  EXPECT_EQ(restarted->trials(1).stop_reason(), reason);
  const int64_t steps_at_restart = restarted->steps_run();
  const int64_t third_at_restart = restarted->trials(2).step();
  std::vector<v1::WatchSweepResponse> messages;
  ASSERT_OK(sweeps.Watch(
      id, 0,
      [&](const v1::WatchSweepResponse& message) {
        messages.push_back(message);
        return true;
      },
      [] { return true; }));
  ASSERT_TRUE(messages.back().has_sweep());
  const v1::Sweep& sweep = messages.back().sweep();
  EXPECT_EQ(sweep.state(), v1::SWEEP_SUCCEEDED);
  EXPECT_EQ(sweep.trials(0).state(), v1::TRIAL_SUCCEEDED);
  EXPECT_EQ(sweep.trials(1).stop_reason(), reason);
  // The first two trials are the jobs they were before the restart.
  for (const v1::TrialEvent& event : before) {
    if (event.kind() == v1::TrialEvent::STARTED) {
      EXPECT_EQ(sweep.trials(event.trial()).job_id(), event.job_id()) << event.trial();
    }
  }
  // The third ran the first's trajectory to its end (resumed from its checkpoint if the
  // restart caught it running), so it ends where the first ended; its last epochs reached the
  // rule through the epoch gate its recovered job was given again.
  EXPECT_EQ(sweep.trials(2).state(), v1::TRIAL_SUCCEEDED);
  EXPECT_EQ(sweep.trials(2).objective(), sweep.trials(0).objective());
  ASSERT_GT(sweep.trials(2).reports_size(), 0);
  EXPECT_EQ(sweep.trials(2).reports().rbegin()->step(), 300);
  // The fourth was decided at the first rung against what the first three recorded there,
  // two of them before the restart: without those records it would have been the first or
  // second there (the first always goes on; the third equals the first).
  EXPECT_EQ(sweep.trials(3).state(), v1::TRIAL_STOPPED);
  EXPECT_THAT(sweep.trials(3).stop_reason(),
              HasSubstr("stopped at step 20: validation loss"));
  EXPECT_THAT(sweep.trials(3).stop_reason(), HasSubstr("of 3 trials at that step"));
  ASSERT_TRUE(sweep.has_best_trial());
  EXPECT_EQ(sweep.best_trial(), 0);
  EXPECT_GE(sweep.steps_run(), steps_at_restart);
  EXPECT_LT(sweep.steps_run(), sweep.steps_full());

  // The events continue the stored ones: numbered 1, 2, ..., each trial started once.
  std::vector<int> starts(4);
  int64_t sequence = 0;
  for (const v1::WatchSweepResponse& message : messages) {
    if (!message.has_trial()) continue;
    EXPECT_EQ(message.trial().sequence(), ++sequence);
    if (message.trial().kind() == v1::TrialEvent::STARTED) ++starts[message.trial().trial()];
  }
  EXPECT_EQ(starts, std::vector<int>({1, 1, 1, 1}));
  // One job per trial, however often the server restarted.
  const auto listed = jobs_->List(v1::JOB_STATE_UNSPECIFIED, 100, "");
  ASSERT_OK(listed.status());
  std::set<std::string> trial_jobs;
  for (const v1::Job& job : listed->jobs) {
    if (job.spec().group() == id) trial_jobs.insert(job.id());
  }
  EXPECT_EQ(trial_jobs.size(), 4u);
  std::printf("sweep restart: %lld steps run at the restart (the third trial at step %lld), "
              "%lld at the end of %lld without early stopping; best trial %d\n",
              static_cast<long long>(steps_at_restart), static_cast<long long>(third_at_restart),
              static_cast<long long>(sweep.steps_run()),
              static_cast<long long>(sweep.steps_full()), sweep.best_trial());
}

}  // namespace
}  // namespace descent::server
