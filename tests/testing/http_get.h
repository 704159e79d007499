// A minimal HTTP/1.0 GET over loopback TCP, for tests that read /metrics or query a local
// Prometheus server without pulling in an HTTP client library.
#ifndef DESCENT_TESTS_TESTING_HTTP_GET_H_
#define DESCENT_TESTS_TESTING_HTTP_GET_H_

#include <string>

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

// Percent-encodes `text` for a URL query value.
std::string UrlEncode(const std::string& text);

}  // namespace descent::testing

#endif  // DESCENT_TESTS_TESTING_HTTP_GET_H_
