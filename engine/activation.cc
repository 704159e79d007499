#include "engine/activation.h"

#include <cmath>
#include <cstddef>

#include "base/status_macros.h"

namespace descent {
namespace {

// nn.GELU(approximate='none'): x * Φ(x), Φ(x) = (1 + erf(x / √2)) / 2.
constexpr double kInvSqrt2 = 0.70710678118654752440;
// 1 / √(2π), the standard normal density's constant.
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

float Gelu(float x) { return static_cast<float>(0.5 * x * (1.0 + std::erf(x * kInvSqrt2))); }

// d/dx x·Φ(x) = Φ(x) + x·φ(x), as torch's GeluBackward computes it.
float GeluDerivative(float x) {
  const double xd = x;
  const double cdf = 0.5 * (1.0 + std::erf(xd * kInvSqrt2));
  const double pdf = kInvSqrt2Pi * std::exp(-0.5 * xd * xd);
  return static_cast<float>(cdf + xd * pdf);
}

}  // namespace

std::string_view ActivationName(Activation activation) {
  switch (activation) {
    case Activation::kIdentity:
      return "identity";
    case Activation::kRelu:
      return "relu";
    case Activation::kLeakyRelu:
      return "leaky_relu";
    case Activation::kSigmoid:
      return "sigmoid";
    case Activation::kTanh:
      return "tanh";
    case Activation::kGelu:
      return "gelu";
  }
  return "unknown";
}

void ApplyActivation(Activation activation, float negative_slope, absl::Span<float> values) {
  switch (activation) {
    case Activation::kIdentity:
      return;
    case Activation::kRelu:
      // `x < 0 ? 0 : x` keeps NaN as NaN, like torch.relu, so a divergence stays visible.
      for (float& v : values) v = v < 0.0f ? 0.0f : v;
      return;
    case Activation::kLeakyRelu:
      for (float& v : values) v = v > 0.0f ? v : v * negative_slope;
      return;
    case Activation::kSigmoid:
      for (float& v : values) v = Sigmoid(v);
      return;
    case Activation::kTanh:
      for (float& v : values) v = std::tanh(v);
      return;
    case Activation::kGelu:
      for (float& v : values) v = Gelu(v);
      return;
  }
}

bool ActivationBackwardNeedsInput(Activation activation) {
  return activation == Activation::kLeakyRelu || activation == Activation::kGelu;
}

void ActivationBackward(Activation activation, float negative_slope, absl::Span<const float> x,
                        absl::Span<const float> y, absl::Span<float> grad) {
  const size_t n = grad.size();
  if (activation == Activation::kIdentity) return;
  if (ActivationBackwardNeedsInput(activation)) {
    DESCENT_CHECK(x.size() == n);
  } else {
    DESCENT_CHECK(y.size() == n);
  }
  switch (activation) {
    case Activation::kIdentity:
      return;
    case Activation::kRelu:
      // torch's threshold_backward on the result: zero where y <= 0, else passed through.
      for (size_t i = 0; i < n; ++i) grad[i] = y[i] <= 0.0f ? 0.0f : grad[i];
      return;
    case Activation::kLeakyRelu:
      for (size_t i = 0; i < n; ++i) grad[i] = x[i] > 0.0f ? grad[i] : grad[i] * negative_slope;
      return;
    case Activation::kSigmoid:
      for (size_t i = 0; i < n; ++i) grad[i] *= (1.0f - y[i]) * y[i];
      return;
    case Activation::kTanh:
      for (size_t i = 0; i < n; ++i) grad[i] *= 1.0f - y[i] * y[i];
      return;
    case Activation::kGelu:
      for (size_t i = 0; i < n; ++i) grad[i] *= GeluDerivative(x[i]);
      return;
  }
}

}  // namespace descent
