// A raw TCP connection to a loopback server, for tests that send what no well-behaved client
// would (malformed HTTP, a TLS hello to a plaintext port, random bytes, half a request) and
// for clients that connect and then stall.
#ifndef DESCENT_TESTS_TESTING_TCP_CONNECTION_H_
#define DESCENT_TESTS_TESTING_TCP_CONNECTION_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace descent::testing {

class TcpConnection {
 public:
  // Connects to 127.0.0.1:`port`. UNAVAILABLE when nothing accepts the connection.
  static absl::StatusOr<std::unique_ptr<TcpConnection>> Open(int port);
  // Closes the connection (an abortive close when unread data is pending, as a crashed client's).
  ~TcpConnection();

  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  // Sends all of `bytes`; false when the server closed or reset the connection first (a
  // server may do that in the middle of a request it has already refused).
  bool Send(std::string_view bytes);
  // Tells the server nothing more will be sent (shutdown for writing).
  void FinishSending();

  // Reads until `complete(received)` holds, the server closes the connection, or `deadline`
  // passes; returns everything received so far. `complete` may be empty (read to close).
  std::string Receive(absl::Time deadline,
                      const std::function<bool(const std::string&)>& complete = {});
  // True once the server has closed (or reset) the connection, reading and dropping whatever
  // it sends until then; false if it is still open at `deadline`.
  bool WaitForClose(absl::Time deadline);

 private:
  explicit TcpConnection(int fd) : fd_(fd) {}
  // One read; 0 at end of stream or reset, -1 when nothing came by `deadline`.
  int ReadSome(absl::Time deadline, std::string* into);

  int fd_;
};

}  // namespace descent::testing

#endif  // DESCENT_TESTS_TESTING_TCP_CONNECTION_H_
