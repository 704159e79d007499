// What every fuzz target asserts besides "no crash, no sanitizer report": the documented
// error contract. A status outside it is a finding, so it aborts like a crash would.
#ifndef DESCENT_TESTS_FUZZ_FUZZ_CHECKS_H_
#define DESCENT_TESTS_FUZZ_FUZZ_CHECKS_H_

#include <cstdio>
#include <cstdlib>
#include <initializer_list>

#include "absl/status/status.h"

namespace descent::fuzz {

// Aborts, printing the status, unless `status` has one of `allowed` codes and a message (a
// client must always learn what to fix).
inline void CheckErrorContract(const absl::Status& status,
                               std::initializer_list<absl::StatusCode> allowed) {
  bool code_allowed = false;
  for (absl::StatusCode code : allowed) code_allowed = code_allowed || status.code() == code;
  if (!code_allowed || status.message().empty()) {
    std::fprintf(stderr, "error contract broken: %s\n", status.ToString().c_str());
    std::abort();
  }
}

// Aborts with `what` when `condition` is false.
inline void FuzzCheck(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz check failed: %s\n", what);
    std::abort();
  }
}

}  // namespace descent::fuzz

#endif  // DESCENT_TESTS_FUZZ_FUZZ_CHECKS_H_
