// Trains one job on the calling worker thread: builds the engine's Trainer, runs it with an
// observer that appends every step to the job's history, and records how the run ended.
#ifndef DESCENT_SERVER_JOBS_JOB_RUNNER_H_
#define DESCENT_SERVER_JOBS_JOB_RUNNER_H_

#include "absl/time/time.h"
#include "server/jobs/job_events.h"
#include "server/jobs/job_record.h"

namespace descent::server {

// How often the training thread wakes a job's watchers: after this many new steps or this
// much time, whichever comes first (checked after every step and epoch end), and at every
// state change. Watchers read everything recorded when they wake, so this bounds their
// latency, not what they get; and they read only when woken (or when a full message is
// waiting: JobRecord::ReadOrWait), so it also sets how many steps a message carries. The
// training thread hands its steps to the job's history in the same batches (and before an
// epoch summary or a write), so Get and List see a running job's step as of its last wake-up.
inline constexpr int64_t kWakeWatchersEverySteps = 1024;
inline constexpr absl::Duration kWakeWatchersEvery = absl::Milliseconds(10);

// When a durable job (JobRecord::durable) writes a checkpoint with the losses since the
// previous one: after this many steps or this much time since the last, whichever comes
// first. A restart loses at most that much training, which is then done again.
struct CheckpointPolicy {
  int64_t every_steps = 10'000;
  absl::Duration every = absl::Seconds(30);
  // How often the steps and events since the last write are written without a checkpoint
  // (JobRecord::SaveProgress), for the replicas sharing the store that follow the job from it.
  absl::Duration progress_every = absl::InfiniteDuration();
};

// Runs a RUNNING job to its terminal state and tells `listener` (may be null) about every
// step and the final transition. Never fails: an error becomes the job's FAILED state.
// A job whose training input holds a checkpoint continues from it (after a Resumed event).
// Trains with denormals flushed to zero on this thread (engine/denormals.h: Adam moments of
// dead units otherwise slow long runs of small nets many times over).
//   - completed or early-stopped: SUCCEEDED, with the trained model;
//   - stopped for divergence: FAILED, error = the diagnosis message (the parameters are
//     garbage, so no model is kept);
//   - cancelled (RequestCancel) before or during the run: CANCELLED;
//   - Trainer::Create rejecting spec or data, or a checkpoint that does not fit: FAILED;
//   - a checkpoint that cannot be written: FAILED, error naming the store;
//   - suspended (RequestSuspend, the server is stopping): a final checkpoint is written and
//     the job stays RUNNING, marked suspended, to resume at the next start.
//   - its lease lost (a shared store gave the job to another replica): stops before the next
//     step and writes nothing more; the job stays as the store has it, marked suspended.
void RunJob(JobRecord& job, JobEventListener* listener, const CheckpointPolicy& checkpoints);

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOBS_JOB_RUNNER_H_
