// Bearer-token authentication of descentd's RPCs (--auth-token-file). Clients send
// `authorization: Bearer <token>`; the server keeps only SHA-256 digests of the accepted
// tokens and compares digests in constant time, so neither a log line nor the timing of a
// rejection reveals a token. The set can be replaced while serving (SIGHUP reload).
#ifndef DESCENT_SERVER_BEARER_TOKENS_H_
#define DESCENT_SERVER_BEARER_TOKENS_H_

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace grpc {
class ServerContext;
}  // namespace grpc

namespace descent::server {

// The tokens in the file at `path` (--auth-token-file): one per line, surrounding whitespace
// trimmed, blank lines and lines starting with '#' skipped. NOT_FOUND when the file cannot be
// read; INVALID_ARGUMENT when it holds no token. Messages name the flag and the path, never a
// token.
absl::StatusOr<std::vector<std::string>> ReadTokenFile(const std::string& path);

class BearerTokens {
 public:
  // `tokens` must not be empty (ReadTokenFile guarantees it).
  explicit BearerTokens(const std::vector<std::string>& tokens);

  // Accepts exactly `tokens` from now on; calls already authenticated are not affected.
  void Replace(const std::vector<std::string>& tokens);

  // `authorization` is the call's authorization header value (nullopt: none sent).
  // OK for "Bearer <accepted token>"; UNAUTHENTICATED otherwise, with a message that says
  // whether the token was missing or not accepted and how to send one (DESCENT_TOKEN).
  absl::Status Check(std::optional<absl::string_view> authorization) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  static std::vector<Digest> Digests(const std::vector<std::string>& tokens);

  mutable absl::Mutex mu_;
  std::vector<Digest> digests_ ABSL_GUARDED_BY(mu_);
};

// What every descent RPC calls first: OK when `tokens` is null (the server runs without
// --auth-token-file), otherwise tokens->Check() of the call's authorization metadata.
absl::Status Authenticate(const BearerTokens* tokens, const grpc::ServerContext& context);

}  // namespace descent::server

#endif  // DESCENT_SERVER_BEARER_TOKENS_H_
