// Owns every sweep of this server: creates them, starts their trials as ordinary jobs through
// the JobManager (JobSpec.group = the sweep id, so they share the queue and limits with every
// job), hands each epoch of a trial to the sweep's early-stopping rule on the training thread
// as the epoch ends (PreparedJob::epoch_gate, which cancels the job the rule stops before its
// next step), and follows each running trial's job through JobManager::Watch on a thread of
// its own for its steps and its end.
// Thread-safe. The gRPC service (rpc/sweep_service.h) is a thin adapter over this class.
//
// Not yet durable: sweeps live in memory. After a restart the trials' jobs resume or finish
// as jobs do (and `descent list --group SWEEP` finds them), but the sweep itself, its
// pending trials and its decisions are gone. With several replicas each drives the sweeps it
// created.
#ifndef DESCENT_SERVER_SWEEPS_SWEEP_MANAGER_H_
#define DESCENT_SERVER_SWEEPS_SWEEP_MANAGER_H_

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "descent/v1/sweeps.pb.h"
#include "server/conversion/prepared_job.h"
#include "server/jobs/job_manager.h"
#include "server/sweeps/sweep_events.h"
#include "server/sweeps/sweep_run.h"

namespace descent::server {

// Checks a trial's job spec as SubmitJob does (limits, datasets) and prepares it.
using TrialPreparer = std::function<absl::StatusOr<PreparedJob>(const v1::JobSpec&)>;

class SweepManager {
 public:
  // `jobs` and `listener` (may be null; told of every change, under the lock) must outlive
  // the manager.
  SweepManager(JobManager* jobs, SweepEventListener* listener, TrialPreparer prepare);
  // Shutdown().
  ~SweepManager();
  SweepManager(const SweepManager&) = delete;
  SweepManager& operator=(const SweepManager&) = delete;

  // Validates the spec (sweep_spec.h), samples the trials and prepares every trial's job spec
  // (refusing the sweep, INVALID_ARGUMENT naming the trial and the field, when one would be
  // refused by SubmitJob), then starts the first max_concurrent_trials trials and returns the
  // sweep RUNNING. UNAVAILABLE after Shutdown().
  absl::StatusOr<v1::Sweep> Create(const v1::SweepSpec& spec);

  // NOT_FOUND for an unknown id.
  absl::StatusOr<v1::Sweep> Get(absl::string_view id) const;

  // Every sweep, newest first, without their trials' reports.
  std::vector<v1::Sweep> List() const;

  // Cancels the sweep: its pending trials at once, its running trials' jobs (they end
  // CANCELLED shortly). FAILED_PRECONDITION for an ended sweep, NOT_FOUND for an unknown id.
  absl::StatusOr<v1::Sweep> Cancel(absl::string_view id);

  // Sends the sweep, every trial event after `after_event`, new events as they happen, and
  // the sweep again once it has ended; returns OK then. CANCELLED when `send` returns false
  // or `alive` (asked about once a second while nothing happens) returns false; UNAVAILABLE
  // after Shutdown(); NOT_FOUND for an unknown id. Blocks the calling thread.
  absl::Status Watch(absl::string_view id, int64_t after_event,
                     const std::function<bool(const v1::WatchSweepResponse&)>& send,
                     const std::function<bool()>& alive);

  // Starts no more trials and waits for the threads following trials: call it after
  // JobManager::Shutdown(), which ends their watch streams. Watch calls return UNAVAILABLE.
  // Idempotent.
  void Shutdown();

 private:
  struct Follower {
    std::thread thread;
    bool done = false;
  };
  // What a trial job's epoch gate reaches the manager through: null once the manager shuts
  // down, so a job that outlives it (a test's) never calls into a destroyed manager.
  struct Gatekeeper {
    absl::Mutex mutex;
    SweepManager* manager ABSL_GUARDED_BY(mutex);
  };

  // A trial job's epoch gate (PreparedJob::epoch_gate): the epoch reaches the sweep's rule on
  // the training thread; false when the rule stops the trial.
  bool PassEpoch(const std::string& id, int trial, const v1::EpochSummary& epoch);

  // Starts the sweep's trials while it has free slots.
  void StartTrials(const std::string& id);
  // A follower thread's body: watches the trial's job to its end.
  void FollowTrial(const std::string& id, int trial, const std::string& job_id,
                   Follower* follower);
  // Joins the followers that are done.
  void ReapFollowers();
  // Tells the listener how the sweep's trials stand now.
  void Announce(const SweepRun& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  JobManager* const jobs_;
  SweepEventListener* const listener_;
  const TrialPreparer prepare_;
  const std::shared_ptr<Gatekeeper> gatekeeper_;
  mutable absl::Mutex mutex_;
  absl::CondVar changed_;  // an event, a sweep's end, or shutdown
  std::map<std::string, std::unique_ptr<SweepRun>> sweeps_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mutex_);  // ids, oldest first
  std::list<Follower> followers_ ABSL_GUARDED_BY(mutex_);
  bool shutting_down_ ABSL_GUARDED_BY(mutex_) = false;
  absl::BitGen random_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_SWEEPS_SWEEP_MANAGER_H_
