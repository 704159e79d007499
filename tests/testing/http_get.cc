#include "tests/testing/http_get.h"

#include <cctype>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "tests/testing/tcp_connection.h"

namespace descent::testing {
namespace {

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

bool IsCompleteHttpResponse(const std::string& raw) {
  const size_t header_end = raw.find("\r\n\r\n");
  if (header_end == std::string::npos) return false;
  const int64_t length = ContentLength(absl::string_view(raw).substr(0, header_end));
  return length >= 0 && raw.size() >= header_end + 4 + static_cast<size_t>(length);
}

absl::StatusOr<HttpResponse> HttpExchange(int port, std::string_view request,
                                          absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const std::string where = absl::StrCat("http://127.0.0.1:", port);
  absl::StatusOr<std::unique_ptr<TcpConnection>> connection = TcpConnection::Open(port);
  if (!connection.ok()) return connection.status();
  // A server may answer and close before reading all of a request it refuses (an oversized
  // one): its answer is still read.
  const bool sent = (*connection)->Send(request);
  const std::string raw = (*connection)->Receive(deadline, IsCompleteHttpResponse);
  if (!sent && raw.empty()) {
    return absl::UnavailableError(
        absl::StrCat(where, ": the server closed before the request was sent, without an answer"));
  }
  const size_t header_end = raw.find("\r\n\r\n");
  if (header_end == std::string::npos) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(where, ": no complete response within ", absl::FormatDuration(timeout)));
    }
    return absl::DataLossError(absl::StrCat(where, ": closed without a complete response header (",
                                            raw.size(), " bytes)"));
  }
  if (!IsCompleteHttpResponse(raw) && absl::Now() >= deadline) {
    return absl::DeadlineExceededError(
        absl::StrCat(where, ": no complete response within ", absl::FormatDuration(timeout)));
  }
  HttpResponse response;
  response.headers = raw.substr(0, header_end);
  response.body = raw.substr(header_end + 4);
  // "HTTP/1.1 200 OK"
  const std::vector<absl::string_view> status_line = absl::StrSplit(response.headers, ' ');
  if (status_line.size() < 2 || !absl::StartsWith(status_line[0], "HTTP/") ||
      !absl::SimpleAtoi(status_line[1], &response.status)) {
    return absl::DataLossError(absl::StrCat(where, ": malformed status line"));
  }
  return response;
}

absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& target, absl::Duration timeout) {
  return HttpExchange(port,
                      absl::StrCat("GET ", target,
                                   " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
                      timeout);
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
