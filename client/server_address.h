// The address `descent` dials: --server or DESCENT_SERVER as the user wrote it, with
// descentd's port when none is given. gRPC itself would dial 443 for a bare host name.
#ifndef DESCENT_CLIENT_SERVER_ADDRESS_H_
#define DESCENT_CLIENT_SERVER_ADDRESS_H_

#include <string>

#include "absl/strings/string_view.h"

namespace descent::client {

// descentd's default --listen port.
inline constexpr int kDefaultPort = 50051;

// "localhost" -> "localhost:50051", "[::1]" and "::1" -> "[::1]:50051"; "host:7000",
// "[::1]:7000" and gRPC target URIs ("dns:///host:7000", "unix:/path") are dialled as given.
std::string WithDefaultPort(absl::string_view server);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_SERVER_ADDRESS_H_
