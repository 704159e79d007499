#include "engine/work_sharing.h"

#include <algorithm>
#include <numeric>
#include <thread>
#include <vector>

#include "base/status_macros.h"

namespace descent::internal {

void ShareOutWork(absl::Span<const int64_t> costs, int threads, absl::FunctionRef<void(int)> work) {
  DESCENT_CHECK(threads >= 1);
  const int count = static_cast<int>(costs.size());
  const int used = std::min(threads, count);
  if (used <= 1) {
    for (int i = 0; i < count; ++i) work(i);
    return;
  }
  std::vector<int> order(static_cast<size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return costs[a] > costs[b]; });
  std::vector<std::vector<int>> shares(static_cast<size_t>(used));
  std::vector<int64_t> load(static_cast<size_t>(used), 0);
  for (int i : order) {
    const size_t t = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    shares[t].push_back(i);
    load[t] += costs[i];
  }
  std::vector<std::thread> workers;
  workers.reserve(shares.size() - 1);
  for (size_t t = 1; t < shares.size(); ++t) {
    workers.emplace_back([&work, share = &shares[t]] {
      for (int i : *share) work(i);
    });
  }
  for (int i : shares[0]) work(i);
  for (std::thread& worker : workers) worker.join();
}

}  // namespace descent::internal
