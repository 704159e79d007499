#include "base/portable_random.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace descent::base {
namespace {

TEST(SplitMix64Test, MatchesTheReferenceGenerator) {
  // Vigna's splitmix64.c seeded with 0: its first outputs are the finaliser of k·0x9e37...
  EXPECT_EQ(SplitMix64(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(SplitMix64(0x9e3779b97f4a7c15ULL), 0x6e789e6aa1b965f4ULL);
}

TEST(PortableRandomTest, EngineIsTheStandardMersenneTwister) {
  // [rand.predef]: the 10000th invocation of a default-constructed mt19937_64 gives this.
  PortableRandom rng(std::mt19937_64::default_seed);
  uint64_t value = 0;
  for (int i = 0; i < 10000; ++i) value = rng.NextBits();
  EXPECT_EQ(value, 9981545732273789042ULL);
}

TEST(PortableRandomTest, DistributionsHaveTheirMoments) {
  PortableRandom rng(7);
  constexpr int kDraws = 200000;
  double uniform_sum = 0, normal_sum = 0, normal_sq = 0;
  int index_counts[5] = {};
  for (int i = 0; i < kDraws; ++i) {
    const double u = rng.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    uniform_sum += u;
    const double z = rng.Normal();
    normal_sum += z;
    normal_sq += z * z;
    ++index_counts[rng.UniformIndex(5)];
  }
  EXPECT_NEAR(uniform_sum / kDraws, 0.5, 0.005);
  EXPECT_NEAR(normal_sum / kDraws, 0.0, 0.01);
  EXPECT_NEAR(normal_sq / kDraws, 1.0, 0.02);
  for (int count : index_counts) EXPECT_NEAR(count, kDraws / 5, kDraws / 5 * 0.03);
}

TEST(PortableRandomTest, NormalPairIsTwoUncorrelatedStandardNormals) {
  PortableRandom rng(11);
  constexpr int kPairs = 100000;
  double sum_a = 0, sum_b = 0, sq_a = 0, sq_b = 0, product = 0;
  for (int i = 0; i < kPairs; ++i) {
    const auto [a, b] = rng.NormalPair();
    sum_a += a;
    sum_b += b;
    sq_a += a * a;
    sq_b += b * b;
    product += a * b;
  }
  EXPECT_NEAR(sum_a / kPairs, 0.0, 0.015);
  EXPECT_NEAR(sum_b / kPairs, 0.0, 0.015);
  EXPECT_NEAR(sq_a / kPairs, 1.0, 0.02);
  EXPECT_NEAR(sq_b / kPairs, 1.0, 0.02);
  EXPECT_NEAR(product / kPairs, 0.0, 0.015);
}

TEST(PortableRandomTest, NormalIsTheFirstOfAFreshPair) {
  // Normal() must not keep a spare: the sequence may not depend on earlier requests.
  PortableRandom singles(5);
  PortableRandom pairs(5);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(singles.Normal(), pairs.NormalPair().first);
}

TEST(PortableRandomTest, ShuffleIsAPermutation) {
  PortableRandom rng(3);
  std::vector<int> values = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  rng.Shuffle(values.data(), static_cast<int64_t>(values.size()));
  EXPECT_EQ(std::set<int>(values.begin(), values.end()).size(), 10u);
  EXPECT_NE(values, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(DerivedSeedTest, StreamsAndIndicesGiveDifferentSeeds) {
  EXPECT_NE(DeriveSeed(1, 2, 3), DeriveSeed(1, 2, 4));
  EXPECT_NE(DeriveSeed(1, 2, 3), DeriveSeed(1, 3, 3));
  EXPECT_NE(DeriveSeed(1, 2, 3), DeriveSeed(2, 2, 3));
  EXPECT_EQ(DeriveSeed(1, 2, 3), DeriveSeed(1, 2, 3));
}

}  // namespace
}  // namespace descent::base
