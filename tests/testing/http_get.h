// A minimal HTTP/1.x client over loopback TCP, for tests that read /metrics or query a local
// Prometheus server without pulling in an HTTP client library, and that send raw requests.
#ifndef DESCENT_TESTS_TESTING_HTTP_GET_H_
#define DESCENT_TESTS_TESTING_HTTP_GET_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace descent::testing {

struct HttpResponse {
  int status = 0;  // e.g. 200
  std::string headers;
  std::string body;
};

// GETs `target` (path and query, already URL-encoded) from 127.0.0.1:`port`. UNAVAILABLE
// when nothing accepts the connection; DEADLINE_EXCEEDED when the exchange takes longer
// than `timeout`; DATA_LOSS for a malformed response.
absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& target,
                                     absl::Duration timeout = absl::Seconds(10));

// Sends `request` exactly as given (it should ask for "Connection: close" unless the server
// closes anyway) and reads one response: complete once the Content-Length body is in, or at
// close. UNAVAILABLE when nothing accepts the connection; DEADLINE_EXCEEDED when no complete
// response came within `timeout`; DATA_LOSS when the server closed without a well-formed one.
absl::StatusOr<HttpResponse> HttpExchange(int port, std::string_view request,
                                          absl::Duration timeout = absl::Seconds(10));

// Whether `raw` holds a whole response: headers, and the Content-Length body if it has one.
// A response without Content-Length ends only when the server closes.
bool IsCompleteHttpResponse(const std::string& raw);

// Percent-encodes `text` for a URL query value.
std::string UrlEncode(const std::string& text);

}  // namespace descent::testing

#endif  // DESCENT_TESTS_TESTING_HTTP_GET_H_
