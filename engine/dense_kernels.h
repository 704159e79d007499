// The element-wise passes of a dense layer, each fused into one sweep over the batch:
// forward, bias + activation after the matrix product; backward, the activation's derivative
// together with the bias gradient (column sums). Identity, ReLU and leaky ReLU have AVX-512
// paths; the other activations call activation.h row by row.
#ifndef DESCENT_ENGINE_DENSE_KERNELS_H_
#define DESCENT_ENGINE_DENSE_KERNELS_H_

#include "absl/types/span.h"
#include "engine/activation.h"
#include "engine/matrix.h"

namespace descent::internal {

// values[r][j] = f(values[r][j] + bias[j]) for every row r. When `pre` is non-null it receives
// values[r][j] + bias[j] (the pre-activation) and must have values' shape. bias must have
// values->cols() entries. Shape mismatches CHECK-fail.
void BiasActivationForward(Activation activation, float negative_slope,
                           absl::Span<const float> bias, Matrix* values, Matrix* pre);

// grad[r][j] *= f'(...) (from `pre` and/or `output` as ActivationBackward needs; pre may be
// null when the activation does not read it), then bias_grad[j] = Σ_r grad[r][j]
// (overwritten), each column summed in row order. Shape mismatches CHECK-fail.
void ActivationBackwardAndBiasGrad(Activation activation, float negative_slope, const Matrix* pre,
                                   const Matrix& output, Matrix* grad, absl::Span<float> bias_grad);

// sums[j] = Σ_r m[r][j] (overwritten): the bias gradient of a linear layer. sums must have
// m.cols() entries (CHECK). Summed in row order.
void ColumnSums(const Matrix& m, absl::Span<float> sums);

}  // namespace descent::internal

#endif  // DESCENT_ENGINE_DENSE_KERNELS_H_
