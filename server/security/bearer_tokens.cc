#include "server/security/bearer_tokens.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/files.h"
#include "base/status_macros.h"
#include "grpcpp/server_context.h"

namespace descent::server {
namespace {

constexpr char kScheme[] = "Bearer ";
constexpr char kHowToSend[] =
    "send a token listed in descentd's --auth-token-file: set DESCENT_TOKEN (or "
    "--token-file) for the descent CLI, or the `authorization: Bearer <token>` metadata";

}  // namespace

absl::StatusOr<std::vector<std::string>> ReadTokenFile(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string content, base::ReadFile(path, "--auth-token-file"));
  std::vector<std::string> tokens;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    tokens.emplace_back(line);
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--auth-token-file ", path,
                     " holds no token: put one token per line ('#' starts a comment)"));
  }
  return tokens;
}

BearerTokens::BearerTokens(const std::vector<std::string>& tokens) : digests_(Digests(tokens)) {}

void BearerTokens::Replace(const std::vector<std::string>& tokens) {
  std::vector<Digest> digests = Digests(tokens);
  absl::MutexLock lock(&mu_);
  digests_.swap(digests);
  // Under the lock: a stream that sees the new generation checks against the new digests.
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

std::vector<BearerTokens::Digest> BearerTokens::Digests(const std::vector<std::string>& tokens) {
  std::vector<Digest> digests;
  digests.reserve(tokens.size());
  for (const std::string& token : tokens) {
    Digest& digest = digests.emplace_back();
    SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest.data());
  }
  return digests;
}

absl::Status BearerTokens::Check(std::optional<absl::string_view> authorization) const {
  if (!authorization.has_value() || authorization->empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("missing bearer token: descentd requires authentication; ", kHowToSend));
  }
  if (!absl::StartsWithIgnoreCase(*authorization, kScheme)) {
    return absl::UnauthenticatedError(
        absl::StrCat("invalid authorization metadata: expected `Bearer <token>`; ", kHowToSend));
  }
  const absl::string_view token =
      absl::StripAsciiWhitespace(authorization->substr(sizeof(kScheme) - 1));
  // Fixed-size digests compared with CRYPTO_memcmp against every entry: the time taken
  // depends on neither the token's content nor which entry (if any) matched.
  Digest presented;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), presented.data());
  int matched = 0;
  {
    absl::MutexLock lock(&mu_);
    for (const Digest& accepted : digests_) {
      matched |= CRYPTO_memcmp(presented.data(), accepted.data(), presented.size()) == 0;
    }
  }
  if (matched == 0) {
    return absl::UnauthenticatedError(absl::StrCat(
        "invalid bearer token: descentd does not accept it (revoked or mistyped); ", kHowToSend));
  }
  return absl::OkStatus();
}

absl::Status Authenticate(const BearerTokens* tokens, const grpc::ServerContext& context) {
  if (tokens == nullptr) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  const auto header = metadata.find("authorization");
  if (header == metadata.end()) return tokens->Check(std::nullopt);
  return tokens->Check(absl::string_view(header->second.data(), header->second.size()));
}

StreamAuthentication::StreamAuthentication(const BearerTokens* tokens,
                                           const grpc::ServerContext& context)
    : tokens_(tokens),
      context_(context),
      checked_generation_(tokens == nullptr ? 0 : tokens->generation()) {}

bool StreamAuthentication::StillAccepted() {
  if (tokens_ == nullptr || !status_.ok()) return status_.ok();
  const uint64_t generation = tokens_->generation();
  if (generation == checked_generation_) return true;
  checked_generation_ = generation;
  if (absl::Status checked = Authenticate(tokens_, context_); !checked.ok()) {
    status_ = absl::UnauthenticatedError(absl::StrCat(
        "bearer token revoked: descentd re-read its --auth-token-file and no longer accepts "
        "the token this stream was opened with, so the stream ended; ",
        kHowToSend));
  }
  return status_.ok();
}

}  // namespace descent::server
