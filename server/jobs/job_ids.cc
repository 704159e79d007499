#include "server/jobs/job_ids.h"

#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"

namespace descent::server {

std::string NewJobId(absl::BitGen& random) {
  const uint64_t bits = absl::Uniform<uint64_t>(random) & ((uint64_t{1} << 48) - 1);
  return absl::StrFormat("%s%012x", std::string(kJobIdPrefix), bits);
}

bool IsWellFormedJobId(std::string_view id) {
  if (id.size() != kJobIdPrefix.size() + kJobIdHexDigits) return false;
  if (id.substr(0, kJobIdPrefix.size()) != kJobIdPrefix) return false;
  for (char c : id.substr(kJobIdPrefix.size())) {
    if (!absl::ascii_isxdigit(c) || absl::ascii_isupper(c)) return false;
  }
  return true;
}

}  // namespace descent::server
