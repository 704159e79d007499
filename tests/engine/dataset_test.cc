#include "engine/dataset.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace descent {
namespace {

using ::descent::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

Dataset MustMake(const std::string& name, BuiltinOptions options) {
  absl::StatusOr<Dataset> dataset = MakeBuiltinDataset(name, options);
  EXPECT_TRUE(dataset.ok()) << dataset.status();
  return dataset.ok() ? *std::move(dataset) : Dataset();
}

double Correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sa += a[i];
    sb += b[i];
    saa += a[i] * a[i];
    sbb += b[i] * b[i];
    sab += a[i] * b[i];
  }
  return (sab - sa * sb / n) / std::sqrt((saa - sa * sa / n) * (sbb - sb * sb / n));
}

std::vector<double> Column(const Matrix& m, int c) {
  std::vector<double> values;
  for (int r = 0; r < m.rows(); ++r) values.push_back(m(r, c));
  return values;
}

struct Shape {
  std::string name;
  int features;
  int target_cols;
  int classes;
};

class BuiltinShapeTest : public ::testing::TestWithParam<Shape> {};

TEST_P(BuiltinShapeTest, HasTheDocumentedShapeAndIsValid) {
  const Shape& shape = GetParam();
  const Dataset dataset = MustMake(shape.name, {.samples = 301, .seed = 5});
  EXPECT_EQ(dataset.samples(), 301);
  EXPECT_EQ(dataset.features.cols(), shape.features);
  EXPECT_EQ(dataset.targets.rows(), 301);
  EXPECT_EQ(dataset.targets.cols(), shape.target_cols);
  EXPECT_EQ(dataset.num_classes, shape.classes);
  EXPECT_EQ(dataset.feature_names.size(), static_cast<size_t>(shape.features));
  // Predict matches columns by these names: each must be there once.
  const std::set<std::string> distinct(dataset.feature_names.begin(),
                                       dataset.feature_names.end());
  EXPECT_EQ(distinct.size(), dataset.feature_names.size());
  EXPECT_EQ(dataset.class_names.size(), static_cast<size_t>(shape.classes));
  EXPECT_OK(ValidateDataset(dataset));
  if (shape.classes > 0) {
    std::set<int> seen;
    for (float label : dataset.targets.values()) {
      ASSERT_EQ(label, std::round(label));
      ASSERT_GE(label, 0);
      ASSERT_LT(label, shape.classes);
      seen.insert(static_cast<int>(label));
    }
    EXPECT_EQ(seen.size(), static_cast<size_t>(shape.classes));
  }
}

TEST_P(BuiltinShapeTest, SameSeedSameBytesOtherSeedOtherData) {
  const Shape& shape = GetParam();
  const Dataset a = MustMake(shape.name, {.samples = 200, .seed = 11});
  const Dataset b = MustMake(shape.name, {.samples = 200, .seed = 11});
  const Dataset c = MustMake(shape.name, {.samples = 200, .seed = 12});
  EXPECT_EQ(a.features.values(), b.features.values());
  EXPECT_EQ(a.targets.values(), b.targets.values());
  EXPECT_NE(a.features.values(), c.features.values());
}

INSTANTIATE_TEST_SUITE_P(AllGenerators, BuiltinShapeTest,
                         ::testing::Values(Shape{"house_prices", 13, 1, 0}, Shape{"spam", 10, 1, 2},
                                           Shape{"cat_dog_bird", 8, 1, 3}, Shape{"moons", 2, 1, 2},
                                           Shape{"spirals", 2, 1, 3}, Shape{"blobs", 2, 1, 3}),
                         [](const auto& info) { return info.param.name; });

TEST(BuiltinDatasetTest, NamesListsEveryGenerator) {
  EXPECT_THAT(BuiltinDatasetNames(),
              ElementsAre("house_prices", "spam", "cat_dog_bird", "moons", "spirals", "blobs"));
}

TEST(BuiltinDatasetTest, HousePricesRiseWithAreaAndFallWithDistance) {
  const Dataset d = MustMake("house_prices", {.samples = 4000, .seed = 1});
  const std::vector<double> price = Column(d.targets, 0);
  for (double p : price) ASSERT_GT(p, 0.0);
  EXPECT_GT(Correlation(Column(d.features, 0), price), 0.5);   // living area
  EXPECT_LT(Correlation(Column(d.features, 5), price), -0.2);  // distance to the centre
  double mean = 0;
  for (double p : price) mean += p;
  mean /= static_cast<double>(price.size());
  EXPECT_GT(mean, 2.0);  // $200k .. $1M on average: a plausible market
  EXPECT_LT(mean, 10.0);
}

TEST(BuiltinDatasetTest, SpamIsAboutFortyPercent) {
  const Dataset d = MustMake("spam", {.samples = 5000, .seed = 2});
  double spam = 0;
  for (float label : d.targets.values()) spam += label;
  EXPECT_NEAR(spam / 5000, 0.4, 0.03);
}

TEST(BuiltinDatasetTest, NoiseZeroPutsMoonsExactlyOnTheirArcs) {
  const Dataset d = MustMake("moons", {.samples = 100, .seed = 3, .noise = 0.0});
  for (int r = 0; r < d.samples(); ++r) {
    const double x = d.features(r, 0), y = d.features(r, 1);
    if (d.targets(r, 0) == 0) {
      EXPECT_NEAR(x * x + y * y, 1.0, 1e-5);
      EXPECT_GE(y, -1e-6);
    } else {
      EXPECT_NEAR((x - 1) * (x - 1) + (y - 0.5) * (y - 0.5), 1.0, 1e-5);
      EXPECT_LE(y, 0.5 + 1e-6);
    }
  }
}

