// Two replicas on one PostgreSQL database: exactly one drives a sweep (the one holding its
// lease), the other shows and watches it from the store; when the driver dies without giving
// its lease up, the other claims the sweep once the lease has expired and finishes it from
// what is stored: no trial sampled or submitted twice, decisions made before stand with their
// reasons, the rule's records carry over, and trials trained on either replica are stopped.
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/conversion/spec_conversion.h"
#include "server/jobs/job_manager.h"
#include "server/store/postgres/postgres_job_store.h"
#include "server/sweeps/sweep_manager.h"
#include "tests/server/store_under_test.h"
#include "tests/server/sweep_test_specs.h"
#include "tests/testing/json_proto.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::server::testing::PostgresUnderTest;
using ::descent::server::testing::kFourTrialAshaSweep;
using ::descent::testing::ParseJsonProto;
using ::descent::testing::StatusIs;
using ::testing::HasSubstr;

// Short, so that the takeover comes soon after the driver dies.
constexpr absl::Duration kLeaseTimeout = absl::Seconds(2);


// One descentd's worth, in process: its connection to the database, a job manager and the
// sweep manager, started as descentd starts them.
struct Replica {
  std::unique_ptr<JobStore> store;
  std::unique_ptr<JobManager> jobs;
  std::unique_ptr<SweepManager> sweeps;

  ~Replica() {
    if (jobs != nullptr) jobs->Shutdown();
    if (sweeps != nullptr) sweeps->Shutdown();
    sweeps.reset();
    jobs.reset();
    store.reset();
  }
};

class SweepReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DESCENT_POSTGRES_DATABASE_OR_SKIP(url);
    url_ = url;
    database_ = std::make_unique<PostgresUnderTest>(url);
  }

  std::unique_ptr<Replica> Start(const std::string& runner, int workers) {
    auto replica = std::make_unique<Replica>();
    absl::StatusOr<std::unique_ptr<PostgresJobStore>> store =
        PostgresJobStore::Open(url_, kLeaseTimeout);
    EXPECT_OK(store.status());
    if (!store.ok()) return nullptr;
    replica->store = *std::move(store);
    JobManagerOptions options;
    options.workers = workers;
    options.blas_threads = 1;
    options.store = replica->store.get();
    options.checkpoint_every_steps = 5;
    options.lease_timeout = kLeaseTimeout;
    options.start_workers = false;
    options.prepare = [sweeps = &replica->sweeps](
                          const v1::SubmitJobRequest& request) -> absl::StatusOr<PreparedJob> {
      absl::StatusOr<PreparedJob> job = PrepareJob(request);
      if (job.ok() && *sweeps != nullptr) (*sweeps)->GateTrial(&*job);
      return job;
    };
    replica->jobs = std::make_unique<JobManager>(options, nullptr);
    replica->sweeps = std::make_unique<SweepManager>(
        replica->jobs.get(), nullptr,
        [](const v1::JobSpec& spec) {
          v1::SubmitJobRequest request;
          *request.mutable_spec() = spec;
          return PrepareJob(request);
        },
        replica->store->sweeps());
    EXPECT_OK(replica->jobs->Recover().status());
    EXPECT_OK(replica->sweeps->Recover().status());
    replica->jobs->StartWorkers(runner);
    replica->sweeps->StartLeasing(
        LeaseHolder{runner, absl::Uniform<int64_t>(absl::BitGen(), 1, INT64_MAX), kLeaseTimeout});
    return replica;
  }

  // Whether the sweep's lease is held by `runner`.
  bool DrivenBy(const std::string& id, const std::string& runner) {
    return database_->QueryInt(absl::StrCat("SELECT count(*) FROM sweeps WHERE id = '", id,
                                            "' AND runner = '", runner, "'")) == 1;
  }

  std::string url_;
  std::unique_ptr<PostgresUnderTest> database_;
};

