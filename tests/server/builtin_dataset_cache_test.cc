#include "server/conversion/builtin_dataset_cache.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

BuiltinOptions Options(int samples, uint64_t seed) {
  BuiltinOptions options;
  options.samples = samples;
  options.seed = seed;
  return options;
}

std::vector<float> Values(const Matrix& matrix) {
  return std::vector<float>(matrix.data(), matrix.data() + matrix.size());
}

void ExpectSameData(const Dataset& a, const Dataset& b) {
  EXPECT_EQ(a.features.rows(), b.features.rows());
  EXPECT_EQ(a.features.cols(), b.features.cols());
  EXPECT_EQ(Values(a.features), Values(b.features));
  EXPECT_EQ(Values(a.targets), Values(b.targets));
  EXPECT_EQ(a.num_classes, b.num_classes);
  EXPECT_EQ(a.feature_names, b.feature_names);
  EXPECT_EQ(a.class_names, b.class_names);
}

// house_prices: 13 features and 1 target per sample.
constexpr size_t kBytesPerHouse = 14 * sizeof(float);

TEST(BuiltinDatasetCacheTest, AHitIsAnOwnedCopyOfWhatTheGeneratorMakes) {
  BuiltinDatasetCache cache(/*max_bytes=*/size_t{1} << 20);
  absl::StatusOr<Dataset> generated = MakeBuiltinDataset("house_prices", Options(100, 7));
  ASSERT_TRUE(generated.ok()) << generated.status();

  absl::StatusOr<Dataset> first = cache.Get("house_prices", Options(100, 7));
  ASSERT_TRUE(first.ok()) << first.status();
  ExpectSameData(*first, *generated);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.bytes(), 100 * kBytesPerHouse);

  first->features.data()[0] = -12345.0f;  // the caller's copy: the kept one is untouched
  absl::StatusOr<Dataset> second = cache.Get("house_prices", Options(100, 7));
  ASSERT_TRUE(second.ok()) << second.status();
  ExpectSameData(*second, *generated);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(BuiltinDatasetCacheTest, EveryOptionIsPartOfTheKey) {
  BuiltinDatasetCache cache(/*max_bytes=*/size_t{1} << 20);
  BuiltinOptions base = Options(64, 1);
  base.classes = 3;
  base.features = 4;
  std::vector<BuiltinOptions> variants(5, base);
  variants[1].seed = 2;
  variants[2].samples = 65;
  variants[3].classes = 4;
  variants[4].noise = 0.5;
  for (const BuiltinOptions& options : variants) {
    absl::StatusOr<Dataset> got = cache.Get("blobs", options);
    ASSERT_TRUE(got.ok()) << got.status();
    absl::StatusOr<Dataset> generated = MakeBuiltinDataset("blobs", options);
    ASSERT_TRUE(generated.ok()) << generated.status();
    ExpectSameData(*got, *generated);
  }
  EXPECT_EQ(cache.size(), variants.size());
  // Another generator with the same options is another dataset.
  ASSERT_OK(cache.Get("house_prices", Options(64, 1)).status());
  ASSERT_OK(cache.Get("spam", Options(64, 1)).status());
  EXPECT_EQ(cache.size(), variants.size() + 2);
}

TEST(BuiltinDatasetCacheTest, KeepsTheMostRecentlyUsedWithinItsBytes) {
  BuiltinDatasetCache cache(/*max_bytes=*/2 * 100 * kBytesPerHouse);
  ASSERT_TRUE(cache.Get("house_prices", Options(100, 1)).ok());
  ASSERT_TRUE(cache.Get("house_prices", Options(100, 2)).ok());
  EXPECT_EQ(cache.size(), 2u);
  ASSERT_TRUE(cache.Get("house_prices", Options(100, 1)).ok());  // 1 is now the most recent
  ASSERT_TRUE(cache.Get("house_prices", Options(100, 3)).ok());  // evicts 2
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.bytes(), 2 * 100 * kBytesPerHouse);
  // Larger than the whole cache: returned, never kept, evicts nothing.
  absl::StatusOr<Dataset> large = cache.Get("house_prices", Options(300, 1));
  ASSERT_TRUE(large.ok()) << large.status();
  EXPECT_EQ(large->samples(), 300);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.bytes(), 2 * 100 * kBytesPerHouse);
}

TEST(BuiltinDatasetCacheTest, ErrorsAreTheGeneratorsAndAreNotKept) {
  BuiltinDatasetCache cache(/*max_bytes=*/size_t{1} << 20);
  EXPECT_THAT(cache.Get("no_such_dataset", Options(100, 1)).status(),
              testing::StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr("blobs")));
  EXPECT_THAT(cache.Get("house_prices", Options(1, 1)).status(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

}  // namespace
}  // namespace descent::server
