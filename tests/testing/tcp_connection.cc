#include "tests/testing/tcp_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace descent::testing {
namespace {

// Milliseconds left until `deadline`, at least 0.
int MillisLeft(absl::Time deadline) {
  return static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpConnection>> TcpConnection::Open(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  std::unique_ptr<TcpConnection> connection(new TcpConnection(fd));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::UnavailableError(
        absl::StrCat("connect to 127.0.0.1:", port, ": ", strerror(errno)));
  }
  return connection;
}

TcpConnection::~TcpConnection() { close(fd_); }

bool TcpConnection::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t sent = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(sent));
  }
  return true;
}

void TcpConnection::FinishSending() { shutdown(fd_, SHUT_WR); }

int TcpConnection::ReadSome(absl::Time deadline, std::string* into) {
  while (true) {
    pollfd readable{fd_, POLLIN, 0};
    const int ready = poll(&readable, 1, MillisLeft(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) return -1;
    char buffer[16384];
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;  // closed, or reset
    into->append(buffer, static_cast<size_t>(n));
    return static_cast<int>(n);
  }
}

std::string TcpConnection::Receive(absl::Time deadline,
                                   const std::function<bool(const std::string&)>& complete) {
  std::string received;
  while (!(complete && complete(received))) {
    if (ReadSome(deadline, &received) <= 0) break;
  }
  return received;
}

bool TcpConnection::WaitForClose(absl::Time deadline) {
  std::string dropped;
  while (true) {
    const int n = ReadSome(deadline, &dropped);
    if (n == 0) return true;
    if (n < 0) return false;
    dropped.clear();
  }
}

}  // namespace descent::testing
