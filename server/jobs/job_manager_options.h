// What a JobManager is configured with (descentd's flags fill it through ServerOptions), and
// the one check of its ranges.
#ifndef DESCENT_SERVER_JOBS_JOB_MANAGER_OPTIONS_H_
#define DESCENT_SERVER_JOBS_JOB_MANAGER_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/jobs/job_recovery.h"

namespace descent::server {

class JobStore;

struct JobManagerOptions {
  // Jobs trained concurrently, one thread each. 0 starts no worker: jobs stay QUEUED until
  // cancelled (for tests of the queue).
  int workers = 1;
  int max_queued_jobs = 1000;  // QUEUED jobs beyond this: RESOURCE_EXHAUSTED
  // OpenBLAS threads per training job; 0 = the available cores divided among the jobs
  // training at the moment (BlasThreadsForRunningJobs): one job alone uses every core, as
  // many jobs as cores one each, so concurrent jobs never oversubscribe the cores. OpenBLAS's
  // setting is process-wide: the manager changes it as jobs start and end.
  int blas_threads = 0;
  absl::Duration heartbeat_interval = absl::Seconds(5);  // quiet watch streams
  int max_points_per_message = 4096;  // loss points batched into one WatchJobResponse
  // A watcher this many steps behind its job is reported once to
  // JobEventListener::OnWatcherFellBehind (it keeps being served from the history).
  int64_t watcher_fell_behind_steps = 100'000;
  // Watch streams served at once for one job; Watch beyond that is RESOURCE_EXHAUSTED. A
  // stream frees its slot when Watch returns.
  int max_watchers_per_job = 64;
  // This replica as clients reach it (descentd --advertise, by default its listen address):
  // recorded as Job.runner of every job it starts or resumes.
  std::string runner;
  // false: the workers start only at JobManager::StartWorkers, which names the runner then
  // (a server listening on port 0 learns its address only once it listens, after the
  // manager exists; no job starts before it is known).
  bool start_workers = true;
  // With a shared store (JobStore::shared): how long a claimed job's lease lasts unless
  // renewed (every third of it, while the job trains). A replica that dies loses its jobs to
  // the others this long after its last renewal (--lease-timeout).
  absl::Duration lease_timeout = absl::Seconds(30);
  // With a shared store: how long an idle worker waits before it looks for claimable jobs
  // again (leases that expired, and jobs submitted elsewhere should the store's notification
  // of them be lost); at most a third of lease_timeout. A submission here or the store's
  // notification of one elsewhere (JobStore::SetClaimableHandler) wakes it at once.
  absl::Duration claim_poll_interval = absl::Seconds(1);
  // Durable state (may be null: jobs live in memory only). Must outlive the manager.
  JobStore* store = nullptr;
  // With a store: turns a stored job's submission back into what a worker trains (the
  // server's PrepareJob with its dataset store), for the jobs Recover() queues again.
  PrepareJobFn prepare;
  // A durable running job writes a checkpoint after this many steps or this much time since
  // its last one, whichever comes first (--checkpoint-every-steps, -seconds).
  int64_t checkpoint_every_steps = 10'000;
  absl::Duration checkpoint_every = absl::Seconds(30);
  // Retention: finished jobs (SUCCEEDED, FAILED, CANCELLED) beyond the newest
  // retain_finished_jobs, or that ended more than retain_finished_for ago, are deleted with
  // everything stored for them, oldest end time first; 0 (the default) for either keeps
  // every job. Applied at Recover, whenever a job ends, and every minute (or a tenth of
  // retain_finished_for, if shorter) for the age limit. Never touches QUEUED or RUNNING jobs.
  int64_t retain_finished_jobs = 0;
  absl::Duration retain_finished_for = absl::ZeroDuration();
  // Decoded models of finished jobs kept for ExportModel and Predict (ModelCache).
  int64_t model_cache_bytes = 64 << 20;
  // Steps a watcher reads from the store at a time when it is behind what memory holds.
  int64_t watch_page_steps = 16384;
};

// OK, or INVALID_ARGUMENT for the first option out of range, named by its descentd flag
// where it has one ("--workers must be >= 0 (got -1)"), else by its field
// ("max_points_per_message must be >= 1 (got 0)"), with the value given.
absl::Status ValidateJobManagerOptions(const JobManagerOptions& options);

// OpenBLAS threads for each of `running` training jobs on `cores` available cores (the CPUs
// this process may run on): max(1, cores / running), or `fixed` when it is > 0. OpenBLAS
// serialises calls from several threads that each ask for more than one of its threads (two
// jobs with two threads each on two cores train at about half the speed of one), so the
// cores are divided, not shared.
int BlasThreadsForRunningJobs(int cores, int running, int fixed);

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOBS_JOB_MANAGER_OPTIONS_H_
