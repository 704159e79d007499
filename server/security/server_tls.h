// descentd's TLS material (--tls-cert, --tls-key, --tls-client-ca), read and checked at
// start-up so that a missing, unreadable or mismatched file stops the server with a message
// naming the flag and the file, instead of a failed handshake at the first call.
#ifndef DESCENT_SERVER_SECURITY_SERVER_TLS_H_
#define DESCENT_SERVER_SECURITY_SERVER_TLS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace descent::server {

// PEM contents. An empty client_ca_pem means plain TLS (clients are not asked for a
// certificate); otherwise mutual TLS: every client must present a certificate signed by one
// of these CAs.
struct ServerTls {
  std::string cert_chain_pem;
  std::string private_key_pem;
  std::string client_ca_pem;
};

// The paths given on the command line; empty = flag not set.
struct ServerTlsFiles {
  std::string cert;       // --tls-cert
  std::string key;        // --tls-key
  std::string client_ca;  // --tls-client-ca
};

// A usage check on the flags alone: INVALID_ARGUMENT for a flag set without its partner
// (--tls-cert without --tls-key or the reverse, --tls-client-ca without both).
absl::Status CheckServerTlsFlags(const ServerTlsFiles& files);

// nullopt when no TLS flag is set (plaintext, as without TLS support). CheckServerTlsFlags'
// errors; INVALID_ARGUMENT for a file that holds no PEM certificate / private key, or a key
// that does not belong to the certificate; NOT_FOUND for a file that cannot be read.
absl::StatusOr<std::optional<ServerTls>> LoadServerTls(const ServerTlsFiles& files);

}  // namespace descent::server

#endif  // DESCENT_SERVER_SECURITY_SERVER_TLS_H_
