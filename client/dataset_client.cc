#include "client/dataset_client.h"

#include <chrono>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "client/unary_call.h"
#include "grpcpp/grpcpp.h"

namespace descent::client {

std::unique_ptr<DatasetClient> DatasetClient::Connect(const std::string& target,
                                                      ClientOptions options) {
  return std::make_unique<DatasetClient>(OpenChannel(target, options.channel), options);
}

DatasetClient::DatasetClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : options_(options), stub_(v1::DatasetService::NewStub(std::move(channel))) {}

void DatasetClient::SetDeadline(grpc::ClientContext& context) const {
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(options_.rpc_timeout));
}

absl::StatusOr<v1::UploadDatasetResponse> DatasetClient::Upload(const std::string& path,
                                                                const std::string& name) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  const int64_t size = static_cast<int64_t>(file.tellg());
  file.seekg(0);

  grpc::ClientContext context;
  SetDeadline(context);
  v1::UploadDatasetResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::UploadDatasetRequest>> writer =
      stub_->UploadDataset(&context, &response);
  v1::UploadDatasetRequest request;
  request.mutable_header()->set_name(name);
  request.mutable_header()->set_size_bytes(size);
  bool open = writer->Write(request);
  std::string buffer(kUploadChunkBytes, '\0');
  while (open && file) {
    file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize got = file.gcount();
    if (got <= 0) break;
    request.set_chunk(buffer.data(), static_cast<size_t>(got));
    open = writer->Write(request);  // false: the server ended the call (e.g. too large)
  }
  if (open) writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  if (file.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return response;
}

absl::StatusOr<v1::Dataset> DatasetClient::Get(const std::string& id_or_name) {
  v1::GetDatasetRequest request;
  request.set_dataset(id_or_name);
  return UnaryCall(*stub_, &v1::DatasetService::Stub::GetDataset, request, options_.rpc_timeout);
}

absl::StatusOr<std::vector<v1::Dataset>> DatasetClient::List() {
  ASSIGN_OR_RETURN(const v1::ListDatasetsResponse response,
                   UnaryCall(*stub_, &v1::DatasetService::Stub::ListDatasets,
                             v1::ListDatasetsRequest(), options_.rpc_timeout));
  return std::vector<v1::Dataset>(response.datasets().begin(), response.datasets().end());
}

absl::StatusOr<v1::DeleteDatasetResponse> DatasetClient::Delete(const std::string& id_or_name) {
  v1::DeleteDatasetRequest request;
  request.set_dataset(id_or_name);
  return UnaryCall(*stub_, &v1::DatasetService::Stub::DeleteDataset, request, options_.rpc_timeout);
}

}  // namespace descent::client
