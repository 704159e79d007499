#include "engine/loss.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "engine/matrix.h"
#include "engine/train_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/reference/loss_reference.inc"
#include "tests/testing/allocation_counter.h"
#include "tests/testing/status_matchers.h"

namespace descent::reference {
// Failure messages name the case instead of dumping its bytes.
void PrintTo(const LossReference& ref, std::ostream* os) { *os << ref.name; }
}  // namespace descent::reference

namespace descent {
namespace {

using ::descent::testing::IsOk;
using ::descent::testing::StatusIs;
using ::testing::HasSubstr;

std::unique_ptr<Loss> MustMakeLoss(const LossSpec& spec, int outputs) {
  absl::StatusOr<std::unique_ptr<Loss>> loss = MakeLoss(spec, outputs);
  EXPECT_THAT(loss, IsOk());
  return loss.ok() ? std::move(loss).value() : nullptr;
}

LossSpec Spec(LossKind kind) { return LossSpec{.kind = kind}; }

// ---------------------------------------------------------------------------------------------
// The seed's own numbers.
// ---------------------------------------------------------------------------------------------

TEST(LossSeedNumbers, SquaredErrorOfAHousePrice) {
  // Predicting $350,000 for a house that sold for $300,000: (350000 - 300000)^2 = 2.5e9.
  auto loss = MustMakeLoss(Spec(LossKind::kMeanSquaredError), 1);
  Matrix grad;
  EXPECT_DOUBLE_EQ(loss->Compute(Matrix(1, 1, {350000.0f}), Matrix(1, 1, {300000.0f}), &grad),
                   2.5e9);
  EXPECT_FLOAT_EQ(grad(0, 0), 100000.0f);  // 2 * (350000 - 300000)
}

TEST(LossSeedNumbers, BinaryCrossEntropyIsMinusLogOfTheProbabilityOfTheTrueLabel) {
  // Outputs 0.9 / 0.1 / 0.5 for label 1 cost -ln p = 0.1054 / 2.3026 / 0.6931.
  auto loss = MustMakeLoss(Spec(LossKind::kBinaryCrossEntropy), 1);
  const struct {
    double probability;
    double seed_value;
  } cases[] = {{0.9, 0.1054}, {0.1, 2.3026}, {0.5, 0.6931}};
  for (const auto& c : cases) {
    const float logit = static_cast<float>(std::log(c.probability / (1 - c.probability)));
    const double value = loss->Evaluate(Matrix(1, 1, {logit}), Matrix(1, 1, {1.0f}));
    EXPECT_NEAR(value, -std::log(c.probability), 1e-7) << "p = " << c.probability;
    EXPECT_NEAR(value, c.seed_value, 5e-5) << "p = " << c.probability;
  }
}

TEST(LossSeedNumbers, CrossEntropyOfCatIsMinusLogOfItsProbability) {
  // Rows [0.7, 0.2, 0.1] and [0.1, 0.6, 0.3] on "cat" (class 0): -ln 0.7 = 0.3567 and
  // -ln 0.1 = 2.3026. Logits ln p give exactly those softmax outputs.
  auto loss = MustMakeLoss(Spec(LossKind::kCategoricalCrossEntropy), 3);
  const std::vector<std::vector<double>> rows = {{0.7, 0.2, 0.1}, {0.1, 0.6, 0.3}};
  const double seed_values[] = {0.3567, 2.3026};
  for (size_t r = 0; r < rows.size(); ++r) {
    Matrix logits(1, 3);
    for (int c = 0; c < 3; ++c) logits(0, c) = static_cast<float>(std::log(rows[r][c]));
    const double by_index = loss->Evaluate(logits, Matrix(1, 1, {0.0f}));
    const double by_one_hot = loss->Evaluate(logits, Matrix(1, 3, {1.0f, 0.0f, 0.0f}));
    EXPECT_NEAR(by_index, -std::log(rows[r][0]), 1e-7);
    EXPECT_NEAR(by_index, seed_values[r], 5e-5);
    EXPECT_NEAR(by_one_hot, by_index, 1e-12);

    Matrix probabilities = logits;
    loss->OutputTransform(&probabilities);
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(probabilities(0, c), rows[r][c], 1e-6);
  }
  // Both animals in one batch: the mean.
  Matrix batch(2, 3);
  for (int r = 0; r < 2; ++r) {
    for (int c = 0; c < 3; ++c) batch(r, c) = static_cast<float>(std::log(rows[r][c]));
  }
  EXPECT_NEAR(loss->Evaluate(batch, Matrix(2, 1, {0.0f, 0.0f})),
              (-std::log(0.7) - std::log(0.1)) / 2, 1e-7);
}

// ---------------------------------------------------------------------------------------------
// Against PyTorch (tests/engine/reference/make_reference.py).
// ---------------------------------------------------------------------------------------------

class TorchLossReferenceTest : public ::testing::TestWithParam<reference::LossReference> {};

TEST_P(TorchLossReferenceTest, ValueAndGradientMatchPytorch) {
  const reference::LossReference& ref = GetParam();
  const Matrix logits(ref.rows, ref.cols, ref.logits);
  const Matrix targets(ref.rows, ref.target_cols, ref.targets);
  ASSERT_THAT(OutputUnits(ref.spec, targets, ref.cols), IsOk());
  EXPECT_EQ(*OutputUnits(ref.spec, targets, ref.cols), ref.cols);
  auto loss = MustMakeLoss(ref.spec, ref.cols);
  ASSERT_NE(loss, nullptr);

  Matrix grad;
  const double value = loss->Compute(logits, targets, &grad);
  EXPECT_NEAR(value, ref.loss, 1e-9 * std::max(1.0, std::abs(ref.loss)));
  EXPECT_EQ(loss->Evaluate(logits, targets), value);
  ASSERT_EQ(grad.rows(), ref.rows);
  ASSERT_EQ(grad.cols(), ref.cols);
  for (size_t i = 0; i < ref.grad.size(); ++i) {
    // The gradient is computed in double and rounded to float once.
    EXPECT_NEAR(grad.data()[i], ref.grad[i], 1e-7 * std::max(1.0, std::abs(ref.grad[i])))
        << "element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Torch, TorchLossReferenceTest,
                         ::testing::ValuesIn(reference::LossReferences()),
                         [](const ::testing::TestParamInfo<reference::LossReference>& info) {
                           return std::string(info.param.name);
                         });

// ---------------------------------------------------------------------------------------------
// Finite differences: the float analytic gradient against central differences of a
// double-precision loss written straight from PyTorch's documented definitions.
// ---------------------------------------------------------------------------------------------

double Weight(const std::vector<float>& weights, int c) {
  return weights.empty() ? 1.0 : weights[c];
}

// log softmax of one row, in double.
std::vector<double> LogSoftmax(const std::vector<double>& z) {
  const double max = *std::max_element(z.begin(), z.end());
  double sum = 0.0;
  for (double v : z) sum += std::exp(v - max);
  std::vector<double> out(z.size());
  for (size_t c = 0; c < z.size(); ++c) out[c] = z[c] - max - std::log(sum);
  return out;
}

double DoubleLoss(const LossSpec& spec, const std::vector<double>& x, int rows, int cols,
                  const Matrix& targets) {
  switch (spec.kind) {
    case LossKind::kMeanSquaredError: {
      double sum = 0.0;
      for (size_t i = 0; i < x.size(); ++i) sum += std::pow(x[i] - targets.data()[i], 2);
      return sum / x.size();
    }
    case LossKind::kBinaryCrossEntropy: {
      double sum = 0.0;
      for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < cols; ++c) {
          const double s = 1.0 / (1.0 + std::exp(-x[r * cols + c]));
          const double y = targets(r, c);
          sum -= Weight(spec.pos_weight, c) * y * std::log(s) + (1 - y) * std::log(1 - s);
        }
      }
      return sum / x.size();
    }
    case LossKind::kCategoricalCrossEntropy: {
      const double e = spec.label_smoothing;
      double sum = 0.0;
      double denominator = 0.0;
      for (int r = 0; r < rows; ++r) {
        const std::vector<double> log_p =
            LogSoftmax(std::vector<double>(x.begin() + r * cols, x.begin() + (r + 1) * cols));
        if (targets.cols() == 1) {
          const int t = static_cast<int>(targets(r, 0));
          sum += (1 - e) * Weight(spec.class_weights, t) * -log_p[t];
          for (int c = 0; c < cols; ++c)
            sum += e / cols * Weight(spec.class_weights, c) * -log_p[c];
          denominator += Weight(spec.class_weights, t);
        } else {
          for (int c = 0; c < cols; ++c) {
            const double q = (1 - e) * targets(r, c) + e / cols;
            sum += Weight(spec.class_weights, c) * q * -log_p[c];
          }
          denominator += 1;
        }
      }
      return sum / denominator;
    }
  }
  return 0.0;
}

struct GradientCheckCase {
  std::string name;
  LossSpec spec;
  int cols;
  bool probability_targets = false;
};

void PrintTo(const GradientCheckCase& test, std::ostream* os) { *os << test.name; }

class LossGradientCheck : public ::testing::TestWithParam<GradientCheckCase> {};

TEST_P(LossGradientCheck, AnalyticGradientMatchesCentralDifferences) {
  const GradientCheckCase& test = GetParam();
  constexpr int kRows = 7;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.5f);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  Matrix logits(kRows, test.cols);
  for (float& v : logits.span()) v = normal(rng);
  const bool index_targets =
      test.spec.kind == LossKind::kCategoricalCrossEntropy && !test.probability_targets;
  Matrix targets(kRows, index_targets ? 1 : test.cols);
  for (int r = 0; r < kRows; ++r) {
    if (index_targets) {
      targets(r, 0) = static_cast<float>(r % test.cols);
    } else if (test.spec.kind == LossKind::kCategoricalCrossEntropy) {
      double sum = 0.0;
      for (int c = 0; c < test.cols; ++c) sum += targets(r, c) = unit(rng);
      for (int c = 0; c < test.cols; ++c) targets(r, c) = static_cast<float>(targets(r, c) / sum);
    } else if (test.spec.kind == LossKind::kBinaryCrossEntropy) {
      for (int c = 0; c < test.cols; ++c) targets(r, c) = r % 3 == 0 ? unit(rng) : (r + c) % 2;
    } else {
      for (int c = 0; c < test.cols; ++c) targets(r, c) = normal(rng);
    }
  }
  ASSERT_THAT(OutputUnits(test.spec, targets, test.cols), IsOk());
  auto loss = MustMakeLoss(test.spec, test.cols);
  ASSERT_NE(loss, nullptr);
  Matrix grad;
  const double value = loss->Compute(logits, targets, &grad);

