#include "server/observability/listen_socket.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace descent::server {
namespace {

struct HostPort {
  std::string host;
  std::string port;
};

absl::StatusOr<HostPort> SplitHostPort(const std::string& address) {
  const auto malformed = [&address] {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", address, "\" is not host:port (e.g. 0.0.0.0:9464, [::]:9464, port 0 "
                                    "picks a free one)"));
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return malformed();
  HostPort parts{address.substr(0, colon), address.substr(colon + 1)};
  if (parts.host.front() == '[') {
    if (parts.host.size() < 3 || parts.host.back() != ']') return malformed();
    parts.host = parts.host.substr(1, parts.host.size() - 2);
  } else if (parts.host.find(':') != std::string::npos) {
    return malformed();  // an IPv6 address needs brackets to tell it from the port
  }
  int port = -1;
  if (!absl::SimpleAtoi(parts.port, &port) || port < 0 || port > 65535) return malformed();
  return parts;
}

using AddrInfoPtr = std::unique_ptr<addrinfo, decltype(&freeaddrinfo)>;

}  // namespace

absl::StatusOr<ListeningSocket> ListenTcp(const std::string& address, int backlog) {
  absl::StatusOr<HostPort> parts = SplitHostPort(address);
  if (!parts.ok()) return parts.status();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int resolved = getaddrinfo(parts->host.c_str(), parts->port.c_str(), &hints, &found);
  if (resolved != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("host of \"", address, "\" does not resolve: ", gai_strerror(resolved)));
  }
  AddrInfoPtr addresses(found, &freeaddrinfo);
  std::string reason = "no address";
  for (const addrinfo* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
    const int fd = socket(candidate->ai_family,
                          candidate->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          candidate->ai_protocol);
    if (fd < 0) {
      reason = strerror(errno);
      continue;
    }
    // Lets a restarted descentd bind while old connections sit in TIME_WAIT. Unlike
    // SO_REUSEPORT it does not let a second live listener share the port.
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    sockaddr_storage bound{};
    socklen_t bound_size = sizeof(bound);
    if (bind(fd, candidate->ai_addr, candidate->ai_addrlen) != 0 || listen(fd, backlog) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_size) != 0) {
      reason = strerror(errno);
      close(fd);
      continue;
    }
    const uint16_t port_be = bound.ss_family == AF_INET6
                                 ? reinterpret_cast<const sockaddr_in6&>(bound).sin6_port
                                 : reinterpret_cast<const sockaddr_in&>(bound).sin_port;
    return ListeningSocket{fd, ntohs(port_be)};
  }
  return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ", reason));
}

}  // namespace descent::server
