// Job ids: "job-" followed by 12 lowercase hex digits (48 random bits). Short enough to type,
// URL-safe, and with a collision check at creation unique within one server.
#ifndef DESCENT_SERVER_JOBS_JOB_IDS_H_
#define DESCENT_SERVER_JOBS_JOB_IDS_H_

#include <string>
#include <string_view>

#include "absl/random/random.h"

namespace descent::server {

inline constexpr std::string_view kJobIdPrefix = "job-";
inline constexpr int kJobIdHexDigits = 12;

// A fresh random id. Uniqueness is the caller's to check (the manager retries on a clash).
std::string NewJobId(absl::BitGen& random);

// True for a string of NewJobId's shape.
bool IsWellFormedJobId(std::string_view id);

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOBS_JOB_IDS_H_