TEST_F(SweepReplicasTest, ASweepWhoseDriverDiesIsTakenOverAndFinishedByTheOtherReplica) {
  // A trains nothing: until it dies, every trial trains on B, and A's rule decides from the
  // trials' streams and stops them through B.
  std::unique_ptr<Replica> a = Start("replica-a:50051", 0);
  std::unique_ptr<Replica> b = Start("replica-b:50051", 1);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const auto created = a->sweeps->Create(ParseJsonProto<v1::SweepSpec>(kFourTrialAshaSweep));
  ASSERT_OK(created.status());
  const std::string id = created->id();
  EXPECT_TRUE(DrivenBy(id, "replica-a:50051"));
  // B shows the sweep and lists it, but does not drive it.
  ASSERT_OK(b->sweeps->Get(id).status());
  const auto listed = b->sweeps->List();
  ASSERT_OK(listed.status());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id(), id);

  // A dies as soon as its rule has stopped the second trial: it renews, writes, decides and
  // gives up nothing more.
  std::vector<v1::TrialEvent> before;
  const absl::Status watched = a->sweeps->Watch(
      id, 0,
      [&](const v1::WatchSweepResponse& message) {
        if (message.has_trial()) before.push_back(message.trial());
        if (!message.has_trial() || message.trial().kind() != v1::TrialEvent::STOPPED) return true;
        a->sweeps->Abandon();
        return false;
      },
      [] { return true; });
  const absl::Time died = absl::Now();
  ASSERT_EQ(watched.code(), absl::StatusCode::kCancelled) << watched;
  ASSERT_EQ(before.back().trial(), 1);
  const std::string reason = before.back().reason();
  EXPECT_THAT(reason, HasSubstr("stopped at step 20: validation loss"));
  EXPECT_TRUE(DrivenBy(id, "replica-a:50051"));
  a.reset();

  // Watched on B, from the store until B has claimed the sweep.
  std::vector<v1::WatchSweepResponse> after;
  ASSERT_OK(b->sweeps->Watch(
      id, 0,
      [&](const v1::WatchSweepResponse& message) {
        after.push_back(message);
        return true;
      },
      [] { return true; }));
  const absl::Duration took = absl::Now() - died;
  EXPECT_TRUE(DrivenBy(id, "replica-b:50051"));
  ASSERT_TRUE(after.back().has_sweep());
  const v1::Sweep& sweep = after.back().sweep();
  EXPECT_EQ(sweep.state(), v1::SWEEP_SUCCEEDED);
  EXPECT_EQ(sweep.trials(0).state(), v1::TRIAL_SUCCEEDED);
  EXPECT_EQ(sweep.trials(1).state(), v1::TRIAL_STOPPED);
  EXPECT_EQ(sweep.trials(1).stop_reason(), reason);
  EXPECT_EQ(sweep.trials(2).state(), v1::TRIAL_SUCCEEDED);
  // Decided by B at the first rung against the three trials recorded there, two of them by A.
  EXPECT_EQ(sweep.trials(3).state(), v1::TRIAL_STOPPED);
  EXPECT_THAT(sweep.trials(3).stop_reason(), HasSubstr("of 3 trials at that step"));
  ASSERT_TRUE(sweep.has_best_trial());
  EXPECT_EQ(sweep.best_trial(), 0);
  EXPECT_LT(sweep.steps_run(), sweep.steps_full());

  // The events continue A's: numbered 1, 2, ... across the takeover, each trial started once,
  // and one job per trial.
  std::vector<int> starts(4);
  int64_t sequence = 0;
  for (const v1::WatchSweepResponse& message : after) {
    if (!message.has_trial()) continue;
    const v1::TrialEvent& event = message.trial();
    EXPECT_EQ(event.sequence(), ++sequence);
    // What A watched is what B shows of A's time.
    if (event.sequence() <= static_cast<int64_t>(before.size())) {
      EXPECT_EQ(event.SerializeAsString(), before[event.sequence() - 1].SerializeAsString());
    }
    if (event.kind() == v1::TrialEvent::STARTED) ++starts[event.trial()];
  }
  EXPECT_EQ(starts, std::vector<int>({1, 1, 1, 1}));
  const auto jobs = b->jobs->List(v1::JOB_STATE_UNSPECIFIED, 100, "");
  ASSERT_OK(jobs.status());
  std::set<std::string> trial_jobs;
  std::string runners;
  for (const v1::Job& job : jobs->jobs) {
    if (job.spec().group() != id) continue;
    trial_jobs.insert(job.id());
    absl::StrAppend(&runners, " ", job.spec().name(), "@", job.runner(), "(",
                    v1::JobState_Name(job.state()), ", ", job.progress().step(), " steps)");
  }
  EXPECT_EQ(trial_jobs.size(), 4u);
  std::printf("sweep takeover: finished %.1f s after the driver died (lease %.0f s); "
              "%lld of %lld steps run; trials:%s\n",
              absl::ToDoubleSeconds(took), absl::ToDoubleSeconds(kLeaseTimeout),
              static_cast<long long>(sweep.steps_run()),
              static_cast<long long>(sweep.steps_full()), runners.c_str());
}

// A cancel asked of a replica that does not drive the sweep is recorded in the database: the
// driver hears of it at its next renewal and cancels the sweep, its pending trials and its
// running trial's job, which trains on the other replica.
TEST_F(SweepReplicasTest, ACancelAskedOfAnyReplicaReachesTheDriver) {
  std::unique_ptr<Replica> a = Start("replica-a:50051", 0);
  std::unique_ptr<Replica> b = Start("replica-b:50051", 1);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  // Trials that would train for hours: the sweep ends only by the cancel.
  v1::SweepSpec spec = ParseJsonProto<v1::SweepSpec>(kFourTrialAshaSweep);
  spec.mutable_base()->mutable_training()->set_epochs(1'000'000);
  spec.clear_early_stopping();
  const auto created = a->sweeps->Create(spec);
  ASSERT_OK(created.status());
  const std::string id = created->id();
  // Until the first trial has started (on B, as A trains nothing).
  const absl::Status started = a->sweeps->Watch(
      id, 0,
      [](const v1::WatchSweepResponse& message) {
        return !(message.has_trial() && message.trial().kind() == v1::TrialEvent::STARTED);
      },
      [] { return true; });
  ASSERT_EQ(started.code(), absl::StatusCode::kCancelled) << started;

  const auto answered = b->sweeps->Cancel(id);
  ASSERT_OK(answered.status());
  EXPECT_EQ(answered->id(), id);
  // The driver's watch ends once the sweep has ended (a minute at most: else the trials
  // would train on for hours).
  std::vector<v1::WatchSweepResponse> seen;
  const absl::Time deadline = absl::Now() + absl::Minutes(1);
  ASSERT_OK(a->sweeps->Watch(
      id, 0,
      [&](const v1::WatchSweepResponse& message) {
        seen.push_back(message);
        return true;
      },
      [deadline] { return absl::Now() < deadline; }));
  ASSERT_TRUE(seen.back().has_sweep());
  const v1::Sweep& sweep = seen.back().sweep();
  EXPECT_EQ(sweep.state(), v1::SWEEP_CANCELLED);
  ASSERT_EQ(sweep.trials_size(), 4);
  for (const v1::Trial& trial : sweep.trials()) EXPECT_EQ(trial.state(), v1::TRIAL_CANCELLED);
  EXPECT_TRUE(DrivenBy(id, "replica-a:50051"));
  EXPECT_THAT(b->sweeps->Cancel(id).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already ended")));
}

}  // namespace
}  // namespace descent::server
