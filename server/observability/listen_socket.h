// A listening TCP socket for a "host:port" address, bound by descentd itself so that a busy
// port or an unknown host is reported with the system's reason.
#ifndef DESCENT_SERVER_OBSERVABILITY_LISTEN_SOCKET_H_
#define DESCENT_SERVER_OBSERVABILITY_LISTEN_SOCKET_H_

#include <string>

#include "absl/status/statusor.h"

namespace descent::server {

struct ListeningSocket {
  int fd = -1;    // non-blocking, close-on-exec; the caller owns it
  int port = 0;   // the bound port (the kernel's choice when the address asked for port 0)
};

// Binds and listens on `address`: "host:port" with an IPv4 address, a host name, or a
// bracketed IPv6 address ("[::]:9464"); port 0 picks a free port. INVALID_ARGUMENT when the
// address is malformed or the host does not resolve; UNAVAILABLE when no resolved address
// can be bound (in use, not local, no permission), with the system's reason.
absl::StatusOr<ListeningSocket> ListenTcp(const std::string& address, int backlog);

}  // namespace descent::server

#endif  // DESCENT_SERVER_OBSERVABILITY_LISTEN_SOCKET_H_
