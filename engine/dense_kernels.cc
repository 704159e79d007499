#include "engine/dense_kernels.h"

#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "base/status_macros.h"
#include "engine/cpu_features.h"

namespace descent::internal {
namespace {

constexpr int kLanes = 16;

bool HasVectorPath(Activation activation) {
  return activation == Activation::kIdentity || activation == Activation::kRelu ||
         activation == Activation::kLeakyRelu;
}

// The columns [begin, end) of each pass run on the scalar forms below: the AVX-512 kernels
// take whole 16-lane vectors only and leave the last cols % 16 columns to them. A masked
// store, which the tail would take in the vector loop, is slow on this machine's AMD cores
// (perf put most of the tiny network's ReLU pass on it), and a layer of 1 to 15 units (an
// output layer) is all tail.
void ForwardScalar(Activation activation, float negative_slope, const float* bias, int rows,
                   int cols, int begin, int end, float* values, float* pre) {
  for (int r = 0; r < rows; ++r) {
    const ptrdiff_t offset = static_cast<ptrdiff_t>(r) * cols;
    float* row = values + offset;
    for (int j = begin; j < end; ++j) row[j] += bias[j];
    if (pre != nullptr) std::copy(row + begin, row + end, pre + offset + begin);
    if (activation != Activation::kIdentity) {
      ApplyActivation(activation, negative_slope, absl::MakeSpan(row + begin, row + end));
    }
  }
}

void BackwardScalar(Activation activation, float negative_slope, const float* pre,
                    const float* output, int rows, int cols, int begin, int end, float* grad,
                    float* bias_grad) {
  if (activation != Activation::kIdentity) {
    const bool needs_input = ActivationBackwardNeedsInput(activation);
    const size_t width = static_cast<size_t>(end - begin);
    for (int r = 0; r < rows; ++r) {
      const ptrdiff_t offset = static_cast<ptrdiff_t>(r) * cols + begin;
      absl::Span<const float> x, y;
      if (needs_input) {
        x = absl::MakeConstSpan(pre + offset, width);
      } else {
        y = absl::MakeConstSpan(output + offset, width);
      }
      ActivationBackward(activation, negative_slope, x, y, absl::MakeSpan(grad + offset, width));
    }
  }
  // Column by column, each sum in a register (in row order) rather than in bias_grad.
  for (int j = begin; j < end; ++j) {
    float sum = 0.0f;
    for (int r = 0; r < rows; ++r) sum += grad[static_cast<ptrdiff_t>(r) * cols + j];
    bias_grad[j] = sum;
  }
}

// The lane-wise forms keep activation.cc's NaN behaviour: compare-and-select, never max/min
// (which would turn a NaN into 0 and hide a divergence).
template <Activation kActivation>
DESCENT_TARGET_AVX512 void ForwardAvx512(float negative_slope, const float* bias, int rows,
                                         int cols, int vector_cols, float* values, float* pre) {
  const __m512 zero = _mm512_setzero_ps();
  const __m512 slope = _mm512_set1_ps(negative_slope);
  for (int r = 0; r < rows; ++r) {
    float* row = values + static_cast<ptrdiff_t>(r) * cols;
    float* pre_row = pre != nullptr ? pre + static_cast<ptrdiff_t>(r) * cols : nullptr;
    for (int j = 0; j < vector_cols; j += kLanes) {
      __m512 x = _mm512_add_ps(_mm512_loadu_ps(row + j), _mm512_loadu_ps(bias + j));
      if (pre_row != nullptr) _mm512_storeu_ps(pre_row + j, x);
      if constexpr (kActivation == Activation::kRelu) {
        x = _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ), zero);
      } else if constexpr (kActivation == Activation::kLeakyRelu) {
        const __mmask16 positive = _mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ);
        x = _mm512_mask_blend_ps(positive, _mm512_mul_ps(x, slope), x);
      }
      _mm512_storeu_ps(row + j, x);
    }
  }
}

