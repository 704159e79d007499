#include "client/server_address.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace descent::client {

std::string WithDefaultPort(absl::string_view server) {
  if (server.empty()) return std::string(server);
  // A gRPC target URI: the user chose the resolver and the port.
  for (absl::string_view scheme :
       {"dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:", "vsock:", "xds:"}) {
    if (absl::StartsWith(server, scheme)) return std::string(server);
  }
  if (server.front() == '[') {
    const size_t close = server.find(']');
    if (close != absl::string_view::npos && close + 1 == server.size()) {
      return absl::StrCat(server, ":", kDefaultPort);  // "[::1]"
    }
    return std::string(server);  // "[::1]:7000" (or malformed: gRPC will say)
  }
  const auto colons = std::count(server.begin(), server.end(), ':');
  if (colons == 0) return absl::StrCat(server, ":", kDefaultPort);       // "localhost"
  if (colons > 1) return absl::StrCat("[", server, "]:", kDefaultPort);  // "::1"
  return std::string(server);                                            // "host:7000"
}

}  // namespace descent::client
