#include "base/status_macros.h"

#include <cstdio>
#include <cstdlib>

namespace descent::internal {

void CheckFailed(const char* file, int line, const char* condition) {
  std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, condition);
  std::fflush(stderr);
  std::abort();
}

}  // namespace descent::internal
