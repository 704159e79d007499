// Element-wise activations of a dense layer, with PyTorch's definitions
// (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.GELU with approximate='none').
#ifndef DESCENT_ENGINE_ACTIVATION_H_
#define DESCENT_ENGINE_ACTIVATION_H_

#include <string_view>

#include "absl/types/span.h"

namespace descent {

enum class Activation { kIdentity, kRelu, kLeakyRelu, kSigmoid, kTanh, kGelu };

// Lower-case name for logs and reports: "identity", "relu", "leaky_relu", "sigmoid", "tanh",
// "gelu".
std::string_view ActivationName(Activation activation);

// values[i] = f(values[i]). negative_slope is read by leaky ReLU only.
void ApplyActivation(Activation activation, float negative_slope, absl::Span<float> values);

// True when ActivationBackward needs the pre-activation x (leaky ReLU, GELU). The others
// differentiate from the output y alone (ReLU, sigmoid, tanh) or need neither (identity), so a
// layer keeps x only when this says so.
bool ActivationBackwardNeedsInput(Activation activation);

// grad[i] *= f'(x[i]), PyTorch's backward formulas (ReLU's derivative at 0 is 0), given the
// pre-activation x and/or the output y = f(x). The span the activation reads must have
// grad's size; the other may be empty. A size mismatch is a bug: CHECK-fails.
void ActivationBackward(Activation activation, float negative_slope, absl::Span<const float> x,
                        absl::Span<const float> y, absl::Span<float> grad);

}  // namespace descent

#endif  // DESCENT_ENGINE_ACTIVATION_H_
