// JobManager's state and the methods its workers, Recover and the RPC-facing calls share:
// private to server/jobs (job_manager.cc: the manager on one process's store;
// job_manager_shared.cc: the paths of a store shared by several replicas, under leases).
#ifndef DESCENT_SERVER_JOBS_JOB_MANAGER_IMPL_H_
#define DESCENT_SERVER_JOBS_JOB_MANAGER_IMPL_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/cores.h"
#include "engine/blas.h"
#include "proto/job_state.h"
#include "server/jobs/finished_jobs.h"
#include "server/jobs/job_manager.h"
#include "server/jobs/job_record.h"
#include "server/jobs/lease_renewer.h"
#include "server/jobs/model_cache.h"
#include "server/jobs/watcher_slots.h"
#include "server/store/job_store.h"

namespace descent::server {

// Cancel's answer for a job that ended already.
inline absl::Status AlreadyEnded(std::string_view job_id, v1::JobState state) {
  return absl::FailedPreconditionError(absl::StrCat("job ", std::string(job_id), " already ended ",
                                                    v1::JobState_Name(state),
                                                    "; only QUEUED or RUNNING jobs can be cancelled"));
}

struct JobManager::Impl {
  Impl(JobManagerOptions options_in, JobEventListener* listener_in)
      : options(std::move(options_in)),
        listener(listener_in),
        models(options.model_cache_bytes),
        watchers(options.max_watchers_per_job),
        finished(options.retain_finished_jobs, options.retain_finished_for),
        runner(options.runner) {
    if (shared()) renewer = std::make_unique<LeaseRenewer>(*options.store, options.lease_timeout);
  }

  // Whether this manager shares its store with other replicas: its workers then claim jobs
  // from the store (with leases) instead of taking them from the local queue alone.
  bool shared() const { return options.store != nullptr && options.store->shared(); }

  // Where a job is: its record while the manager holds one, else a finished job's state.
  struct Slot {
    std::shared_ptr<JobRecord> record;  // null: finished, and the store holds all of it
    v1::JobState state = v1::JOB_STATE_UNSPECIFIED;  // when record is null
    // When record is null: the step this process resumed the job at, if it did (a watcher
    // reconnecting after a crash hears of it, as while the record was there).
    std::optional<int64_t> resumed_at;
    v1::JobState current() const { return record != nullptr ? record->state() : state; }
  };
  struct Found {
    int64_t sequence = 0;
    Slot slot;
  };

  // The job with this id: from memory, else (a finished job) from the store's id index.
  // NOT_FOUND for an unknown or deleted id.
  absl::StatusOr<Found> FindLocked(std::string_view job_id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Submit's answer for a request_id used before, for job `sequence`: that job, or
  // ALREADY_EXISTS when `spec` differs from its.
  absl::StatusOr<v1::Job> RepeatedRequestLocked(const v1::JobSpec& spec,
                                                const std::string& request_id,
                                                int64_t sequence) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // The jobs waiting for a worker, --max-queued-jobs' count: this process's queue, or with a
  // shared store every replica's QUEUED jobs. Store errors as JobStore::CountUnfinished.
  absl::StatusOr<int64_t> QueuedJobsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // The job as Get shows it, from its record or the store.
  absl::StatusOr<v1::Job> SnapshotOf(int64_t sequence, const Slot& slot) const;

  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return !queue.empty() || shutting_down;
  }
  bool ShuttingDown() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return shutting_down; }

