// Owns every sweep of this server: creates them, starts their trials as ordinary jobs through
// the JobManager (JobSpec.group = the sweep id, so they share the queue and limits with every
// job), hands each epoch of a trial to the sweep's early-stopping rule on the training thread
// as the epoch ends (PreparedJob::epoch_gate, which cancels the job the rule stops before its
// next step), and follows each running trial's job through JobManager::Watch on a thread of
// its own for its steps and its end.
// Thread-safe. The gRPC service (rpc/sweep_service.h) is a thin adapter over this class.
//
// Durable with a store (sweep_store.h): a sweep is stored when created and again with every
// change (its trials' starts, reports, stops and ends, as they happen), and Recover() picks
// the unfinished ones up after a restart: their trials' jobs resume as jobs do, the trials
// not yet started start, and the rule's records and decisions are those stored. A trial's
// job carries the request_id "SWEEP/trial-N", so a trial submitted again (after a restart
// that came between its submission and the sweep's write) is the same job.
// With several replicas (a shared store, sweep_manager_shared.cc) exactly one replica drives
// a sweep at a time: the one holding its lease (SweepStore::ClaimSweep). A replica claims the
// sweeps it creates, renews their leases every third of the lease timeout, fences every write
// with the lease's token, and claims any RUNNING sweep whose lease expired (its driver died),
// continuing it from what is stored as Recover does. Trials are jobs, which any replica may
// train: the driver follows each trial's job (streamed from the database when another replica
// trains it) and hands its epochs to the rule, cancelling a stopped trial through the job
// manager (a cancel any replica's runner obeys); a trial trained by the driver itself is
// decided on its training thread, through its epoch gate, as without replicas. Get, List and
// Watch of a sweep another replica drives read the store.
#ifndef DESCENT_SERVER_SWEEPS_SWEEP_MANAGER_H_
#define DESCENT_SERVER_SWEEPS_SWEEP_MANAGER_H_

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
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
#include "server/store/sweep_store.h"
#include "server/sweeps/sweep_events.h"
#include "server/sweeps/sweep_run.h"

namespace descent::server {

// Checks a trial's job spec as SubmitJob does (limits, datasets) and prepares it.
using TrialPreparer = std::function<absl::StatusOr<PreparedJob>(const v1::JobSpec&)>;

class SweepManager {
 public:
  // `jobs` and `listener` (may be null; told of every change, under the lock) must outlive
  // the manager.
  // `store` (may be null: sweeps live in memory only) must outlive the manager too.
  SweepManager(JobManager* jobs, SweepEventListener* listener, TrialPreparer prepare,
               SweepStore* store = nullptr);
  // Shutdown().
  ~SweepManager();
  SweepManager(const SweepManager&) = delete;
  SweepManager& operator=(const SweepManager&) = delete;

  // Validates the spec (sweep_spec.h), samples the trials and prepares every trial's job spec
  // (refusing the sweep, INVALID_ARGUMENT naming the trial and the field, when one would be
  // refused by SubmitJob), then starts the first max_concurrent_trials trials and returns the
  // sweep RUNNING. UNAVAILABLE after Shutdown().
  absl::StatusOr<v1::Sweep> Create(const v1::SweepSpec& spec);

  // With a store: loads the stored sweeps, and for each one still RUNNING follows its
  // trials' jobs (those that ended meanwhile end their trials), cancels the jobs of trials
  // stopped or cancelled before the restart, and starts its pending trials. Call once, after
  // JobManager::Recover and before the job manager's workers start. The store's errors
  // (UNAVAILABLE, DATA_LOSS) when it cannot be read; nothing is loaded then. Returns the
  // number of sweeps still running.
  // On a shared store sweeps are claimed by StartLeasing instead: returns 0.
  absl::StatusOr<int> Recover();

  // On a shared store: from now on claims sweeps as `holder` (the replica's Job.runner, its
  // instance and lease timeout) — the ones Create makes and any RUNNING one whose lease
  // expired — and keeps their leases on a thread of its own until Shutdown, which gives them
  // up. Call once, after Recover; before it, Create on a shared store is UNAVAILABLE. Does
  // nothing on other stores.
  void StartLeasing(LeaseHolder holder);

  // Plays a replica that dies, for tests of a takeover: from now on this manager writes,
  // renews, claims, releases and decides nothing; the sweeps it drove stay leased until their
  // leases expire. Shut it down afterwards as usual.
  void Abandon();

