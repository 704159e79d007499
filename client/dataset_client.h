// A thin client of descent.v1.DatasetService, returning absl::Status like DescentClient.
#ifndef DESCENT_CLIENT_DATASET_CLIENT_H_
#define DESCENT_CLIENT_DATASET_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/descent_client.h"
#include "descent/v1/datasets.grpc.pb.h"
#include "grpcpp/channel.h"

namespace descent::client {

// Bytes per UploadDataset chunk: well under gRPC's default 4 MiB message limit.
inline constexpr size_t kUploadChunkBytes = 1 << 20;

class DatasetClient {
 public:
  // Does not connect yet: the first call does. `target` is HOST:PORT.
  static std::unique_ptr<DatasetClient> Connect(const std::string& target,
                                                ClientOptions options = {});
  DatasetClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options);

  // Streams the file at `path` (header with `name` and the file's size, then chunks of
  // kUploadChunkBytes), reading it as it goes. NOT_FOUND when the file cannot be opened;
  // otherwise the server's status (datasets.proto), e.g. RESOURCE_EXHAUSTED over its limit.
  absl::StatusOr<v1::UploadDatasetResponse> Upload(const std::string& path,
                                                   const std::string& name);
  // The server's status on failure (NOT_FOUND, FAILED_PRECONDITION, UNAVAILABLE...).
  absl::StatusOr<v1::Dataset> Get(const std::string& id_or_name);
  absl::StatusOr<std::vector<v1::Dataset>> List();
  // A name removes that name (the content stays while others refer to it); an id removes
  // the content with all its names (datasets.proto).
  absl::StatusOr<v1::DeleteDatasetResponse> Delete(const std::string& id_or_name);

 private:
  void SetDeadline(grpc::ClientContext& context) const;

  ClientOptions options_;
  std::unique_ptr<v1::DatasetService::Stub> stub_;
};

}  // namespace descent::client

#endif  // DESCENT_CLIENT_DATASET_CLIENT_H_
