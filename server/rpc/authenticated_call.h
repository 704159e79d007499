// The frame every descent RPC method runs in: authenticate, run the method's body, convert
// its status once. Methods write their body against absl::Status (RETURN_IF_ERROR,
// ASSIGN_OR_RETURN) and never spell out the token check or the status conversion.
//
// A helper rather than a gRPC server interceptor: gRPC C++ server interceptors can observe
// and modify a call but cannot end it with a status of their own (Hijack() is client-side
// only), so a refused call would still reach the method; and an AuthMetadataProcessor only
// runs on TLS listeners and for every service (health, reflection) alike.
#ifndef DESCENT_SERVER_RPC_AUTHENTICATED_CALL_H_
#define DESCENT_SERVER_RPC_AUTHENTICATED_CALL_H_

#include <utility>

#include "absl/status/status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "server/rpc/grpc_status.h"
#include "server/security/bearer_tokens.h"

namespace descent::server {

// Authenticate(tokens, context) first: when it fails, its UNAUTHENTICATED status is the
// call's and `body` never runs. Otherwise `body()` (returning absl::Status, writing the
// response itself) runs and its status is the call's, through ToGrpcStatus.
template <typename Body>
grpc::Status AuthenticatedCall(const BearerTokens* tokens, const grpc::ServerContext& context,
                               Body&& body) {
  const absl::Status authenticated = Authenticate(tokens, context);
  if (!authenticated.ok()) return ToGrpcStatus(authenticated);
  return ToGrpcStatus(std::forward<Body>(body)());
}

}  // namespace descent::server

#endif  // DESCENT_SERVER_RPC_AUTHENTICATED_CALL_H_