  // Gives a trial's job (JobSpec.group a sweep id and request_id its trial's, as this manager
  // submits them) the epoch gate that reaches its sweep's rule; leaves other jobs alone. For
  // the jobs the job manager prepares again after a restart (JobManagerOptions::prepare),
  // which it recovers before this manager: until Recover has loaded the sweep, the gate
  // passes every epoch.
  void GateTrial(PreparedJob* job) const;

  // NOT_FOUND for an unknown id; the store's errors for a sweep another replica drives.
  absl::StatusOr<v1::Sweep> Get(absl::string_view id) const;

  // Every sweep, newest first, without their trials' reports (on a shared store, every
  // replica's; the store's errors when it cannot be read).
  absl::StatusOr<std::vector<v1::Sweep>> List() const;

  // Cancels the sweep: its pending trials at once, its running trials' jobs (they end
  // CANCELLED shortly). A sweep another replica drives is cancelled by that replica, which
  // hears of the request from the store within a third of the lease timeout; the answer then
  // is the sweep as stored at the moment (still RUNNING). FAILED_PRECONDITION for an ended
  // sweep; NOT_FOUND for an unknown id.
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
  // the training thread; false when the rule stops the trial. True for a sweep this replica
  // does not drive (its driver decides from the trial's stream).
  bool PassEpoch(const std::string& id, int trial, const v1::EpochSummary& epoch);

  // The run of a sweep this manager drives; null when it does not (unknown here, its lease
  // lost, or the manager abandoned).
  SweepRun* DrivenLocked(const std::string& id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  bool shared() const { return store_ != nullptr && store_->shared(); }
  // The leasing thread's body: renews, drops lost runs, claims expired sweeps.
  void LeaseLoop();
  // Renews the leases of the running sweeps driven here; a lease another replica took makes
  // its run stale (SweepRun::LoseLease).
  void RenewLeases();
  // Gives up the leases of the running sweeps driven here (a replica stopping): another
  // replica claims them at once. Their runs go stale.
  void ReleaseLeases();
  // Claims RUNNING sweeps whose leases expired and continues each from the store.
  void ClaimExpired();
  // Loads a claimed sweep from the store and drives it from there (as Recover does).
  void TakeOver(const SweepLease& lease);
  // Watch of a sweep this replica does not drive: polls the store for its events.
  absl::Status WatchStored(const std::string& id, int64_t sent,
                           const std::function<bool(const v1::WatchSweepResponse&)>& send,
                           const std::function<bool()>& alive);

  // Starts the sweep's trials while it has free slots.
  void StartTrials(const std::string& id);
  // Starts a thread following the trial's job (FollowTrial).
  void FollowLocked(const std::string& id, int trial, const std::string& job_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // A follower thread's body: watches the trial's job to its end, or until the run it
  // follows for (its lease token) is no longer driven here.
  void FollowTrial(const std::string& id, int trial, const std::string& job_id, int64_t token,
                   Follower* follower);
  // Joins the followers that are done.
  void ReapFollowers();
  // Writes what the store lacks of the sweep. A write that fails leaves it for the next one
  // (the row is written whole, the events not yet stored go with it); one refused because
  // another replica claimed the sweep makes the run stale (SweepRun::LoseLease).
  void Persist(SweepRun& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // A recovered running sweep: its trials' jobs followed (or cancelled), its pending trials
  // started.
  void Resume(const std::string& id);
  // Tells the listener how the sweep's trials stand now.
  void Announce(const SweepRun& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  JobManager* const jobs_;
  SweepEventListener* const listener_;
  const TrialPreparer prepare_;
  SweepStore* const store_;
  const std::shared_ptr<Gatekeeper> gatekeeper_;
  mutable absl::Mutex mutex_;
  absl::CondVar changed_;  // an event, a sweep's end, or shutdown
  // Shared: a Watch holds its run while it waits, which a takeover may replace meanwhile.
  std::map<std::string, std::shared_ptr<SweepRun>> sweeps_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mutex_);  // ids, oldest first
  std::list<Follower> followers_ ABSL_GUARDED_BY(mutex_);
  bool shutting_down_ ABSL_GUARDED_BY(mutex_) = false;
  std::optional<LeaseHolder> holder_ ABSL_GUARDED_BY(mutex_);  // set by StartLeasing
  bool abandoned_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread leasing_;  // StartLeasing's; joined by Shutdown
  absl::BitGen random_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_SWEEPS_SWEEP_MANAGER_H_
