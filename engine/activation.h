// Element-wise activations of a dense layer, with PyTorch's definitions
// (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.GELU with approximate='none').
#ifndef DESCENT_ENGINE_ACTIVATION_H_
#define DESCENT_ENGINE_ACTIVATION_H_

#include <string_view>

#include "absl/types/span.h"

namespace descent {

enum class Activation { kIdentity, kRelu, kLeakyRelu, kSigmoid, kTanh, kGelu };

std::string_view ActivationName(Activation activation);

// values[i] = f(values[i]).
void ApplyActivation(Activation activation, float negative_slope, absl::Span<float> values);

// grad[i] *= f'(x[i]) given the pre-activation x and/or the output y = f(x) (each activation
// uses whichever is cheaper; both spans have grad's size).
void ActivationBackward(Activation activation, float negative_slope, absl::Span<const float> x,
                        absl::Span<const float> y, absl::Span<float> grad);

}  // namespace descent

#endif  // DESCENT_ENGINE_ACTIVATION_H_
