#include "client/sweep_client.h"

#include <utility>

#include "base/status_macros.h"
#include "client/unary_call.h"
#include "grpcpp/grpcpp.h"

namespace descent::client {

SweepClient::SweepClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : options_(options), stub_(v1::SweepService::NewStub(std::move(channel))) {}

absl::StatusOr<v1::Sweep> SweepClient::Create(const v1::SweepSpec& spec) {
  v1::CreateSweepRequest request;
  *request.mutable_spec() = spec;
  return UnaryCall(*stub_, &v1::SweepService::Stub::CreateSweep, request, options_.rpc_timeout);
}

absl::StatusOr<v1::Sweep> SweepClient::Get(const std::string& id) {
  v1::GetSweepRequest request;
  request.set_sweep_id(id);
  return UnaryCall(*stub_, &v1::SweepService::Stub::GetSweep, request, options_.rpc_timeout);
}

absl::StatusOr<std::vector<v1::Sweep>> SweepClient::List() {
  ASSIGN_OR_RETURN(const v1::ListSweepsResponse response,
                   UnaryCall(*stub_, &v1::SweepService::Stub::ListSweeps, v1::ListSweepsRequest(),
                             options_.rpc_timeout));
  return std::vector<v1::Sweep>(response.sweeps().begin(), response.sweeps().end());
}

absl::StatusOr<v1::Sweep> SweepClient::Cancel(const std::string& id) {
  v1::CancelSweepRequest request;
  request.set_sweep_id(id);
  return UnaryCall(*stub_, &v1::SweepService::Stub::CancelSweep, request, options_.rpc_timeout);
}

absl::Status SweepClient::Watch(
    const std::string& id, int64_t after_event,
    const std::function<void(const v1::WatchSweepResponse&)>& on_message) {
  grpc::ClientContext context;
  v1::WatchSweepRequest request;
  request.set_sweep_id(id);
  request.set_after_event(after_event);
  std::unique_ptr<grpc::ClientReader<v1::WatchSweepResponse>> reader =
      stub_->WatchSweep(&context, request);
  v1::WatchSweepResponse message;
  while (reader->Read(&message)) on_message(message);
  return FromGrpcStatus(reader->Finish());
}

}  // namespace descent::client
