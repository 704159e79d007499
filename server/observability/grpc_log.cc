#include "server/observability/grpc_log.h"

#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpc/support/log.h"
#include "server/observability/log.h"

namespace descent::server {
namespace {

thread_local std::vector<std::string>* captured = nullptr;

void WriteGrpcMessage(gpr_log_func_args* args) {
  const std::string message = args->message == nullptr ? "" : args->message;
  if (captured != nullptr) {
    captured->push_back(message);
    return;
  }
  const std::string source =
      absl::StrCat(args->file == nullptr ? "?" : args->file, ":", args->line);
  // gRPC's TLS handshaker reports a refused peer (wrong CA, no client certificate, a
  // plaintext client) this way; the peer's address is not in the message.
  if (absl::StrContains(message, "Handshake failed")) {
    Log(LogLevel::kWarning, "connection_refused",
        absl::StrCat("refused a connection: TLS handshake failed: ", message),
        {{"reason", "tls_handshake"}, {"error", message}});
    return;
  }
  const LogLevel level =
      args->severity == GPR_LOG_SEVERITY_ERROR ? LogLevel::kError : LogLevel::kInfo;
  Log(level, "grpc", absl::StrCat("gRPC: ", message, " (", source, ")"),
      {{"error", message}, {"source", source}});
}

}  // namespace

void RouteGrpcLogToLog() {
  static std::once_flag once;
  std::call_once(once, [] { gpr_set_log_function(WriteGrpcMessage); });
}

GrpcLogCapture::GrpcLogCapture() { captured = &messages_; }

GrpcLogCapture::~GrpcLogCapture() { captured = nullptr; }

bool GrpcLogCapture::Mentions(const std::string& text) const {
  for (const std::string& message : messages_) {
    if (absl::StrContains(message, text)) return true;
  }
  return false;
}

}  // namespace descent::server
