// descent.v1.DatasetService over gRPC: receives uploads (enforcing the size limit while the
// stream arrives), and answers Get/List/Delete from the DatasetStore. Delete asks the job
// manager whether a queued or running job still uses the dataset.
#ifndef DESCENT_SERVER_RPC_DATASET_SERVICE_H_
#define DESCENT_SERVER_RPC_DATASET_SERVICE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "descent/v1/datasets.grpc.pb.h"
#include "server/security/bearer_tokens.h"
#include "server/datasets/dataset_store.h"
#include "server/jobs/job_manager.h"

namespace descent::server {

struct ReceivedUpload {
  v1::UploadDatasetHeader header;
  std::string bytes;
};

// Reads an upload stream through `read` (false at its end): the header first, then chunks.
// RESOURCE_EXHAUSTED as soon as header.size_bytes or the bytes received so far exceed
// `max_bytes` (the rest of the stream is not read); INVALID_ARGUMENT for a stream without a
// header first, a second header, a negative size, no bytes, or fewer bytes than
// header.size_bytes announced.
absl::StatusOr<ReceivedUpload> ReceiveUpload(
    const std::function<bool(v1::UploadDatasetRequest*)>& read, int64_t max_bytes);

// OK unless a QUEUED or RUNNING job of `jobs` was submitted on `dataset`:
// FAILED_PRECONDITION naming the job then.
absl::Status CheckNoActiveJobUses(const JobManager& jobs, const v1::Dataset& dataset);

class DatasetService final : public v1::DatasetService::Service {
 public:
  // `store` and `jobs` must outlive the service; `store` may be null (a server without a
  // data directory), and then every call is FAILED_PRECONDITION. `tokens` (null: no
  // authentication) must outlive the service too.
  DatasetService(DatasetStore* store, const JobManager* jobs, int64_t max_dataset_bytes,
                 const BearerTokens* tokens = nullptr)
      : store_(store), jobs_(jobs), max_dataset_bytes_(max_dataset_bytes), tokens_(tokens) {}

  // Codes as documented in datasets.proto, after UNAUTHENTICATED for a call without a valid
  // bearer token when the server has tokens (as TrainingService).
  grpc::Status UploadDataset(grpc::ServerContext* context,
                             grpc::ServerReader<v1::UploadDatasetRequest>* reader,
                             v1::UploadDatasetResponse* response) override;
  grpc::Status GetDataset(grpc::ServerContext* context, const v1::GetDatasetRequest* request,
                          v1::Dataset* response) override;
  grpc::Status ListDatasets(grpc::ServerContext* context, const v1::ListDatasetsRequest* request,
                            v1::ListDatasetsResponse* response) override;
  grpc::Status DeleteDataset(grpc::ServerContext* context, const v1::DeleteDatasetRequest* request,
                             v1::DeleteDatasetResponse* response) override;

 private:
  DatasetStore* const store_;
  const JobManager* const jobs_;
  const int64_t max_dataset_bytes_;
  const BearerTokens* const tokens_;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_RPC_DATASET_SERVICE_H_
