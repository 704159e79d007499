// `--fail-on`: which verdicts of a job that ended SUCCEEDED make `descent watch` and
// `descent submit --watch` exit kExitVerdict (commands.h), so that a CI script notices a run
// that finished but diverged or stalled.
#ifndef DESCENT_CLIENT_FAIL_ON_H_
#define DESCENT_CLIENT_FAIL_ON_H_

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "descent/v1/training.pb.h"

namespace descent::client {

// The flag's default: a diverged run fails, a stalled one does not.
inline constexpr std::string_view kDefaultFailOn = "diverged";

// Parses a comma-separated list of verdicts in any case ("diverged,stalled"; also "learning",
// "converged"), or "none" for an empty list. INVALID_ARGUMENT naming --fail-on and the valid
// values for anything else (an unknown or empty name, "none" with others).
absl::StatusOr<std::vector<v1::Verdict>> ParseFailOn(std::string_view flag);

// True when `verdict` is one of `fail_on`.
bool FailsOn(const std::vector<v1::Verdict>& fail_on, v1::Verdict verdict);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_FAIL_ON_H_
