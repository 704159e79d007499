#include "engine/work_sharing.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace descent::internal {
namespace {

TEST(ShareOutWorkTest, RunsEveryItemOnceWhateverTheThreadCount) {
  const std::vector<int64_t> costs = {5, 40, 1, 40, 7, 0, 13};
  for (int threads : {1, 2, 3, 16}) {
    std::vector<std::atomic<int>> runs(costs.size());
    ShareOutWork(costs, threads, [&](int i) { runs[static_cast<size_t>(i)].fetch_add(1); });
    for (size_t i = 0; i < costs.size(); ++i) {
      EXPECT_EQ(runs[i].load(), 1) << "item " << i << " on " << threads << " threads";
    }
  }
  ShareOutWork({}, 4, [](int) { FAIL() << "no items, no calls"; });
}

TEST(ShareOutWorkTest, UsesAsManyThreadsAsAskedUpToTheItems) {
  const std::vector<int64_t> costs = {8, 8, 4, 4, 4, 4};
  for (int threads : {1, 2, 3, 12}) {
    std::mutex mu;
    std::set<std::thread::id> seen;
    ShareOutWork(costs, threads, [&](int) {
      std::lock_guard<std::mutex> lock(mu);
      seen.insert(std::this_thread::get_id());
    });
    const size_t expected = static_cast<size_t>(std::min<int>(threads, costs.size()));
    EXPECT_EQ(seen.size(), expected) << threads << " threads";
    EXPECT_EQ(seen.count(std::this_thread::get_id()), 1u) << "the caller takes a share";
  }
}

TEST(ShareOutWorkTest, TwoThreadsSplitTheLargeNetworksLayersEvenly) {
  // The large benchmark network: 2M, 4M and 2M weights. The largest goes alone, the two
  // others together; the caller takes the largest.
  const std::vector<int64_t> costs = {2 << 20, 4 << 20, 2 << 20};
  std::mutex mu;
  std::vector<std::thread::id> owner(costs.size());
  ShareOutWork(costs, 2, [&](int i) {
    std::lock_guard<std::mutex> lock(mu);
    owner[static_cast<size_t>(i)] = std::this_thread::get_id();
  });
  EXPECT_EQ(owner[1], std::this_thread::get_id());
  EXPECT_EQ(owner[0], owner[2]);
  EXPECT_NE(owner[0], owner[1]);
}

}  // namespace
}  // namespace descent::internal
