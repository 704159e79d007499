// The one place the CLI (and its tests) open a gRPC channel to descentd: plaintext or TLS
// (optionally with a client certificate for mutual TLS), with an optional bearer token added
// to every call. DescentClient and DatasetClient share the channel it returns.
#ifndef DESCENT_CLIENT_CHANNEL_H_
#define DESCENT_CLIENT_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"

namespace descent::client {

// PEM contents and the token, as OpenChannel uses them. All empty: plaintext, no token.
struct ChannelOptions {
  // Non-empty: TLS, and the server's certificate must chain to one of these CAs.
  std::string tls_ca_pem;
  // Both non-empty: the client certificate (and its key) offered for mutual TLS.
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // Non-empty: the name the server's certificate must carry instead of the target's host
  // (e.g. dialing 10.0.0.7 for a certificate issued to descentd.internal).
  std::string tls_server_name;
  // Non-empty: sent as `authorization: Bearer <token>` on every call.
  std::string bearer_token;
};

// What the CLI was given: file paths (flags or their environment variables) and the token
// itself from DESCENT_TOKEN. Empty = not given.
struct ChannelSettings {
  std::string tls_ca_file;      // --tls-ca / DESCENT_TLS_CA
  std::string tls_cert_file;    // --tls-cert / DESCENT_TLS_CERT
  std::string tls_key_file;     // --tls-key / DESCENT_TLS_KEY
  std::string tls_server_name;  // --tls-server-name / DESCENT_TLS_SERVER_NAME
  std::string token_file;       // --token-file / DESCENT_TOKEN_FILE (wins over token)
  std::string token;            // DESCENT_TOKEN
};

// Reads the files of `settings`. INVALID_ARGUMENT for --tls-cert without --tls-key (or the
// reverse), a client certificate or --tls-server-name without --tls-ca, or a token file
// without a token; NOT_FOUND for a file that cannot be read. Messages name the flag and the
// path, never the token.
absl::StatusOr<ChannelOptions> LoadChannelOptions(const ChannelSettings& settings);

// A channel to `target` (HOST:PORT). Does not connect yet: the first call does, and a TLS
// handshake that fails (untrusted or misnamed certificate, plaintext server, missing client
// certificate) fails that call with UNAVAILABLE.
std::shared_ptr<grpc::Channel> OpenChannel(const std::string& target,
                                           const ChannelOptions& options = {});

}  // namespace descent::client

#endif  // DESCENT_CLIENT_CHANNEL_H_