  // Divides the available cores among the running jobs' OpenBLAS threads. The setting is
  // process-wide and takes effect at each job's next product (one in flight keeps the threads
  // it started with). Under mu, so the count and the setting change together.
  void ShareCoresLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    SetBlasThreads(
        BlasThreadsForRunningJobs(base::AvailableCores(), running_jobs, options.blas_threads));
  }

  // A worker thread: takes the oldest queued job (resumed jobs come first), trains it,
  // repeats; exits once shutting down.
  void WorkerLoop();

  // Who claims, for the store: this replica's address and this process.
  LeaseHolder Holder() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return LeaseHolder{runner, instance, options.lease_timeout};
  }
  // How long an idle worker of a shared manager waits before it looks for claimable jobs
  // again (JobManagerOptions::claim_poll_interval).
  absl::Duration ClaimPollInterval() const {
    return std::min(options.claim_poll_interval, options.lease_timeout / 3);
  }

  // A shared manager's worker: claims a job from the store (those submitted here first, as
  // their training input is prepared already), trains it under its lease, repeats; exits
  // once shutting down.
  void SharedWorkerLoop();

  // The next job this replica may train, with its lease: the first claimable job of the
  // store (resumed ones first, then by submission, whichever replica took it), its record
  // here if it was submitted here (its training input is prepared already), else loaded from
  // the store (its submission prepared again, a RUNNING one from its checkpoint). When none is
  // claimable, the jobs queued here were taken by other replicas and leave this one, but for
  // one submitted since, which is claimed. nullptr when there is nothing to train.
  absl::StatusOr<std::shared_ptr<JobRecord>> ClaimNext();

  // Removes the job with this sequence from the local queue and returns it; nullptr when it
  // is not there.
  std::shared_ptr<JobRecord> TakeQueuedLocked(int64_t sequence) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Whether the job with this sequence has ended in this process: ClaimNext's claim and
  // Cancel can both take a stored job (a replica may claim again what it holds), and Cancel,
  // which ends it at once under mu, may come first.
  bool EndedHereLocked(int64_t sequence) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto slot = by_sequence.find(sequence);
    return slot != by_sequence.end() && IsTerminal(slot->second.current());
  }

  // For Watch: whether job `sequence` has a record here, has ended, or the manager stops.
  struct ClaimWait {
    const Impl* impl;
    int64_t sequence;
  };
  static bool ClaimedHereOrEnded(ClaimWait* wait) ABSL_NO_THREAD_SAFETY_ANALYSIS;

  // Cancel() of a shared manager, for a job that does not train here: claims it (so no
  // replica starts it meanwhile) and ends it CANCELLED; a job another replica holds is
  // cancelled there through the store (JobStore::RequestCancel).
  absl::StatusOr<v1::Job> CancelElsewhereLocked(std::string_view job_id, const Found& found)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // A job this process held that another replica has now: it leaves memory (Get and List
  // read it from the store), its watchers end as for a stopping server, and the listener
  // stops counting it here.
  void HandOverLocked(JobRecord& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // List() of a shared manager: the page comes from the store, which holds the jobs every
  // replica submitted, in their current states (the ones this replica trains from memory).
  absl::StatusOr<JobPage> ListShared(v1::JobState state, int limit,
                                     std::string_view page_token) const ABSL_LOCKS_EXCLUDED(mu);

  // A shared manager's thread, while it has a listener: counts the unfinished jobs of every
  // replica in the store every kClusterCountEvery and tells the listener; returns once
  // shutting down.
  void ClusterCountLoop();
  static constexpr absl::Duration kClusterCountEvery = absl::Seconds(5);

  // A shared manager's thread: every 200 ms hands over the jobs submitted here
  // and still queued in memory that another replica has claimed (HandOverClaimedElsewhere);
  // returns once shutting down. Idle workers do so as they look for work; this thread does
  // it when none is idle (or there are none), so that Get and Watch of such a job here
  // follow it in the store rather than wait on a record no worker of this replica will run.
  void HandOverLoop();
  void HandOverClaimedElsewhere() ABSL_LOCKS_EXCLUDED(mu);

  // Recover() of a shared manager: every stored job is known by its summary and served from
  // the store; unfinished ones are claimed by the workers like any other (a RUNNING one only
  // once its lease expired, or at once if this replica's previous process held it).
  int RecoverShared(const std::vector<StoredJobSummary>& stored);

  // Publishes a job in the lookup tables. Under mu.
  void AddLocked(const std::shared_ptr<JobRecord>& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // After a job may have ended: a finished job joins the retention order, and a durable one
  // the store holds entirely leaves memory (watchers that hold its record finish with it).
  void SettleLocked(const JobRecord& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Deletes the finished jobs retention no longer keeps, oldest end time first.
  void ApplyRetentionLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Drops a deleted job from every table in memory.
  void ForgetLocked(int64_t sequence) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Applies the age limit while the manager runs; returns once shutting down.
  void RetentionLoop();

  const JobManagerOptions options;
  JobEventListener* const listener;
  mutable ModelCache models;
  WatcherSlots watchers;  // open Watch calls

  mutable absl::Mutex mu;  // acquired before any JobRecord's mutex, never after
  // Jobs held in memory (unfinished ones, and finished ones the store does not hold whole).
  absl::flat_hash_map<std::string, std::shared_ptr<JobRecord>> jobs ABSL_GUARDED_BY(mu);
  // Every job, by submission sequence (List pages by it).
  absl::btree_map<int64_t, Slot> by_sequence ABSL_GUARDED_BY(mu);
  int64_t next_sequence ABSL_GUARDED_BY(mu) = 0;
  absl::flat_hash_map<std::string, int64_t> by_request_id ABSL_GUARDED_BY(mu);
  int running_jobs ABSL_GUARDED_BY(mu) = 0;  // taken by a worker, not yet settled
  FinishedJobs finished ABSL_GUARDED_BY(mu);  // retention's order
  std::deque<std::shared_ptr<JobRecord>> queue ABSL_GUARDED_BY(mu);  // QUEUED jobs, oldest first
  bool shutting_down ABSL_GUARDED_BY(mu) = false;
  // With a shared store: how many times the store announced a job that may be claimable
  // (JobStore::SetClaimableHandler); an idle worker wakes when it moves.
  uint64_t claimable_heard ABSL_GUARDED_BY(mu) = 0;
  std::string runner ABSL_GUARDED_BY(mu);  // Job.runner of the jobs this manager starts
  // This process among the replicas that ever ran at `runner` (lease_instance).
  const int64_t instance = absl::Uniform<int64_t>(absl::BitGen(), 1, INT64_MAX);
  std::unique_ptr<LeaseRenewer> renewer;  // with a shared store only
  absl::BitGen random ABSL_GUARDED_BY(mu);

  absl::Mutex shutdown_mu;  // serializes Shutdown(), so every caller returns once it is done
  std::vector<std::thread> workers ABSL_GUARDED_BY(shutdown_mu);

  void StartWorkersLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shutdown_mu) {
    if (shared() && options.workers > 0) {
      options.store->SetClaimableHandler([this] {
        absl::MutexLock lock(&mu);
        ++claimable_heard;
      });
    }
    for (int i = 0; i < options.workers; ++i) {
      workers.emplace_back([this] {
        if (shared()) {
          SharedWorkerLoop();
        } else {
          WorkerLoop();
        }
      });
    }
  }
  std::thread retention ABSL_GUARDED_BY(shutdown_mu);
  std::thread cluster_count ABSL_GUARDED_BY(shutdown_mu);
  std::thread hand_over ABSL_GUARDED_BY(shutdown_mu);
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOBS_JOB_MANAGER_IMPL_H_
