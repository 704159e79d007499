// gRPC core's own messages (its gpr_log output: failed TLS handshakes, bind errors, ...)
// written as descentd log lines (log.h) instead of gRPC's own stderr format, so that
// --log-format=json covers them too. A failed TLS handshake becomes a connection_refused
// warning; anything else gRPC reports at its ERROR level is a grpc line.
#ifndef DESCENT_SERVER_OBSERVABILITY_GRPC_LOG_H_
#define DESCENT_SERVER_OBSERVABILITY_GRPC_LOG_H_

#include <string>
#include <vector>

namespace descent::server {

// From now on, for the whole process (gRPC's log hook is process-wide). Idempotent.
void RouteGrpcLogToLog();

// While alive, the gRPC messages logged on the constructing thread are kept here instead of
// being written (other threads' messages are written as usual). Server::Start uses it
// around binding its port, so a port in use is one clear line rather than gRPC's error blob
// followed by it. Needs RouteGrpcLogToLog(); not nestable.
class GrpcLogCapture {
 public:
  GrpcLogCapture();
  ~GrpcLogCapture();
  GrpcLogCapture(const GrpcLogCapture&) = delete;
  GrpcLogCapture& operator=(const GrpcLogCapture&) = delete;

  // The messages captured so far, oldest first.
  const std::vector<std::string>& messages() const { return messages_; }
  // True when one of them contains `text`.
  bool Mentions(const std::string& text) const;

 private:
  std::vector<std::string> messages_;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_OBSERVABILITY_GRPC_LOG_H_