// kVectors adjacent 16-column blocks from column `begin`, down all the rows: the column sums
// stay in registers (each summed in row order, as the scalar form does), kVectors independent
// chains of additions in flight. Identity only sums (ColumnSums).
template <Activation kActivation, int kVectors>
DESCENT_TARGET_AVX512 void BackwardColumnsAvx512(float negative_slope, const float* pre,
                                                 const float* output, int rows, int cols, int begin,
                                                 float* grad, float* bias_grad) {
  const __m512 zero = _mm512_setzero_ps();
  const __m512 slope = _mm512_set1_ps(negative_slope);
  __m512 sums[kVectors];
  for (int v = 0; v < kVectors; ++v) sums[v] = zero;
  for (int r = 0; r < rows; ++r) {
    const ptrdiff_t offset = static_cast<ptrdiff_t>(r) * cols + begin;
    // Unrolled, so that the sums live in registers rather than on the stack.
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v) {
      const ptrdiff_t at = offset + v * kLanes;
      __m512 g = _mm512_loadu_ps(grad + at);
      if constexpr (kActivation == Activation::kRelu) {
        const __m512 y = _mm512_loadu_ps(output + at);
        g = _mm512_mask_mov_ps(g, _mm512_cmp_ps_mask(y, zero, _CMP_LE_OQ), zero);
        _mm512_storeu_ps(grad + at, g);
      } else if constexpr (kActivation == Activation::kLeakyRelu) {
        const __m512 x = _mm512_loadu_ps(pre + at);
        g = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ), _mm512_mul_ps(g, slope),
                                 g);
        _mm512_storeu_ps(grad + at, g);
      }
      sums[v] = _mm512_add_ps(sums[v], g);
    }
  }
  for (int v = 0; v < kVectors; ++v) _mm512_storeu_ps(bias_grad + begin + v * kLanes, sums[v]);
}

template <Activation kActivation>
DESCENT_TARGET_AVX512 void BackwardAvx512(float negative_slope, const float* pre,
                                          const float* output, int rows, int cols, int vector_cols,
                                          float* grad, float* bias_grad) {
  int j = 0;
  for (; j + 4 * kLanes <= vector_cols; j += 4 * kLanes) {
    BackwardColumnsAvx512<kActivation, 4>(negative_slope, pre, output, rows, cols, j, grad,
                                          bias_grad);
  }
  for (; j < vector_cols; j += kLanes) {
    BackwardColumnsAvx512<kActivation, 1>(negative_slope, pre, output, rows, cols, j, grad,
                                          bias_grad);
  }
}

// The columns the AVX-512 kernels take: whole vectors.
int VectorColumns(int cols) { return cols - cols % kLanes; }

}  // namespace

void BiasActivationForward(Activation activation, float negative_slope,
                           absl::Span<const float> bias, Matrix* values, Matrix* pre) {
  const int rows = values->rows();
  const int cols = values->cols();
  DESCENT_CHECK(bias.size() == static_cast<size_t>(cols));
  if (pre != nullptr) DESCENT_CHECK(pre->rows() == rows && pre->cols() == cols);
  float* pre_data = pre != nullptr ? pre->data() : nullptr;
  int vector_cols = 0;
  if (CpuHasAvx512() && HasVectorPath(activation)) {
    vector_cols = VectorColumns(cols);
    const auto kernel = activation == Activation::kRelu ? ForwardAvx512<Activation::kRelu>
                        : activation == Activation::kLeakyRelu
                            ? ForwardAvx512<Activation::kLeakyRelu>
                            : ForwardAvx512<Activation::kIdentity>;
    kernel(negative_slope, bias.data(), rows, cols, vector_cols, values->data(), pre_data);
  }
  if (vector_cols < cols) {
    ForwardScalar(activation, negative_slope, bias.data(), rows, cols, vector_cols, cols,
                  values->data(), pre_data);
  }
}

void ActivationBackwardAndBiasGrad(Activation activation, float negative_slope, const Matrix* pre,
                                   const Matrix& output, Matrix* grad,
                                   absl::Span<float> bias_grad) {
  const int rows = grad->rows();
  const int cols = grad->cols();
  DESCENT_CHECK(bias_grad.size() == static_cast<size_t>(cols));
  const float* pre_data = nullptr;
  if (ActivationBackwardNeedsInput(activation)) {
    DESCENT_CHECK(pre != nullptr && pre->rows() == rows && pre->cols() == cols);
    pre_data = pre->data();
  }
  const bool reads_output = activation != Activation::kIdentity && pre_data == nullptr;
  if (reads_output) DESCENT_CHECK(output.rows() == rows && output.cols() == cols);
  int vector_cols = 0;
  if (CpuHasAvx512() && HasVectorPath(activation)) {
    vector_cols = VectorColumns(cols);
    const auto kernel = activation == Activation::kRelu ? BackwardAvx512<Activation::kRelu>
                        : activation == Activation::kLeakyRelu
                            ? BackwardAvx512<Activation::kLeakyRelu>
                            : BackwardAvx512<Activation::kIdentity>;
    kernel(negative_slope, pre_data, output.data(), rows, cols, vector_cols, grad->data(),
           bias_grad.data());
  }
  if (vector_cols < cols) {
    BackwardScalar(activation, negative_slope, pre_data, output.data(), rows, cols, vector_cols,
                   cols, grad->data(), bias_grad.data());
  }
}

void ColumnSums(const Matrix& m, absl::Span<float> sums) {
  // The identity's derivative is 1: its backward pass only sums the columns (and does not
  // write to the matrix).
  ActivationBackwardAndBiasGrad(Activation::kIdentity, 0.0f, nullptr, m, const_cast<Matrix*>(&m),
                                sums);
}

}  // namespace descent::internal
