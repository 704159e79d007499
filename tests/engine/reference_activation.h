// Double-precision definitions of the engine's activations, written independently of
// engine/activation.cc: the reference for gradient checks and naive forward passes.
#ifndef DESCENT_TESTS_ENGINE_REFERENCE_ACTIVATION_H_
#define DESCENT_TESTS_ENGINE_REFERENCE_ACTIVATION_H_

#include <cmath>
#include <limits>

#include "engine/activation.h"

namespace descent {

// `slope` is LEAKY_RELU's negative slope; the other activations ignore it.
inline double ReferenceActivation(Activation activation, double slope, double x) {
  switch (activation) {
    case Activation::kIdentity:
      return x;
    case Activation::kRelu:
      return x > 0 ? x : 0;
    case Activation::kLeakyRelu:
      return x > 0 ? x : slope * x;
    case Activation::kSigmoid:
      return 1 / (1 + std::exp(-x));
    case Activation::kTanh:
      return std::tanh(x);
    case Activation::kGelu:
      return x * 0.5 * std::erfc(-x / std::sqrt(2.0));
  }
  return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace descent

#endif  // DESCENT_TESTS_ENGINE_REFERENCE_ACTIVATION_H_
