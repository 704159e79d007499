// Owns every job: the bounded queue, the worker threads that train, cancellation, the
// per-job loss history and the watch streams served from it. Thread-safe. The gRPC service
// is a thin adapter over this class; nothing here knows about grpc::ServerContext.
//
// A job goes QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED (or QUEUED -> CANCELLED)
// and keeps its terminal state, results and whole loss history (until retention deletes it).
//   - SUCCEEDED: training completed, or early stopping ended it (Model() is available).
//   - FAILED: Job.error says why. A run the trainer stopped because the loss diverged is
//     FAILED with error = the diagnosis message: its parameters are garbage, so it has no
//     model (with training.stop_on_divergence = false the run completes and SUCCEEDED, with
//     a DIVERGED diagnosis).
//   - CANCELLED: by Cancel(), or by Shutdown() of a manager without a store.
// Job.diagnosis is set when the run ends. Job ids are "job-" + 12 random hex digits.
// Memory, with a store: a QUEUED or RUNNING job keeps its record in memory, with the steps
// and events since its last write to the store (at most one checkpoint interval); a
// finished job keeps a few dozen bytes (its sequence, state and end time, and its request_id
// if it has one) once the store holds all of it, and Get, List, Watch, Export and Predict
// read it from the store (Watch a page at a time; models through a bounded ModelCache).
// Without a store every job and its whole history stay in memory for the manager's
// lifetime. Retention (JobManagerOptions::retain_finished_*) deletes the oldest finished jobs.
//
// Durability: without a store nothing survives the manager. With one (JobManagerOptions::
// store), every job is written through (job_record.h): Submit answers once the job is
// committed, running jobs write a checkpoint with their losses every checkpoint_every_steps
// steps or checkpoint_every, and Recover() rebuilds everything on the next start: finished
// jobs as they ended (model included), QUEUED jobs queued in their order, RUNNING jobs
// resumed from their last checkpoint (step 0 without one) ahead of the queue.
#ifndef DESCENT_SERVER_JOBS_JOB_MANAGER_H_
#define DESCENT_SERVER_JOBS_JOB_MANAGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "descent/v1/training.pb.h"
#include "server/conversion/prepared_job.h"
#include "server/conversion/trained_model.h"
#include "server/jobs/job_events.h"
#include "server/jobs/job_manager_options.h"
#include "server/jobs/job_recovery.h"

namespace descent::server {

struct JobPage {
  std::vector<v1::Job> jobs;
  std::string next_page_token;
};

class JobManager {
 public:
  // `listener` (may be null) must outlive the manager. It hears of every transition before
  // the new state is visible to Get/List/Watch, and is called with internal locks held, so
  // it must never call back into the manager (job_events.h). Sets the OpenBLAS thread count
  // (BlasThreadsForRunningJobs, again whenever a job starts or ends) and starts the workers
  // (unless options.start_workers is false: StartWorkers).
  // Options ValidateJobManagerOptions refuses are a bug: CHECK-fails.
  JobManager(JobManagerOptions options, JobEventListener* listener);
  // Shutdown(), then waits until every Watch call has returned: the owner must make their
  // `send` callbacks return (e.g. by shutting the gRPC server down first).
  ~JobManager();
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  // With a store: loads the stored jobs (see the top of this file): every job's row, and for
  // the unfinished ones their checkpoint and the history at its position; no finished job's
  // history or model is read. Then applies retention. Call once, right after construction
  // and before anything else. A stored QUEUED or RUNNING job whose submission no longer
  // prepares (its uploaded dataset was deleted) or whose checkpoint cannot be read ends
  // FAILED with the reason. DATA_LOSS or UNAVAILABLE naming the database when it cannot be
  // read; nothing is loaded then. Returns the number of jobs resumed or queued again.
  absl::StatusOr<int> Recover();

  // Queues the job and returns it QUEUED (already visible to Get/List). With a request_id
  // seen before, returns that job as it is now (no new job), even when the queue is full;
  // ALREADY_EXISTS if that job's spec differs (the key was reused for another job).
  // RESOURCE_EXHAUSTED when max_queued_jobs are queued; UNAVAILABLE after Shutdown().
  // With a store, answers once the job is committed; a store that cannot take it is
  // RESOURCE_EXHAUSTED (disk full) or UNAVAILABLE, naming the database, and no job is made.
  absl::StatusOr<v1::Job> Submit(PreparedJob job);

  // NOT_FOUND for an unknown id (or one retention deleted); store read errors
  // (UNAVAILABLE, DATA_LOSS) for a finished job read from the store.
  absl::StatusOr<v1::Job> Get(std::string_view job_id) const;

  // Newest first; `state` JOB_STATE_UNSPECIFIED = all. page_size 0 = 50, larger than 1000
  // = 1000. Pages stay stable while jobs are submitted (a token resumes after the last job
  // returned). INVALID_ARGUMENT for a negative page_size, a malformed page_token, or a token
  // issued for another `state`.
  absl::StatusOr<JobPage> List(v1::JobState state, int page_size,
                               std::string_view page_token) const;

  // QUEUED: CANCELLED at once. RUNNING: asks the job to stop before its next step and
  // returns it as it is now (still RUNNING; it turns CANCELLED shortly, or SUCCEEDED if its
  // last step was already done). FAILED_PRECONDITION when already terminal; NOT_FOUND for
  // an unknown id.
  absl::StatusOr<v1::Job> Cancel(std::string_view job_id);

  // Streams the job to `send` (see WatchJob in training.proto): history after `after_step`
  // first, then live steps, epoch summaries, state changes, heartbeats, and finally the
  // terminal state event; returns OK after that. Every step > after_step is sent exactly
  // once, in order, batched up to max_points_per_message per message; an epoch summary
  // comes right after its last step's loss; events placed at step after_step itself (an
  // epoch summary closing that step) are sent again, since a dropped stream may have lost
  // them. State events carry the Job as it was at that change; the terminal one carries the
  // final results. A heartbeat follows every heartbeat_interval without a message.
  // Returns early with CANCELLED when `send` returns false (the client went away).
  // NOT_FOUND for an unknown id; INVALID_ARGUMENT for a negative after_step;
  // RESOURCE_EXHAUSTED when the job already has max_watchers_per_job streams. Blocks the
  // calling thread; never blocks training: a watcher that does not keep up is served from
  // the job's history. After Shutdown() a stream ends with its terminal event (a manager
  // without a store cancels every job) or, for a job left to resume at the next start,
  // with UNAVAILABLE once every recorded step was sent.
  absl::Status Watch(std::string_view job_id, int64_t after_step,
                     const std::function<bool(const v1::WatchJobResponse&)>& send);

  // FAILED_PRECONDITION unless the job SUCCEEDED; NOT_FOUND for an unknown id. A finished
  // job's model comes from the store (decoded once, then from the ModelCache).
  absl::StatusOr<TrainedModel> Model(std::string_view job_id) const;

  // With JobManagerOptions::start_workers false: sets the runner (Job.runner of the jobs this
  // manager starts) and starts the workers. Once only, before Shutdown.
  void StartWorkers(std::string runner);

  // Stops accepting submissions (UNAVAILABLE) and stops the workers. Without a store, queued
  // and running jobs are cancelled and end CANCELLED. With a store nothing is lost: running
  // jobs write a checkpoint and stop, staying RUNNING, queued jobs stay QUEUED, and both
  // continue at the next start (Recover); their watch streams end with UNAVAILABLE. Waits
  // until the worker threads have exited. Get, List, Model and Watch keep working.
  // Idempotent; concurrent calls all return once shutdown is complete.
  void Shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOBS_JOB_MANAGER_H_
