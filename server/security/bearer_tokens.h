// Bearer-token authentication of descentd's RPCs (--auth-token-file). Clients send
// `authorization: Bearer <token>`; the server keeps only SHA-256 digests of the accepted
// tokens and compares digests in constant time, so neither a log line nor the timing of a
// rejection reveals a token. The set can be replaced while serving (SIGHUP reload).
#ifndef DESCENT_SERVER_SECURITY_BEARER_TOKENS_H_
#define DESCENT_SERVER_SECURITY_BEARER_TOKENS_H_

#include <array>
#include <atomic>
#include <cstdint>
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
// opened, DATA_LOSS when reading it fails (base::ReadFile); INVALID_ARGUMENT when it holds no
// token. Messages name the flag and the path, never a
// token.
absl::StatusOr<std::vector<std::string>> ReadTokenFile(const std::string& path);

class BearerTokens {
 public:
  // `tokens` must not be empty (ReadTokenFile guarantees it).
  explicit BearerTokens(const std::vector<std::string>& tokens);

  // Accepts exactly `tokens` from now on. Unary calls already authenticated are not
  // affected; open streams re-check their token (StreamAuthentication).
  void Replace(const std::vector<std::string>& tokens);

  // Changes with every Replace(): a stream re-checks its token only when this moved.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // `authorization` is the call's authorization header value (nullopt: none sent).
  // OK for "Bearer <accepted token>"; UNAUTHENTICATED otherwise, with a message that says
  // whether the token was missing or not accepted and how to send one (DESCENT_TOKEN).
  absl::Status Check(std::optional<absl::string_view> authorization) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  static std::vector<Digest> Digests(const std::vector<std::string>& tokens);

  mutable absl::Mutex mu_;
  std::vector<Digest> digests_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> generation_{0};
};

// What every descent RPC calls first: OK when `tokens` is null (the server runs without
// --auth-token-file), otherwise tokens->Check() of the call's authorization metadata.
absl::Status Authenticate(const BearerTokens* tokens, const grpc::ServerContext& context);

// Keeps a streaming call's token in check for the life of the stream: a token revoked by a
// reload (SIGHUP) ends the streams it opened too, at their next message. One per call, used
// by the thread that serves it.
class StreamAuthentication {
 public:
  // `tokens` (null: no authentication) and `context` must outlive this object. The call
  // must have passed Authenticate() already.
  StreamAuthentication(const BearerTokens* tokens, const grpc::ServerContext& context);

  // Before each message the stream sends: true while the call's token is accepted. Checks
  // the token again only after the tokens were replaced (one atomic load otherwise). Once
  // false, stays false.
  bool StillAccepted();

  // OK, or after StillAccepted() returned false, UNAUTHENTICATED saying that the token was
  // revoked while the stream was open: the status to end the call with.
  const absl::Status& status() const { return status_; }

 private:
  const BearerTokens* const tokens_;
  const grpc::ServerContext& context_;
  uint64_t checked_generation_ = 0;
  absl::Status status_;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_SECURITY_BEARER_TOKENS_H_
