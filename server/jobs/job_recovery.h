// Recovery at start-up: a stored QUEUED or RUNNING job turned back into a record a worker can
// train, from its row, its checkpoint and the history up to it (JobManager::Recover loads
// every unfinished job this way).
#ifndef DESCENT_SERVER_JOBS_JOB_RECOVERY_H_
#define DESCENT_SERVER_JOBS_JOB_RECOVERY_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "descent/v1/training.pb.h"
#include "server/conversion/prepared_job.h"
#include "server/jobs/job_events.h"
#include "server/jobs/job_record.h"
#include "server/store/job_store.h"

namespace descent::server {

// Turns a stored job's submission back into what a worker trains (the server's PrepareJob
// with its dataset store).
using PrepareJobFn = std::function<absl::StatusOr<PreparedJob>(const v1::SubmitJobRequest&)>;

// The stored unfinished job `sequence` with its training input prepared again from its spec
// (an uploaded dataset pinned to the id it resolved to) and, for a RUNNING one, its
// checkpoint with the epoch summaries up to it; what the job recorded after the checkpoint
// is dropped from the store, to be recorded again. A job that can no longer be prepared or
// whose checkpoint cannot be read comes back FAILED with the reason (`listener`, which may
// be null, hears of its recovery and its end). The store's errors (UNAVAILABLE, DATA_LOSS)
// when its row or history cannot be read. Every write is fenced by `lease_token` (the
// claim's, on a shared store; 0 otherwise), and a lost lease is the store's error.
absl::StatusOr<std::shared_ptr<JobRecord>> LoadUnfinishedJob(JobStore& store, int64_t sequence,
                                                              const PrepareJobFn& prepare,
                                                              JobEventListener* listener,
                                                              int64_t lease_token = 0);

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOBS_JOB_RECOVERY_H_
