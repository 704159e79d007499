#include "client/descent_client.h"

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/status_macros.h"
#include "client/unary_call.h"
#include "grpcpp/client_context.h"

namespace descent::client {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// Cancels a streaming call when no message arrived for `idle_timeout`, so a hung server or a
// half-open connection ends the watch instead of blocking it forever.
class IdleWatchdog {
 public:
  IdleWatchdog(grpc::ClientContext* context, absl::Duration idle_timeout)
      : context_(context), idle_timeout_(idle_timeout), thread_([this] { Run(); }) {}
  ~IdleWatchdog() {
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
    }
    thread_.join();
  }

  void Touch() {
    absl::MutexLock lock(&mu_);
    last_activity_ = absl::Now();
  }

  bool fired() {
    absl::MutexLock lock(&mu_);
    return fired_;
  }

 private:
  void Run() {
    absl::MutexLock lock(&mu_);
    while (!done_) {
      const absl::Duration idle = absl::Now() - last_activity_;
      if (idle >= idle_timeout_) {
        fired_ = true;
        context_->TryCancel();
        return;
      }
      mu_.AwaitWithTimeout(absl::Condition(&done_), idle_timeout_ - idle);
    }
  }

  grpc::ClientContext* const context_;
  const absl::Duration idle_timeout_;
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_activity_ ABSL_GUARDED_BY(mu_) = absl::Now();
  std::thread thread_;  // last: starts after the members it reads
};

}  // namespace

std::unique_ptr<DescentClient> DescentClient::Connect(const std::string& target,
                                                      ClientOptions options) {
  return std::make_unique<DescentClient>(OpenChannel(target, options.channel), options);
}

DescentClient::DescentClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : channel_(std::move(channel)),
      options_(options),
      stub_(v1::TrainingService::NewStub(channel_)),
      health_stub_(grpc::health::v1::Health::NewStub(channel_)) {}

absl::StatusOr<v1::Job> DescentClient::SubmitJob(const v1::JobSpec& spec,
                                                 const std::string& request_id) {
  v1::SubmitJobRequest request;
  *request.mutable_spec() = spec;
  request.set_request_id(request_id);
  return UnaryCall(*stub_, &v1::TrainingService::Stub::SubmitJob, request, options_.rpc_timeout);
}

absl::StatusOr<v1::Job> DescentClient::GetJob(std::string_view job_id) {
  v1::GetJobRequest request;
  request.set_job_id(std::string(job_id));
  return UnaryCall(*stub_, &v1::TrainingService::Stub::GetJob, request, options_.rpc_timeout);
}

absl::StatusOr<v1::ListJobsResponse> DescentClient::ListJobs(v1::JobState state, int page_size,
                                                             const std::string& page_token) {
  v1::ListJobsRequest request;
  request.set_state(state);
  request.set_page_size(page_size);
  request.set_page_token(page_token);
  return UnaryCall(*stub_, &v1::TrainingService::Stub::ListJobs, request, options_.rpc_timeout);
}

absl::StatusOr<std::vector<v1::Job>> DescentClient::ListAllJobs(v1::JobState state) {
  std::vector<v1::Job> jobs;
  std::string page_token;
  do {
    ASSIGN_OR_RETURN(v1::ListJobsResponse page, ListJobs(state, /*page_size=*/1000, page_token));
    for (v1::Job& job : *page.mutable_jobs()) jobs.push_back(std::move(job));
    page_token = page.next_page_token();
  } while (!page_token.empty());
  return jobs;
}

absl::StatusOr<v1::Job> DescentClient::CancelJob(std::string_view job_id) {
  v1::CancelJobRequest request;
  request.set_job_id(std::string(job_id));
  return UnaryCall(*stub_, &v1::TrainingService::Stub::CancelJob, request, options_.rpc_timeout);
}

absl::StatusOr<v1::ExportModelResponse> DescentClient::ExportModel(std::string_view job_id,
                                                                   v1::ModelFormat format) {
  v1::ExportModelRequest request;
  request.set_job_id(std::string(job_id));
  request.set_format(format);
  return UnaryCall(*stub_, &v1::TrainingService::Stub::ExportModel, request, options_.rpc_timeout);
}

absl::StatusOr<v1::PredictResponse> DescentClient::Predict(
    std::string_view job_id, const v1::Matrix& inputs,
    const std::vector<std::string>& column_names) {
  v1::PredictRequest request;
  request.set_job_id(std::string(job_id));
  *request.mutable_inputs() = inputs;
  request.mutable_column_names()->Add(column_names.begin(), column_names.end());
  return UnaryCall(*stub_, &v1::TrainingService::Stub::Predict, request, options_.rpc_timeout);
}

absl::StatusOr<HealthCheckResponse::ServingStatus> DescentClient::CheckHealth(
    const std::string& service) {
  HealthCheckRequest request;
  request.set_service(service);
  ASSIGN_OR_RETURN(const HealthCheckResponse response,
                   UnaryCall(*health_stub_, &grpc::health::v1::Health::Stub::Check, request,
                             options_.rpc_timeout));
  return response.status();
}

absl::Status DescentClient::WatchJob(
    std::string_view job_id, int64_t after_step, absl::Duration idle_timeout,
    const std::function<bool(const v1::WatchJobResponse&)>& on_event) {
  v1::WatchJobRequest request;
  request.set_job_id(std::string(job_id));
  request.set_after_step(after_step);
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::WatchJobResponse>> reader =
      stub_->WatchJob(&context, request);
  IdleWatchdog watchdog(&context, idle_timeout);
  v1::WatchJobResponse event;
  bool stopped_by_caller = false;
  while (reader->Read(&event)) {
    watchdog.Touch();
    if (!on_event(event)) {
      stopped_by_caller = true;
      context.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  if (stopped_by_caller) return absl::CancelledError("watch stopped by the client");
  if (watchdog.fired()) {
    return absl::DeadlineExceededError(absl::StrCat("no message from the server for ",
                                                    absl::FormatDuration(idle_timeout),
                                                    " (not even a heartbeat)"));
  }
  return FromGrpcStatus(status);
}

}  // namespace descent::client