  std::vector<double> x(logits.values().begin(), logits.values().end());
  EXPECT_NEAR(value, DoubleLoss(test.spec, x, kRows, test.cols, targets), 1e-12);
  // A float gradient element is a difference of terms up to the largest element's size, each
  // rounded to float once: allow float rounding of that scale, plus 1e-6 relative.
  float largest = 0.0f;
  for (float g : grad.span()) largest = std::max(largest, std::abs(g));
  const double rounding = 2e-7 * largest;
  for (size_t i = 0; i < x.size(); ++i) {
    const double h = 1e-5;
    const double saved = x[i];
    x[i] = saved + h;
    const double plus = DoubleLoss(test.spec, x, kRows, test.cols, targets);
    x[i] = saved - h;
    const double minus = DoubleLoss(test.spec, x, kRows, test.cols, targets);
    x[i] = saved;
    const double numeric = (plus - minus) / (2 * h);
    EXPECT_NEAR(grad.data()[i], numeric, rounding + 1e-6 * std::abs(numeric)) << "element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllLosses, LossGradientCheck,
    ::testing::Values(
        GradientCheckCase{"mse", Spec(LossKind::kMeanSquaredError), 3},
        GradientCheckCase{"bce", Spec(LossKind::kBinaryCrossEntropy), 2},
        GradientCheckCase{
            "bce_pos_weight",
            LossSpec{.kind = LossKind::kBinaryCrossEntropy, .pos_weight = {3.0f, 0.5f, 1.0f}}, 3},
        GradientCheckCase{"ce_index", Spec(LossKind::kCategoricalCrossEntropy), 4},
        GradientCheckCase{"ce_index_class_weights",
                          LossSpec{.kind = LossKind::kCategoricalCrossEntropy,
                                   .class_weights = {0.5f, 2.0f, 1.0f, 0.0f}},
                          4},
        GradientCheckCase{
            "ce_index_label_smoothing",
            LossSpec{.kind = LossKind::kCategoricalCrossEntropy, .label_smoothing = 0.15f}, 3},
        GradientCheckCase{"ce_index_class_weights_label_smoothing",
                          LossSpec{.kind = LossKind::kCategoricalCrossEntropy,
                                   .class_weights = {0.5f, 2.0f, 1.0f, 0.25f},
                                   .label_smoothing = 0.3f},
                          4},
        GradientCheckCase{"ce_probability_rows", Spec(LossKind::kCategoricalCrossEntropy), 3, true},
        GradientCheckCase{"ce_probability_rows_class_weights_label_smoothing",
                          LossSpec{.kind = LossKind::kCategoricalCrossEntropy,
                                   .class_weights = {1.5f, 0.5f, 1.0f},
                                   .label_smoothing = 0.2f},
                          3, true}),
    [](const ::testing::TestParamInfo<GradientCheckCase>& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------------
// Behaviour beyond the formulas.
// ---------------------------------------------------------------------------------------------

TEST(LossTest, OutputActivationFollowsTheLoss) {
  EXPECT_EQ(MustMakeLoss(Spec(LossKind::kMeanSquaredError), 1)->output_activation(),
            OutputActivation::kIdentity);
  EXPECT_EQ(MustMakeLoss(Spec(LossKind::kBinaryCrossEntropy), 1)->output_activation(),
            OutputActivation::kSigmoid);
  EXPECT_EQ(MustMakeLoss(Spec(LossKind::kCategoricalCrossEntropy), 3)->output_activation(),
            OutputActivation::kSoftmax);
}

TEST(LossTest, OutputTransformGivesWhatAUserReads) {
  Matrix regression(1, 2, {-3.5f, 7.25f});
  MustMakeLoss(Spec(LossKind::kMeanSquaredError), 2)->OutputTransform(&regression);
  EXPECT_EQ(regression.values(), (std::vector<float>{-3.5f, 7.25f}));

  Matrix binary(1, 4, {0.0f, 2.0f, -800.0f, 800.0f});
  MustMakeLoss(Spec(LossKind::kBinaryCrossEntropy), 4)->OutputTransform(&binary);
  EXPECT_FLOAT_EQ(binary(0, 0), 0.5f);
  EXPECT_FLOAT_EQ(binary(0, 1), static_cast<float>(1 / (1 + std::exp(-2.0))));
  EXPECT_EQ(binary(0, 2), 0.0f);
  EXPECT_EQ(binary(0, 3), 1.0f);

  Matrix classes(2, 3, {1.0f, 2.0f, 3.0f, 1000.0f, -1000.0f, 1000.0f});
  MustMakeLoss(Spec(LossKind::kCategoricalCrossEntropy), 3)->OutputTransform(&classes);
  const double denominator = std::exp(-2.0) + std::exp(-1.0) + 1.0;
  EXPECT_FLOAT_EQ(classes(0, 0), static_cast<float>(std::exp(-2.0) / denominator));
  EXPECT_FLOAT_EQ(classes(0, 2), static_cast<float>(1.0 / denominator));
  EXPECT_FLOAT_EQ(classes(1, 0), 0.5f);
  EXPECT_EQ(classes(1, 1), 0.0f);
  EXPECT_FLOAT_EQ(classes(1, 2), 0.5f);
}

TEST(LossTest, BatchWithOnlyZeroWeightClassesGivesZeroInsteadOfNan) {
  auto loss = MustMakeLoss(
      LossSpec{.kind = LossKind::kCategoricalCrossEntropy, .class_weights = {0.0f, 1.0f, 1.0f}}, 3);
  Matrix grad;
  const Matrix logits(2, 3, {0.5f, -1.0f, 2.0f, 1.0f, 1.0f, 0.0f});
  EXPECT_EQ(loss->Compute(logits, Matrix(2, 1, {0.0f, 0.0f}), &grad), 0.0);
  for (float g : grad.span()) EXPECT_EQ(g, 0.0f);
  // One row of a weighted class is enough for a real loss again.
  EXPECT_GT(loss->Compute(logits, Matrix(2, 1, {0.0f, 2.0f}), &grad), 0.0);
}

TEST(LossTest, ComputeDoesNotAllocateOnceTheBatchShapeWasSeen) {
  for (const reference::LossReference& ref : reference::LossReferences()) {
    auto loss = MustMakeLoss(ref.spec, ref.cols);
    ASSERT_NE(loss, nullptr);
    const Matrix logits(ref.rows, ref.cols, ref.logits);
    const Matrix targets(ref.rows, ref.target_cols, ref.targets);
    Matrix grad;
    loss->Compute(logits, targets, &grad);
    Matrix outputs = logits;
    const int64_t before = descent::testing::AllocationsOnThisThread();
    loss->Compute(logits, targets, &grad);
    loss->Evaluate(logits, targets);
    loss->OutputTransform(&outputs);
    EXPECT_EQ(descent::testing::AllocationsOnThisThread(), before) << ref.name;
  }
}

TEST(LossTest, GradientBufferIsReusedForTheSameOrASmallerBatch) {
  auto loss = MustMakeLoss(Spec(LossKind::kCategoricalCrossEntropy), 3);
  Matrix grad;
  const Matrix big(4, 3, std::vector<float>(12, 0.25f));
  loss->Compute(big, Matrix(4, 1, {0.0f, 1.0f, 2.0f, 0.0f}), &grad);
  const float* buffer = grad.data();
  loss->Compute(big, Matrix(4, 1, {2.0f, 1.0f, 2.0f, 0.0f}), &grad);
  EXPECT_EQ(grad.data(), buffer);
  loss->Compute(Matrix(2, 3, std::vector<float>(6, 0.5f)), Matrix(2, 1, {1.0f, 1.0f}), &grad);
  EXPECT_EQ(grad.data(), buffer);
  EXPECT_EQ(grad.rows(), 2);
}

// ---------------------------------------------------------------------------------------------
// OutputUnits / MakeLoss validation.
// ---------------------------------------------------------------------------------------------

TEST(OutputUnitsTest, CountsOutputsPerLoss) {
  const Matrix three_columns(2, 3, {0.0f, 1.0f, 0.5f, 1.0f, 0.0f, 0.25f});
  EXPECT_EQ(*OutputUnits(Spec(LossKind::kMeanSquaredError), three_columns, 0), 3);
  EXPECT_EQ(*OutputUnits(Spec(LossKind::kBinaryCrossEntropy), three_columns, 2), 3);
  const Matrix indices(3, 1, {0.0f, 4.0f, 2.0f});
  EXPECT_EQ(*OutputUnits(Spec(LossKind::kCategoricalCrossEntropy), indices, 0), 5);
  EXPECT_EQ(*OutputUnits(Spec(LossKind::kCategoricalCrossEntropy), indices, 7), 7);
  const Matrix rows(2, 3, {0.2f, 0.3f, 0.5f, 0.0f, 1.0f, 0.0f});
  EXPECT_EQ(*OutputUnits(Spec(LossKind::kCategoricalCrossEntropy), rows, 0), 3);
  EXPECT_EQ(*OutputUnits(Spec(LossKind::kCategoricalCrossEntropy), rows, 3), 3);
}

TEST(OutputUnitsTest, RejectsTargetsThatDoNotFitTheLoss) {
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  const LossSpec ce = Spec(LossKind::kCategoricalCrossEntropy);
  EXPECT_THAT(OutputUnits(Spec(LossKind::kMeanSquaredError), Matrix(0, 1), 0),
              StatusIs(kInvalid, HasSubstr("dataset.inline.targets is empty")));
  EXPECT_THAT(OutputUnits(Spec(LossKind::kBinaryCrossEntropy), Matrix(2, 1, {1.0f, 1.5f}), 2),
              StatusIs(kInvalid, HasSubstr("dataset.inline.targets.values[1] is 1.5; "
                                           "BINARY_CROSS_ENTROPY labels must be in [0, 1]")));
  EXPECT_THAT(OutputUnits(ce, Matrix(3, 1, {0.0f, 2.5f, 1.0f}), 0),
              StatusIs(kInvalid, HasSubstr("values[1] is 2.5; CATEGORICAL_CROSS_ENTROPY class "
                                           "indices must be whole numbers")));
  EXPECT_THAT(OutputUnits(ce, Matrix(2, 1, {-1.0f, 1.0f}), 0),
              StatusIs(kInvalid, HasSubstr("values[0] is -1")));
  EXPECT_THAT(OutputUnits(ce, Matrix(3, 1, {0.0f, 3.0f, 1.0f}), 3),
              StatusIs(kInvalid, HasSubstr("values[1] is 3; class indices must be in [0, 3); "
                                           "raise dataset.inline.num_classes")));
  EXPECT_THAT(OutputUnits(ce, Matrix(2, 1, {0.0f, 0.0f}), 0),
              StatusIs(kInvalid, HasSubstr("needs at least 2 classes")));
  EXPECT_THAT(OutputUnits(ce, Matrix(1, 3, {0.5f, 0.2f, 0.1f}), 0),
              StatusIs(kInvalid, HasSubstr("dataset.inline.targets row 0 sums to 0.8")));
  EXPECT_THAT(OutputUnits(ce, Matrix(1, 3, {1.5f, -0.5f, 0.0f}), 0),
              StatusIs(kInvalid, HasSubstr("values[0] is 1.5; CATEGORICAL_CROSS_ENTROPY "
                                           "probability targets must be in [0, 1]")));
  EXPECT_THAT(OutputUnits(ce, Matrix(1, 3, {1.0f, 0.0f, 0.0f}), 4),
              StatusIs(kInvalid, HasSubstr("dataset.inline.num_classes is 4 but "
                                           "dataset.inline.targets has 3 columns")));
}

TEST(MakeLossTest, RejectsWeightsThatDoNotMatchTheOutputs) {
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(MakeLoss(LossSpec{.kind = LossKind::kBinaryCrossEntropy, .pos_weight = {1, 2}}, 3),
              StatusIs(kInvalid, HasSubstr("loss_options.pos_weight has 2 values but the model "
                                           "has 3 outputs")));
  EXPECT_THAT(
      MakeLoss(LossSpec{.kind = LossKind::kCategoricalCrossEntropy, .class_weights = {1, 2}}, 3),
      StatusIs(kInvalid, HasSubstr("loss_options.class_weights has 2 values but there are 3 "
                                   "classes; give 3 values or none")));
  EXPECT_THAT(MakeLoss(Spec(LossKind::kCategoricalCrossEntropy), 1),
              StatusIs(kInvalid, HasSubstr("needs at least 2 classes (got 1)")));
  EXPECT_THAT(MakeLoss(Spec(LossKind::kMeanSquaredError), 0),
              StatusIs(kInvalid, HasSubstr("at least 1 output")));
  EXPECT_THAT(MakeLoss(LossSpec{.kind = LossKind::kBinaryCrossEntropy, .pos_weight = {1, 2}}, 2),
              IsOk());
}

}  // namespace
}  // namespace descent
