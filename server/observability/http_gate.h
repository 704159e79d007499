// The metrics port's front door: accepts connections itself and hands libmicrohttpd only
// those whose first byte can start an HTTP request (a method's first character). Anything
// else — a TLS ClientHello sent to the plaintext port, binary garbage — is answered
// "400 Bad Request" and closed at once. Without it libmicrohttpd 0.9.75 buffers such bytes
// waiting for a line end that never comes, and the client learns nothing until the idle
// timeout closes the connection.
//
// One thread polls the listening socket and the connections that have sent nothing yet; a
// connection waits there at most the idle timeout, and at most so many wait at once, in all
// and from one client address (more are closed as soon as they are accepted), so a crowd of
// silent clients holds a bounded number of descriptors for a bounded time. What has been received is left in the socket for
// libmicrohttpd to read (the first byte is peeked, not read).
#ifndef DESCENT_SERVER_OBSERVABILITY_HTTP_GATE_H_
#define DESCENT_SERVER_OBSERVABILITY_HTTP_GATE_H_

#include <sys/socket.h>

#include <functional>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace descent::server {

struct HttpGateLimits {
  int max_waiting = 256;          // connections that have sent nothing yet, in all
  int max_waiting_per_peer = 32;  // ... and from one client address
  absl::Duration idle_timeout = absl::Seconds(10);  // closed when nothing came by then
};

class HttpGate {
 public:
  // Takes ownership of `fd`, a connection the gate accepted, with its peer address; must
  // close it (or make sure it is closed) whether or not it serves it.
  using HandOff = std::function<void(int fd, const sockaddr* peer, socklen_t peer_length)>;

  // Starts the gate's thread on `listen_fd` (non-blocking; the gate owns it from here and
  // closes it). UNAVAILABLE when the thread or its wake-up descriptor cannot be made (the
  // listening socket is closed then).
  static absl::StatusOr<std::unique_ptr<HttpGate>> Start(int listen_fd, HandOff hand_off,
                                                         const HttpGateLimits& limits);
  // Stops the thread and closes the listening socket and every connection still waiting.
  ~HttpGate();
  HttpGate(const HttpGate&) = delete;
  HttpGate& operator=(const HttpGate&) = delete;

  // Whether `byte`, the first a client sent, can begin an HTTP/1 request: a character of a
  // method token, or the CR/LF of an empty line a server may skip before the request line.
  static bool CanStartRequest(unsigned char byte);

 private:
  HttpGate(int listen_fd, int wake_fd, HandOff hand_off, const HttpGateLimits& limits);
  void Run();

  const int listen_fd_;
  const int wake_fd_;  // an eventfd the destructor writes to stop Run()
  const HandOff hand_off_;
  const HttpGateLimits limits_;
  std::thread thread_;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_OBSERVABILITY_HTTP_GATE_H_
