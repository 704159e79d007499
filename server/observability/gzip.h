// gzip (RFC 1952) compression of a response body, for HTTP clients that accept it.
#ifndef DESCENT_SERVER_OBSERVABILITY_GZIP_H_
#define DESCENT_SERVER_OBSERVABILITY_GZIP_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace descent::server {

// `data` as one gzip member. INTERNAL if zlib fails (out of memory); callers then send the
// data uncompressed.
absl::StatusOr<std::string> GzipCompress(std::string_view data);

// Whether an Accept-Encoding header value admits gzip: a "gzip" (or "*") coding whose
// quality is not 0. A null or empty header admits none.
bool AcceptsGzip(const char* accept_encoding);

}  // namespace descent::server

#endif  // DESCENT_SERVER_OBSERVABILITY_GZIP_H_