TEST(BuiltinDatasetTest, LabelNoiseIsTheMislabelledShare) {
  // Without label noise the cat/dog/bird labels cycle exactly; with noise 0.3 about 30% differ.
  const Dataset clean = MustMake("cat_dog_bird", {.samples = 3000, .seed = 4, .noise = 0.0});
  const Dataset noisy = MustMake("cat_dog_bird", {.samples = 3000, .seed = 4, .noise = 0.3});
  int flipped = 0;
  for (int r = 0; r < clean.samples(); ++r) {
    ASSERT_EQ(clean.targets(r, 0), r % 3);
    flipped += noisy.targets(r, 0) != r % 3;
  }
  EXPECT_NEAR(flipped / 3000.0, 0.3, 0.03);
}

TEST(BuiltinDatasetTest, SpiralsAndBlobsTakeClassAndFeatureCounts) {
  const Dataset spirals = MustMake("spirals", {.samples = 100, .classes = 5});
  EXPECT_EQ(spirals.num_classes, 5);
  EXPECT_EQ(spirals.class_names.size(), 5u);
  const Dataset blobs = MustMake("blobs", {.samples = 100, .classes = 4, .features = 7});
  EXPECT_EQ(blobs.num_classes, 4);
  EXPECT_EQ(blobs.features.cols(), 7);
  EXPECT_EQ(blobs.feature_names.size(), 7u);
}

TEST(BuiltinDatasetTest, SpiralPointsStayInsideTheUnitDisc) {
  const Dataset d = MustMake("spirals", {.samples = 500, .seed = 9});
  for (int r = 0; r < d.samples(); ++r) {
    EXPECT_LE(std::hypot(d.features(r, 0), d.features(r, 1)), 1.0 + 1e-6);
  }
}

TEST(BuiltinDatasetTest, RejectsBadOptionsNamingTheField) {
  EXPECT_THAT(MakeBuiltinDataset("mnist", {}),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("dataset.builtin.name"), HasSubstr("mnist"),
                             HasSubstr("house_prices"), HasSubstr("spirals"))));
  EXPECT_THAT(MakeBuiltinDataset("moons", {.samples = 1}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dataset.builtin.samples must be in [2, 1000000] (got 1)")));
  EXPECT_THAT(MakeBuiltinDataset("moons", {.samples = 1'000'001}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset.builtin.samples")));
  EXPECT_THAT(MakeBuiltinDataset("moons", {.classes = 3}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset.builtin.classes")));
  EXPECT_THAT(MakeBuiltinDataset("spirals", {.classes = 1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset.builtin.classes")));
  EXPECT_THAT(MakeBuiltinDataset("spirals", {.features = 3}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset.builtin.features")));
  EXPECT_THAT(MakeBuiltinDataset("blobs", {.features = -1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset.builtin.features")));
  EXPECT_THAT(MakeBuiltinDataset("spam", {.noise = 0.7}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("dataset.builtin.noise"), HasSubstr("mislabelled"))));
  EXPECT_THAT(MakeBuiltinDataset("moons", {.noise = std::numeric_limits<double>::quiet_NaN()}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset.builtin.noise")));
}

Dataset SmallInline() {
  Dataset d;
  d.features = Matrix(10, 2);
  d.targets = Matrix(10, 1);
  return d;
}

TEST(ValidateDatasetTest, AcceptsAConsistentDataset) { EXPECT_OK(ValidateDataset(SmallInline())); }

TEST(ValidateDatasetTest, RejectsEmptyOrMismatchedParts) {
  Dataset d = SmallInline();
  d.features = Matrix();
  EXPECT_THAT(ValidateDataset(d), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("dataset.inline.features is empty")));
  d = SmallInline();
  d.targets = Matrix(0, 1);
  EXPECT_THAT(ValidateDataset(d), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("dataset.inline.targets is empty")));
  d = SmallInline();
  d.targets = Matrix(9, 1);
  EXPECT_THAT(ValidateDataset(d),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has 9 rows but")));
}

TEST(ValidateDatasetTest, NamesTheFirstNonFiniteValue) {
  Dataset d = SmallInline();
  d.features.data()[17] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(ValidateDataset(d),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dataset.inline.features.values[17] is NaN (row 8, column 1)")));
  d = SmallInline();
  d.targets.data()[3] = -std::numeric_limits<float>::infinity();
  EXPECT_THAT(ValidateDataset(d),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dataset.inline.targets.values[3] is infinite")));
}

TEST(ValidateDatasetTest, ChecksClassCountAndNames) {
  Dataset d = SmallInline();
  d.num_classes = 1;
  EXPECT_THAT(ValidateDataset(d), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("dataset.inline.num_classes")));
  d = SmallInline();
  d.num_classes = 2;
  d.class_names = {"a", "b", "c"};
  EXPECT_THAT(ValidateDataset(d), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("dataset.inline.class_names has 3 names")));
  d = SmallInline();
  d.feature_names = {"x"};
  EXPECT_THAT(ValidateDataset(d), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("dataset.inline.feature_names has 1 names")));
  d = SmallInline();
  d.feature_names = {"x", "x"};
  EXPECT_THAT(
      ValidateDataset(d),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("dataset.inline.feature_names[1] \"x\" repeats feature_names[0]")));
}

}  // namespace
}  // namespace descent
