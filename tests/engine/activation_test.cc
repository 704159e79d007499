#include "engine/activation.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "tests/engine/reference_activation.h"

namespace descent {
namespace {

struct ActivationReference {
  Activation activation;
  float negative_slope;
  std::vector<float> x, y, dydx;
};

// PyTorch's f(x) and autograd's f'(x) at fixed points.
const ActivationReference kTorchReference[] = {
#include "tests/engine/reference/activation_reference.inc"
};

const Activation kAll[] = {Activation::kIdentity, Activation::kRelu, Activation::kLeakyRelu,
                           Activation::kSigmoid,  Activation::kTanh, Activation::kGelu};

TEST(ActivationTest, ForwardMatchesPytorch) {
  for (const ActivationReference& ref : kTorchReference) {
    std::vector<float> values = ref.x;
    ApplyActivation(ref.activation, ref.negative_slope, absl::MakeSpan(values));
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_NEAR(values[i], ref.y[i], 1e-6 + 1e-6 * std::abs(ref.y[i]))
          << ActivationName(ref.activation) << " at x=" << ref.x[i];
    }
  }
}

TEST(ActivationTest, BackwardMatchesPytorchAutograd) {
  for (const ActivationReference& ref : kTorchReference) {
    std::vector<float> y = ref.x;
    ApplyActivation(ref.activation, ref.negative_slope, absl::MakeSpan(y));
    std::vector<float> grad(ref.x.size(), 1.0f);
    ActivationBackward(ref.activation, ref.negative_slope, ref.x, y, absl::MakeSpan(grad));
    for (size_t i = 0; i < grad.size(); ++i) {
      EXPECT_NEAR(grad[i], ref.dydx[i], 1e-6 + 1e-5 * std::abs(ref.dydx[i]))
          << ActivationName(ref.activation) << " at x=" << ref.x[i];
    }
  }
}

TEST(ActivationTest, GradientMatchesCentralDifferencesInDouble) {
  std::mt19937_64 engine(11);
  std::uniform_real_distribution<double> uniform(-4.0, 4.0);
  constexpr float kSlope = 0.05f;
  constexpr double kStep = 1e-5;
  for (Activation activation : kAll) {
    for (int trial = 0; trial < 200; ++trial) {
      const float x = static_cast<float>(uniform(engine));
      if (std::abs(x) < 1e-3f) continue;  // the kinks of ReLU / leaky ReLU
      const double numeric = (ReferenceActivation(activation, kSlope, x + kStep) -
                              ReferenceActivation(activation, kSlope, x - kStep)) /
                             (2 * kStep);
      std::vector<float> y = {x};
      ApplyActivation(activation, kSlope, absl::MakeSpan(y));
      EXPECT_NEAR(y[0], ReferenceActivation(activation, kSlope, x), 1e-6)
          << ActivationName(activation) << " at " << x;
      std::vector<float> grad = {1.0f};
      ActivationBackward(activation, kSlope, std::vector<float>{x}, y, absl::MakeSpan(grad));
      EXPECT_NEAR(grad[0], numeric, 1e-3 * std::max(1.0, std::abs(numeric)))
          << ActivationName(activation) << " at " << x;
    }
  }
}

TEST(ActivationTest, BackwardScalesTheIncomingGradient) {
  const std::vector<float> x = {-1.5f, 0.3f, 2.0f};
  for (Activation activation : kAll) {
    std::vector<float> y = x;
    ApplyActivation(activation, 0.1f, absl::MakeSpan(y));
    std::vector<float> unit(3, 1.0f), scaled(3, -2.5f);
    ActivationBackward(activation, 0.1f, x, y, absl::MakeSpan(unit));
    ActivationBackward(activation, 0.1f, x, y, absl::MakeSpan(scaled));
    for (int i = 0; i < 3; ++i) {
      EXPECT_FLOAT_EQ(scaled[i], -2.5f * unit[i]) << ActivationName(activation);
    }
  }
}

TEST(ActivationTest, NanStaysNanSoADivergenceIsVisible) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (Activation activation : kAll) {
    std::vector<float> values = {nan};
    ApplyActivation(activation, 0.01f, absl::MakeSpan(values));
    EXPECT_TRUE(std::isnan(values[0])) << ActivationName(activation);
  }
}

TEST(ActivationTest, OnlyLeakyReluAndGeluNeedTheInput) {
  EXPECT_TRUE(ActivationBackwardNeedsInput(Activation::kLeakyRelu));
  EXPECT_TRUE(ActivationBackwardNeedsInput(Activation::kGelu));
  EXPECT_FALSE(ActivationBackwardNeedsInput(Activation::kRelu));
  EXPECT_FALSE(ActivationBackwardNeedsInput(Activation::kSigmoid));
  EXPECT_FALSE(ActivationBackwardNeedsInput(Activation::kTanh));
  EXPECT_FALSE(ActivationBackwardNeedsInput(Activation::kIdentity));
  // The output-only activations accept an empty x.
  std::vector<float> grad = {1.0f, 1.0f};
  ActivationBackward(Activation::kTanh, 0.0f, {}, std::vector<float>{0.0f, 0.5f},
                     absl::MakeSpan(grad));
  EXPECT_FLOAT_EQ(grad[0], 1.0f);
  EXPECT_FLOAT_EQ(grad[1], 0.75f);
}

TEST(ActivationTest, Names) {
  EXPECT_EQ(ActivationName(Activation::kIdentity), "identity");
  EXPECT_EQ(ActivationName(Activation::kRelu), "relu");
  EXPECT_EQ(ActivationName(Activation::kLeakyRelu), "leaky_relu");
  EXPECT_EQ(ActivationName(Activation::kSigmoid), "sigmoid");
  EXPECT_EQ(ActivationName(Activation::kTanh), "tanh");
  EXPECT_EQ(ActivationName(Activation::kGelu), "gelu");
}

TEST(ActivationDeathTest, MissingSpanIsABug) {
  std::vector<float> grad = {1.0f};
  EXPECT_DEATH(ActivationBackward(Activation::kGelu, 0.0f, {}, std::vector<float>{0.5f},
                                  absl::MakeSpan(grad)),
               "check failed");
}

}  // namespace
}  // namespace descent
