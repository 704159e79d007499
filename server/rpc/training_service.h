// descent.v1.TrainingService over gRPC: a thin, stateless adapter. Each method validates
// and converts its request (spec_conversion.h), calls the JobManager, and converts the
// result and status back (grpc_status.h). No job logic lives here.
#ifndef DESCENT_SERVER_RPC_TRAINING_SERVICE_H_
#define DESCENT_SERVER_RPC_TRAINING_SERVICE_H_

#include "descent/v1/training.grpc.pb.h"
#include "server/security/bearer_tokens.h"
#include "server/datasets/dataset_store.h"
#include "server/jobs/job_manager.h"
#include "server/conversion/spec_limits.h"

namespace descent::server {

class TrainingService final : public v1::TrainingService::Service {
 public:
  // `jobs` must outlive the service (and therefore the grpc::Server it is registered on), and
  // so must `datasets`, which resolves jobs' references to uploaded datasets (null: none),
  // and `tokens` (null: no authentication). SubmitJob rejects jobs beyond `limits`.
  explicit TrainingService(JobManager* jobs, const DatasetStore* datasets = nullptr,
                           const SpecLimits& limits = {}, const BearerTokens* tokens = nullptr)
      : jobs_(jobs), datasets_(datasets), limits_(limits), tokens_(tokens) {}

  // Each runs in AuthenticatedCall (authenticated_call.h: UNAUTHENTICATED without a valid
  // bearer token when the server has tokens, before anything else), then returns the JobManager's
  // status through ToGrpcStatus, or INVALID_ARGUMENT naming the field for a malformed request
  // (empty job_id, bad spec, bad inputs); the codes per method are listed on the rpcs in
  // training.proto.
  grpc::Status SubmitJob(grpc::ServerContext* context, const v1::SubmitJobRequest* request,
                         v1::Job* response) override;
  grpc::Status GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                      v1::Job* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                         v1::Job* response) override;
  // Blocks this RPC's thread for the life of the stream. Ends OK after the terminal state
  // event; CANCELLED when the client goes away; UNAVAILABLE if the server stops first;
  // UNAUTHENTICATED when a token reload revokes the token the stream was opened with (at
  // its next message, so within one heartbeat interval).
  grpc::Status WatchJob(grpc::ServerContext* context, const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::WatchJobResponse>* writer) override;
  grpc::Status ExportModel(grpc::ServerContext* context, const v1::ExportModelRequest* request,
                           v1::ExportModelResponse* response) override;
  grpc::Status Predict(grpc::ServerContext* context, const v1::PredictRequest* request,
                       v1::PredictResponse* response) override;

 private:
  JobManager* const jobs_;
  const DatasetStore* const datasets_;
  const SpecLimits limits_;
  const BearerTokens* const tokens_;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_RPC_TRAINING_SERVICE_H_
