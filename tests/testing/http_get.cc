#include "tests/testing/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace descent::testing {
namespace {

// Closes the socket on every path out.
class Socket {
 public:
  Socket() : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Milliseconds left until `deadline`, at least 0.
int MillisLeft(absl::Time deadline) {
  return static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
}

// Content-Length from the response headers, or -1 when absent.
int64_t ContentLength(absl::string_view headers) {
  for (absl::string_view line : absl::StrSplit(headers, "\r\n")) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(line.substr(0, colon)),
                                "content-length")) {
      continue;
    }
    int64_t length = -1;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(colon + 1)), &length)) {
      return length;
    }
  }
  return -1;
}

}  // namespace

absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& target, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const std::string where = absl::StrCat("http://127.0.0.1:", port, target);
  Socket socket;
  if (socket.fd() < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(socket.fd(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::UnavailableError(absl::StrCat(where, ": connect: ", strerror(errno)));
  }
  const std::string request = absl::StrCat("GET ", target,
                                           " HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                                           "Connection: close\r\n\r\n");
  if (send(socket.fd(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return absl::UnavailableError(absl::StrCat(where, ": send: ", strerror(errno)));
  }

  std::string raw;
  size_t header_end = std::string::npos;
  int64_t length = -1;
  while (true) {
    if (header_end != std::string::npos && length >= 0 &&
        raw.size() >= header_end + 4 + static_cast<size_t>(length)) {
      break;  // the whole body is here; no need to wait for the server to close
    }
    pollfd readable{socket.fd(), POLLIN, 0};
    const int ready = poll(&readable, 1, MillisLeft(deadline));
    if (ready == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat(where, ": no complete response within ", absl::FormatDuration(timeout)));
    }
    if (ready < 0 && errno == EINTR) continue;
    char buffer[16384];
    const ssize_t n = recv(socket.fd(), buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::UnavailableError(absl::StrCat(where, ": recv: ", strerror(errno)));
    if (n == 0) break;  // closed: the body ends here
    raw.append(buffer, static_cast<size_t>(n));
    if (header_end == std::string::npos) {
      header_end = raw.find("\r\n\r\n");
      if (header_end != std::string::npos) length = ContentLength(raw.substr(0, header_end));
    }
  }
  if (header_end == std::string::npos) {
    return absl::DataLossError(absl::StrCat(where, ": response without a header end"));
  }
  HttpResponse response;
  response.headers = raw.substr(0, header_end);
  response.body = raw.substr(header_end + 4);
  // "HTTP/1.1 200 OK"
  const std::vector<absl::string_view> status_line = absl::StrSplit(response.headers, ' ');
  if (status_line.size() < 2 || !absl::SimpleAtoi(status_line[1], &response.status)) {
    return absl::DataLossError(absl::StrCat(where, ": malformed status line"));
  }
  return response;
}

std::string UrlEncode(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

}  // namespace descent::testing
