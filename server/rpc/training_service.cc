#include "server/rpc/training_service.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/status_macros.h"
#include "server/conversion/model_serving.h"
#include "server/conversion/onnx_model.h"
#include "server/conversion/spec_conversion.h"
#include "server/rpc/authenticated_call.h"
#include "server/security/bearer_tokens.h"

namespace descent::server {

grpc::Status TrainingService::SubmitJob(grpc::ServerContext* context,
                                        const v1::SubmitJobRequest* request, v1::Job* response) {
  return AuthenticatedCall(tokens_, *context, [&]() -> absl::Status {
    ASSIGN_OR_RETURN(PreparedJob job, PrepareJob(*request, datasets_, limits_));
    ASSIGN_OR_RETURN(*response, jobs_->Submit(std::move(job)));
    return absl::OkStatus();
  });
}

grpc::Status TrainingService::GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                                     v1::Job* response) {
  return AuthenticatedCall(tokens_, *context, [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateJobId(request->job_id()));
    ASSIGN_OR_RETURN(*response, jobs_->Get(request->job_id()));
    return absl::OkStatus();
  });
}

grpc::Status TrainingService::ListJobs(grpc::ServerContext* context,
                                       const v1::ListJobsRequest* request,
                                       v1::ListJobsResponse* response) {
  return AuthenticatedCall(tokens_, *context, [&]() -> absl::Status {
    ASSIGN_OR_RETURN(JobPage page,
                     jobs_->List(request->state(), request->page_size(), request->page_token()));
    response->mutable_jobs()->Reserve(static_cast<int>(page.jobs.size()));
    for (v1::Job& job : page.jobs) *response->add_jobs() = std::move(job);
    response->set_next_page_token(std::move(page.next_page_token));
    return absl::OkStatus();
  });
}

grpc::Status TrainingService::CancelJob(grpc::ServerContext* context,
                                        const v1::CancelJobRequest* request, v1::Job* response) {
  return AuthenticatedCall(tokens_, *context, [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateJobId(request->job_id()));
    ASSIGN_OR_RETURN(*response, jobs_->Cancel(request->job_id()));
    return absl::OkStatus();
  });
}

grpc::Status TrainingService::WatchJob(grpc::ServerContext* context,
                                       const v1::WatchJobRequest* request,
                                       grpc::ServerWriter<v1::WatchJobResponse>* writer) {
  return AuthenticatedCall(tokens_, *context, [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateJobId(request->job_id()));
    // A false return tells the manager to stop serving this stream: the client is gone, or
    // its token was revoked while the stream was open (the stream then ends UNAUTHENTICATED).
    StreamAuthentication authentication(tokens_, *context);
    absl::Status watched = jobs_->Watch(
        request->job_id(), request->after_step(),
        [context, writer, &authentication](const v1::WatchJobResponse& event) {
          return authentication.StillAccepted() && !context->IsCancelled() && writer->Write(event);
        });
    RETURN_IF_ERROR(authentication.status());
    return watched;
  });
}

grpc::Status TrainingService::ExportModel(grpc::ServerContext* context,
                                          const v1::ExportModelRequest* request,
                                          v1::ExportModelResponse* response) {
  return AuthenticatedCall(tokens_, *context, [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateJobId(request->job_id()));
    RETURN_IF_ERROR(ValidateModelFormat(*request));
    ASSIGN_OR_RETURN(const TrainedModel model, jobs_->Model(request->job_id()));
    *response = ToExportModelResponse(model);
    if (request->format() == v1::ONNX) response->set_onnx_model(ToOnnxModel(*response));
    return absl::OkStatus();
  });
}

grpc::Status TrainingService::Predict(grpc::ServerContext* context,
                                      const v1::PredictRequest* request,
                                      v1::PredictResponse* response) {
  return AuthenticatedCall(tokens_, *context, [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateJobId(request->job_id()));
    // A malformed matrix is a bad request whatever the job's state; the column count needs
    // the model and is checked against it.
    RETURN_IF_ERROR(ValidatePredictInputs(request->inputs()));
    ASSIGN_OR_RETURN(const TrainedModel model, jobs_->Model(request->job_id()));
    ASSIGN_OR_RETURN(*response, PredictWithModel(model, *request));
    return absl::OkStatus();
  });
}

}  // namespace descent::server
