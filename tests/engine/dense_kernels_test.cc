// The fused dense-layer passes (vectorised for identity / ReLU / leaky ReLU) against the
// plain composition of activation.h's functions, over column counts around the 16-lane
// vector width.
#include "engine/dense_kernels.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace descent::internal {
namespace {

const Activation kAll[] = {Activation::kIdentity, Activation::kRelu, Activation::kLeakyRelu,
                           Activation::kSigmoid,  Activation::kTanh, Activation::kGelu};
const int kColumns[] = {1, 3, 13, 16, 17, 33, 64, 70, 80};
constexpr float kSlope = 0.07f;

Matrix RandomMatrix(int rows, int cols, std::mt19937_64& engine) {
  std::uniform_real_distribution<float> uniform(-3.0f, 3.0f);
  Matrix m(rows, cols);
  for (float& v : m.span()) v = uniform(engine);
  return m;
}

TEST(DenseKernelsTest, ForwardEqualsBiasThenActivation) {
  std::mt19937_64 engine(3);
  for (Activation activation : kAll) {
    for (int cols : kColumns) {
      const int rows = 5;
      const Matrix input = RandomMatrix(rows, cols, engine);
      const Matrix bias_row = RandomMatrix(1, cols, engine);
      Matrix expected_pre = input;
      for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < cols; ++c) expected_pre(r, c) += bias_row(0, c);
      }
      Matrix expected = expected_pre;
      ApplyActivation(activation, kSlope, expected.span());

      Matrix values = input;
      Matrix pre(rows, cols);
      BiasActivationForward(activation, kSlope, bias_row.span(), &values, &pre);
      EXPECT_EQ(values.values(), expected.values())
          << ActivationName(activation) << " cols=" << cols;
      EXPECT_EQ(pre.values(), expected_pre.values());

      Matrix without_pre = input;
      BiasActivationForward(activation, kSlope, bias_row.span(), &without_pre, nullptr);
      EXPECT_EQ(without_pre.values(), expected.values());
    }
  }
}

TEST(DenseKernelsTest, BackwardEqualsDerivativeThenColumnSums) {
  std::mt19937_64 engine(4);
  for (Activation activation : kAll) {
    for (int cols : kColumns) {
      const int rows = 6;
      const Matrix pre = RandomMatrix(rows, cols, engine);
      Matrix output = pre;
      ApplyActivation(activation, kSlope, output.span());
      const Matrix upstream = RandomMatrix(rows, cols, engine);

      Matrix expected = upstream;
      ActivationBackward(activation, kSlope, pre.span(), output.span(), expected.span());
      // Each column summed in float and in row order: the kernels give these exact bits.
      std::vector<float> expected_sums(static_cast<size_t>(cols), 0.0f);
      for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < cols; ++c) expected_sums[static_cast<size_t>(c)] += expected(r, c);
      }

      Matrix grad = upstream;
      std::vector<float> sums(static_cast<size_t>(cols), std::nanf(""));
      ActivationBackwardAndBiasGrad(activation, kSlope, &pre, output, &grad, absl::MakeSpan(sums));
      EXPECT_EQ(grad.values(), expected.values()) << ActivationName(activation) << " cols=" << cols;
      EXPECT_EQ(sums, expected_sums) << ActivationName(activation) << " cols=" << cols;
    }
  }
}

TEST(DenseKernelsTest, ColumnSums) {
  const Matrix m(3, 2, {1, 2, 3, 4, 5, 6});
  std::vector<float> sums(2, std::nanf(""));
  ColumnSums(m, absl::MakeSpan(sums));
  EXPECT_EQ(sums, (std::vector<float>{9, 12}));
  std::mt19937_64 engine(5);
  for (int cols : kColumns) {
    const Matrix random = RandomMatrix(9, cols, engine);
    std::vector<float> got(static_cast<size_t>(cols));
    ColumnSums(random, absl::MakeSpan(got));
    std::vector<float> expected(static_cast<size_t>(cols), 0.0f);
    for (int r = 0; r < 9; ++r) {
      for (int c = 0; c < cols; ++c) expected[static_cast<size_t>(c)] += random(r, c);
    }
    EXPECT_EQ(got, expected) << "cols=" << cols;
  }
}

TEST(DenseKernelsTest, ReluKeepsNanInForwardAndBackward) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Matrix values(1, 17);
  values(0, 16) = nan;
  std::vector<float> bias(17, 0.0f);
  BiasActivationForward(Activation::kRelu, 0.0f, bias, &values, nullptr);
  EXPECT_TRUE(std::isnan(values(0, 16)));
  Matrix grad(1, 17);
  grad.Fill(1.0f);
  std::vector<float> sums(17);
  ActivationBackwardAndBiasGrad(Activation::kRelu, 0.0f, nullptr, values, &grad,
                                absl::MakeSpan(sums));
  EXPECT_EQ(grad(0, 0), 0.0f);   // y = 0: blocked
  EXPECT_EQ(grad(0, 16), 1.0f);  // y = NaN: passed through, as torch's threshold_backward
}

}  // namespace
}  // namespace descent::internal
