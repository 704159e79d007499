#include "engine/batching.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "gtest/gtest.h"

namespace descent {
namespace {

TEST(ValidationRowsTest, KerasSplitPointWithAtLeastOneRow) {
  EXPECT_EQ(ValidationRows(1000, 0.0), 0);
  EXPECT_EQ(ValidationRows(1000, 0.2), 200);
  // 10 * (1 - 0.8) is 1.9999999999999996 in double: still a split at 2, so 8 held out.
  EXPECT_EQ(ValidationRows(10, 0.8), 8);
  // floor(3 * 0.99) = 2: one row held out, and never fewer than one.
  EXPECT_EQ(ValidationRows(3, 0.01), 1);
  EXPECT_EQ(ValidationRows(1000, 1e-9), 1);
  EXPECT_EQ(ValidationRows(5, 1.0), 5);
}

TEST(StepsPerEpochTest, CeilOfRowsOverBatchWithFullBatchForZero) {
  EXPECT_EQ(StepsPerEpoch(1600, 32), 50);
  EXPECT_EQ(StepsPerEpoch(1601, 32), 51);  // the last batch holds one row
  EXPECT_EQ(StepsPerEpoch(10, 0), 1);      // 0 = full batch
  EXPECT_EQ(StepsPerEpoch(10, 64), 1);     // a batch larger than the data is all of it
  EXPECT_EQ(StepsPerEpoch(0, 32), 0);
}

TEST(SplitPermutationTest, IsASeededPermutation) {
  const std::vector<int> order = SplitPermutation(7, 100);
  std::vector<int> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> identity(100);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(sorted, identity);
  EXPECT_NE(order, identity);
  EXPECT_EQ(SplitPermutation(7, 100), order);
  EXPECT_NE(SplitPermutation(8, 100), order);
}

}  // namespace
}  // namespace descent
