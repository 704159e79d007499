// Owns every job: the bounded queue, the worker threads that train, cancellation, the
// per-job loss history and the watch streams served from it. Thread-safe. The gRPC service
// is a thin adapter over this class; nothing here knows about grpc::ServerContext.
#ifndef DESCENT_SERVER_JOB_MANAGER_H_
#define DESCENT_SERVER_JOB_MANAGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "descent/v1/training.pb.h"
#include "engine/dataset.h"
#include "engine/network.h"
#include "engine/train_spec.h"
#include "server/job_events.h"

namespace descent::server {

struct JobManagerOptions {
  int workers = 1;             // jobs trained concurrently
  int max_queued_jobs = 1000;  // QUEUED jobs beyond this: RESOURCE_EXHAUSTED
  // OpenBLAS threads per training job; 0 = max(1, cores / workers), so concurrent jobs
  // never oversubscribe the cores.
  int blas_threads = 0;
  absl::Duration heartbeat_interval = absl::Seconds(5);  // quiet watch streams
  int max_points_per_message = 4096;  // loss points batched into one WatchJobResponse
};

// A validated submission, converted from the wire by server/spec_conversion.h.
struct PreparedJob {
  v1::JobSpec spec;  // as submitted; echoed in Job.spec
  TrainSpec train_spec;
  Dataset dataset;
  std::optional<std::vector<LayerParameters>> initial_parameters;
  std::string request_id;  // idempotency key, may be empty
};

// A SUCCEEDED job's model, for ExportModel and Predict.
struct TrainedModel {
  std::string job_id;
  v1::JobSpec spec;
  int inputs = 0;
  std::vector<LayerParameters> parameters;
  std::vector<Activation> activations;  // per layer, hidden then output (identity)
  LossSpec loss;
  std::vector<std::string> feature_names;
  std::vector<std::string> class_names;
};

struct JobPage {
  std::vector<v1::Job> jobs;
  std::string next_page_token;
};

class JobManager {
 public:
  // `listener` (may be null) must outlive the manager. Starts the worker threads.
  JobManager(JobManagerOptions options, JobEventListener* listener);
  // Shutdown() then joins every thread.
  ~JobManager();

  // Queues the job and returns it QUEUED (already visible to Get/List). With a request_id
  // seen before, returns that job instead (no new job). RESOURCE_EXHAUSTED when
  // max_queued_jobs are queued; UNAVAILABLE after Shutdown().
  absl::StatusOr<v1::Job> Submit(PreparedJob job);

  // NOT_FOUND for an unknown id.
  absl::StatusOr<v1::Job> Get(std::string_view job_id) const;

  // Newest first; `state` JOB_STATE_UNSPECIFIED = all. page_size 0 = 50, max 1000.
  // INVALID_ARGUMENT for a negative page_size or a malformed page_token.
  absl::StatusOr<JobPage> List(v1::JobState state, int page_size,
                               std::string_view page_token) const;

  // QUEUED: CANCELLED at once. RUNNING: stops before its next step, then CANCELLED.
  // FAILED_PRECONDITION when already terminal; NOT_FOUND for an unknown id.
  absl::StatusOr<v1::Job> Cancel(std::string_view job_id);

  // Streams the job to `send` (see WatchJob in training.proto): history after `after_step`
  // first, then live steps, epoch summaries, state changes, heartbeats, and finally the
  // terminal state event; returns OK after that. Returns early with CANCELLED when `send`
  // returns false (the client went away) and UNAVAILABLE when the manager shuts down.
  // NOT_FOUND for an unknown id; INVALID_ARGUMENT for a negative after_step. Blocks the
  // calling thread; never blocks training.
  absl::Status Watch(std::string_view job_id, int64_t after_step,
                     const std::function<bool(const v1::WatchJobResponse&)>& send);

  // FAILED_PRECONDITION unless the job SUCCEEDED; NOT_FOUND for an unknown id.
  absl::StatusOr<TrainedModel> Model(std::string_view job_id) const;

  // Stops accepting submissions (UNAVAILABLE), cancels queued and running jobs, ends every
  // watch stream after its last event. Idempotent.
  void Shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOB_MANAGER_H_
