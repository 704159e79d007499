// A thin client of descentd: the generated TrainingService and grpc.health.v1 stubs behind
// methods that return absl::Status / absl::StatusOr, so the CLI never sees grpc::Status.
// gRPC status codes map 1:1 onto absl codes and the server's message (field path and fix)
// is kept verbatim.
#ifndef DESCENT_CLIENT_DESCENT_CLIENT_H_
#define DESCENT_CLIENT_DESCENT_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/channel.h"
#include "client/unary_call.h"
#include "descent/v1/training.grpc.pb.h"
#include "descent/v1/training.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/channel.h"

namespace descent::client {

struct ClientOptions {
  // Deadline of every unary call. A server that cannot be reached fails fast with
  // UNAVAILABLE (calls do not wait for the channel to become ready).
  absl::Duration rpc_timeout = absl::Seconds(30);
  // TLS and bearer token of the channel Connect() opens (default: plaintext, no token).
  ChannelOptions channel;
};

class DescentClient {
 public:
  // Does not connect yet: the first call does. `target` is HOST:PORT.
  static std::unique_ptr<DescentClient> Connect(const std::string& target,
                                                ClientOptions options = {});
  DescentClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options);

  DescentClient(const DescentClient&) = delete;
  DescentClient& operator=(const DescentClient&) = delete;

  // Each returns the server's status on failure: INVALID_ARGUMENT (message names the field
  // path), NOT_FOUND, FAILED_PRECONDITION, RESOURCE_EXHAUSTED as documented in
  // training.proto; UNAVAILABLE or DEADLINE_EXCEEDED when the server cannot be reached.
  absl::StatusOr<v1::Job> SubmitJob(const v1::JobSpec& spec, const std::string& request_id);
  absl::StatusOr<v1::Job> GetJob(std::string_view job_id);
  absl::StatusOr<v1::ListJobsResponse> ListJobs(v1::JobState state, int page_size,
                                                const std::string& page_token);
  // Every page of ListJobs, newest first. Fails as soon as one page fails.
  absl::StatusOr<std::vector<v1::Job>> ListAllJobs(v1::JobState state);
  absl::StatusOr<v1::Job> CancelJob(std::string_view job_id);
  absl::StatusOr<v1::ExportModelResponse> ExportModel(std::string_view job_id,
                                                      v1::ModelFormat format = v1::LAYERS);
  // `column_names` empty: the columns are in the model's order; else PredictRequest's.
  absl::StatusOr<v1::PredictResponse> Predict(std::string_view job_id, const v1::Matrix& inputs,
                                              const std::vector<std::string>& column_names = {});

  // grpc.health.v1 Check of `service` ("" = the whole server).
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> CheckHealth(
      const std::string& service = "");

  // Opens one WatchJob stream from `after_step` and hands every message to `on_event`, on
  // the calling thread, until the stream ends. Returns the stream's final status: OK when
  // the server ended it (which alone does not mean the job finished: look for the terminal
  // state event), CANCELLED when `on_event` returned false, DEADLINE_EXCEEDED when nothing
  // (not even a heartbeat) arrived for `idle_timeout`, else the server's or transport's
  // error. No deadline otherwise: a watch lasts as long as the job.
  absl::Status WatchJob(std::string_view job_id, int64_t after_step, absl::Duration idle_timeout,
                        const std::function<bool(const v1::WatchJobResponse&)>& on_event);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  ClientOptions options_;
  std::unique_ptr<v1::TrainingService::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_stub_;
};

}  // namespace descent::client

#endif  // DESCENT_CLIENT_DESCENT_CLIENT_H_
