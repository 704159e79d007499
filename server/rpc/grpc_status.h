// The one conversion from absl::Status (used everywhere inside descentd) to grpc::Status
// (what a client sees). Every service method returns through it, so codes and messages
// reach the client exactly as the core produced them.
#ifndef DESCENT_SERVER_RPC_GRPC_STATUS_H_
#define DESCENT_SERVER_RPC_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace descent::server {

// Same code (absl::StatusCode and grpc::StatusCode both follow google.rpc.Code), same
// message. A code outside google.rpc.Code, which only a bug can produce, becomes UNKNOWN
// (never OK), message kept.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace descent::server

#endif  // DESCENT_SERVER_RPC_GRPC_STATUS_H_
