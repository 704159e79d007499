// The one way the CLI makes a unary gRPC call: a fresh context with the client's deadline,
// and the grpc::Status turned into an absl::Status (same code, the server's message kept).
#ifndef DESCENT_CLIENT_UNARY_CALL_H_
#define DESCENT_CLIENT_UNARY_CALL_H_

#include <chrono>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace descent::client {

// The gRPC status as an absl::Status: same code, same message.
absl::Status FromGrpcStatus(const grpc::Status& status);

// Calls `stub.*method(request)` with a deadline `timeout` from now. The response, or the
// call's status: the server's (code and message verbatim), or UNAVAILABLE /
// DEADLINE_EXCEEDED from the transport when the server cannot be reached in time.
//   UnaryCall(*stub_, &v1::TrainingService::Stub::GetJob, request, options_.rpc_timeout)
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> UnaryCall(Stub& stub,
                                   grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                                const Request&, Response*),
                                   const Request& request, absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  Response response;
  const grpc::Status status = (stub.*method)(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace descent::client

#endif  // DESCENT_CLIENT_UNARY_CALL_H_
