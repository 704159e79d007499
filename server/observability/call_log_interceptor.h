// Logs the RPCs the server refused or could not handle, as they end: UNAUTHENTICATED (a
// missing, wrong or revoked bearer token; event call_refused) and INTERNAL, UNKNOWN or
// DATA_LOSS (a request that hit a server-side fault; event call_failed), each with the
// method, the client's address and the status message (which never holds a token). Other
// codes are the client's business and are counted in descent_grpc_server_handled_total,
// not logged. At most kMaxLinesPerSecond lines a second: a client hammering the server with
// bad tokens cannot flood the log; the next line says how many were left out.
#ifndef DESCENT_SERVER_OBSERVABILITY_CALL_LOG_INTERCEPTOR_H_
#define DESCENT_SERVER_OBSERVABILITY_CALL_LOG_INTERCEPTOR_H_

#include <memory>

#include "grpcpp/support/server_interceptor.h"

namespace descent::server {

inline constexpr int kMaxCallLogLinesPerSecond = 20;

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeCallLogInterceptorFactory();

}  // namespace descent::server

#endif  // DESCENT_SERVER_OBSERVABILITY_CALL_LOG_INTERCEPTOR_H_
