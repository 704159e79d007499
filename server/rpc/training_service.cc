#include "server/rpc/training_service.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/status_macros.h"
#include "server/conversion/model_serving.h"
#include "server/conversion/onnx_model.h"
#include "server/conversion/spec_conversion.h"
#include "server/rpc/grpc_status.h"
#include "server/security/bearer_tokens.h"

namespace descent::server {
namespace {

// Moves the value into *response on success; the status either way.
template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* response) {
  if (result.ok()) *response = *std::move(result);
  return ToGrpcStatus(result.status());
}

}  // namespace

grpc::Status TrainingService::SubmitJob(grpc::ServerContext* context,
                                        const v1::SubmitJobRequest* request, v1::Job* response) {
  if (grpc::Status denied = ToGrpcStatus(Authenticate(tokens_, *context)); !denied.ok()) {
    return denied;
  }
  absl::StatusOr<PreparedJob> job = PrepareJob(*request, datasets_, limits_);
  if (!job.ok()) return ToGrpcStatus(job.status());
  return Reply(jobs_->Submit(*std::move(job)), response);
}

grpc::Status TrainingService::GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                                     v1::Job* response) {
  if (grpc::Status denied = ToGrpcStatus(Authenticate(tokens_, *context)); !denied.ok()) {
    return denied;
  }
  if (absl::Status valid = ValidateJobId(request->job_id()); !valid.ok()) {
    return ToGrpcStatus(valid);
  }
  return Reply(jobs_->Get(request->job_id()), response);
}

grpc::Status TrainingService::ListJobs(grpc::ServerContext* context,
                                       const v1::ListJobsRequest* request,
                                       v1::ListJobsResponse* response) {
  if (grpc::Status denied = ToGrpcStatus(Authenticate(tokens_, *context)); !denied.ok()) {
    return denied;
  }
  absl::StatusOr<JobPage> page =
      jobs_->List(request->state(), request->page_size(), request->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  response->mutable_jobs()->Reserve(static_cast<int>(page->jobs.size()));
  for (v1::Job& job : page->jobs) *response->add_jobs() = std::move(job);
  response->set_next_page_token(std::move(page->next_page_token));
  return grpc::Status::OK;
}

grpc::Status TrainingService::CancelJob(grpc::ServerContext* context,
                                        const v1::CancelJobRequest* request, v1::Job* response) {
  if (grpc::Status denied = ToGrpcStatus(Authenticate(tokens_, *context)); !denied.ok()) {
    return denied;
  }
  if (absl::Status valid = ValidateJobId(request->job_id()); !valid.ok()) {
    return ToGrpcStatus(valid);
  }
  return Reply(jobs_->Cancel(request->job_id()), response);
}

grpc::Status TrainingService::WatchJob(grpc::ServerContext* context,
                                       const v1::WatchJobRequest* request,
                                       grpc::ServerWriter<v1::WatchJobResponse>* writer) {
  if (grpc::Status denied = ToGrpcStatus(Authenticate(tokens_, *context)); !denied.ok()) {
    return denied;
  }
  if (absl::Status valid = ValidateJobId(request->job_id()); !valid.ok()) {
    return ToGrpcStatus(valid);
  }
  // A false return tells the manager to stop serving this stream: the client is gone, or
  // its token was revoked while the stream was open (the stream then ends UNAUTHENTICATED).
  StreamAuthentication authentication(tokens_, *context);
  absl::Status watched = jobs_->Watch(
      request->job_id(), request->after_step(),
      [context, writer, &authentication](const v1::WatchJobResponse& event) {
        return authentication.StillAccepted() && !context->IsCancelled() && writer->Write(event);
      });
  if (!authentication.status().ok()) return ToGrpcStatus(authentication.status());
  return ToGrpcStatus(watched);
}

grpc::Status TrainingService::ExportModel(grpc::ServerContext* context,
                                          const v1::ExportModelRequest* request,
                                          v1::ExportModelResponse* response) {
  if (grpc::Status denied = ToGrpcStatus(Authenticate(tokens_, *context)); !denied.ok()) {
    return denied;
  }
  if (absl::Status valid = ValidateJobId(request->job_id()); !valid.ok()) {
    return ToGrpcStatus(valid);
  }
  if (absl::Status valid = ValidateModelFormat(*request); !valid.ok()) {
    return ToGrpcStatus(valid);
  }
  absl::StatusOr<TrainedModel> model = jobs_->Model(request->job_id());
  if (!model.ok()) return ToGrpcStatus(model.status());
  *response = ToExportModelResponse(*model);
  if (request->format() == v1::ONNX) response->set_onnx_model(ToOnnxModel(*response));
  return grpc::Status::OK;
}

grpc::Status TrainingService::Predict(grpc::ServerContext* context,
                                      const v1::PredictRequest* request,
                                      v1::PredictResponse* response) {
  if (grpc::Status denied = ToGrpcStatus(Authenticate(tokens_, *context)); !denied.ok()) {
    return denied;
  }
  if (absl::Status valid = ValidateJobId(request->job_id()); !valid.ok()) {
    return ToGrpcStatus(valid);
  }
  // A malformed matrix is a bad request whatever the job's state; the column count needs
  // the model and is checked against it.
  if (absl::Status valid = ValidatePredictInputs(request->inputs()); !valid.ok()) {
    return ToGrpcStatus(valid);
  }
  absl::StatusOr<TrainedModel> model = jobs_->Model(request->job_id());
  if (!model.ok()) return ToGrpcStatus(model.status());
  return Reply(PredictWithModel(*model, *request), response);
}

}  // namespace descent::server
