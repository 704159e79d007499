#include "server/observability/http_gate.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace descent::server {
namespace {

constexpr std::string_view kBadRequest =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 76\r\n"
    "Connection: close\r\n"
    "\r\n"
    "Bad request: this port speaks plain HTTP/1 (GET /metrics), not TLS or bytes\n";
static_assert(kBadRequest.size() - kBadRequest.find("\r\n\r\n") - 4 == 76,
              "Content-Length must match the body");

// How long accepting pauses after the process ran out of descriptors, so the still-readable
// listening socket does not spin the thread.
constexpr absl::Duration kAcceptPause = absl::Milliseconds(100);

struct Waiting {
  int fd = -1;
  sockaddr_storage peer{};
  socklen_t peer_length = 0;
  absl::Time deadline;
};

// Whether two clients connect from the same address (ports aside).
bool SamePeer(const Waiting& a, const Waiting& b) {
  if (a.peer.ss_family != b.peer.ss_family) return false;
  if (a.peer.ss_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in&>(a.peer).sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in&>(b.peer).sin_addr.s_addr;
  }
  if (a.peer.ss_family == AF_INET6) {
    return std::memcmp(&reinterpret_cast<const sockaddr_in6&>(a.peer).sin6_addr,
                       &reinterpret_cast<const sockaddr_in6&>(b.peer).sin6_addr,
                       sizeof(in6_addr)) == 0;
  }
  return false;
}

int MillisecondsUntil(absl::Time deadline, absl::Time now) {
  return static_cast<int>(std::clamp<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(deadline - now, absl::Milliseconds(1))), 0, 60'000));
}

// Answers 400 to a client whose first byte cannot start a request, and closes it. What it
// sent is read first, so the close ends the connection with FIN rather than a reset that
// could destroy the answer in flight.
void Refuse(int fd) {
  char discard[4096];
  for (int reads = 0; reads < 16 && recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0; ++reads) {
  }
  [[maybe_unused]] const ssize_t sent =
      send(fd, kBadRequest.data(), kBadRequest.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  close(fd);
}

}  // namespace

bool HttpGate::CanStartRequest(unsigned char byte) {
  // RFC 9110's tchar (a method is a token), and CR or LF: RFC 9112 lets a server skip empty
  // lines before the request line. A TLS record starts with 0x16, never one of these.
  return absl::ascii_isalnum(byte) || std::string_view("!#$%&'*+-.^_`|~\r\n").find(static_cast<char>(byte)) != std::string_view::npos;
}

absl::StatusOr<std::unique_ptr<HttpGate>> HttpGate::Start(int listen_fd, HandOff hand_off,
                                                          const HttpGateLimits& limits) {
  const int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    const int error = errno;
    close(listen_fd);
    return absl::UnavailableError(
        absl::StrCat("cannot start the metrics port's accept thread: ", std::strerror(error)));
  }
  std::unique_ptr<HttpGate> gate(
      new HttpGate(listen_fd, wake_fd, std::move(hand_off), limits));
  gate->thread_ = std::thread([raw = gate.get()] { raw->Run(); });
  return gate;
}

HttpGate::HttpGate(int listen_fd, int wake_fd, HandOff hand_off, const HttpGateLimits& limits)
    : listen_fd_(listen_fd), wake_fd_(wake_fd), hand_off_(std::move(hand_off)), limits_(limits) {}

HttpGate::~HttpGate() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  close(wake_fd_);
  close(listen_fd_);
}

void HttpGate::Run() {
  std::vector<Waiting> waiting;
  std::vector<pollfd> polled;
  absl::Time accept_paused_until = absl::InfinitePast();
  while (true) {
    absl::Time now = absl::Now();
    const bool accepting = now >= accept_paused_until;
    polled.assign({{wake_fd_, POLLIN, 0}, {accepting ? listen_fd_ : -1, POLLIN, 0}});
    int timeout_ms = accepting ? -1 : MillisecondsUntil(accept_paused_until, now);
    for (const Waiting& client : waiting) {
      polled.push_back({client.fd, POLLIN, 0});
      const int until = MillisecondsUntil(client.deadline, now);
      timeout_ms = timeout_ms < 0 ? until : std::min(timeout_ms, until);
    }
    if (poll(polled.data(), polled.size(), timeout_ms) < 0 && errno != EINTR) {
      accept_paused_until = absl::Now() + kAcceptPause;  // ENOMEM: try again shortly
      continue;
    }
    if (polled[0].revents != 0) break;
    now = absl::Now();
    std::vector<Waiting> still;
    for (size_t i = 0; i < waiting.size(); ++i) {
      Waiting& client = waiting[i];
      if (polled[i + 2].revents == 0) {
        if (now >= client.deadline) {
          close(client.fd);  // sent nothing within the idle timeout
        } else {
          still.push_back(client);
        }
        continue;
      }
      unsigned char first = 0;
      const ssize_t peeked = recv(client.fd, &first, 1, MSG_PEEK | MSG_DONTWAIT);
      if (peeked == 1 && CanStartRequest(first)) {
        hand_off_(client.fd, reinterpret_cast<const sockaddr*>(&client.peer), client.peer_length);
      } else if (peeked == 1) {
        Refuse(client.fd);
      } else if (peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        still.push_back(client);
      } else {
        close(client.fd);  // closed before sending anything, or reset
      }
    }
    waiting.swap(still);
    if (polled[1].revents == 0) continue;
    while (true) {
      Waiting client;
      client.peer_length = sizeof client.peer;
      client.fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&client.peer),
                          &client.peer_length, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (client.fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          accept_paused_until = absl::Now() + kAcceptPause;
        }
        if (errno == EINTR || errno == ECONNABORTED) continue;
        break;  // EAGAIN: none left
      }
      const auto same_peer = [&client](const Waiting& other) { return SamePeer(client, other); };
      if (static_cast<int>(waiting.size()) >= limits_.max_waiting ||
          std::count_if(waiting.begin(), waiting.end(), same_peer) >=
              limits_.max_waiting_per_peer) {
        close(client.fd);
        continue;
      }
      client.deadline = now + limits_.idle_timeout;
      waiting.push_back(client);
    }
  }
  for (const Waiting& client : waiting) close(client.fd);
}

}  // namespace descent::server
