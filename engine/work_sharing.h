// Items of uneven size shared out among a few threads, for one-off work whose items are
// independent (a large network's layers at set-up). Per-step work does not go through here:
// starting threads costs tens of microseconds.
#ifndef DESCENT_ENGINE_WORK_SHARING_H_
#define DESCENT_ENGINE_WORK_SHARING_H_

#include <cstdint>

#include "absl/functional/function_ref.h"
#include "absl/types/span.h"

namespace descent::internal {

// Calls work(i) once for every i in [0, costs.size()), on up to `threads` threads: the calling
// one and threads - 1 started for the call and joined before it returns. Items are dealt out
// largest cost first, each to the thread with the least cost so far; the items one thread
// gets run in that order. work must be safe to run on different items at once; what an item
// computes must not depend on which thread runs it. threads >= 1 (CHECK).
void ShareOutWork(absl::Span<const int64_t> costs, int threads, absl::FunctionRef<void(int)> work);

}  // namespace descent::internal

#endif  // DESCENT_ENGINE_WORK_SHARING_H_
