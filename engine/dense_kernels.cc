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

DESCENT_TARGET_AVX512 inline __mmask16 TailMask(int columns) {
  return columns >= kLanes ? static_cast<__mmask16>(0xFFFF)
                           : static_cast<__mmask16>((1u << columns) - 1u);
}

// The lane-wise forms keep activation.cc's NaN behaviour: compare-and-select, never max/min
// (which would turn a NaN into 0 and hide a divergence).
template <Activation kActivation>
DESCENT_TARGET_AVX512 void ForwardAvx512(float negative_slope, const float* bias, int rows,
                                         int cols, float* values, float* pre) {
  const __m512 zero = _mm512_setzero_ps();
  const __m512 slope = _mm512_set1_ps(negative_slope);
  for (int r = 0; r < rows; ++r) {
    float* row = values + static_cast<ptrdiff_t>(r) * cols;
    float* pre_row = pre != nullptr ? pre + static_cast<ptrdiff_t>(r) * cols : nullptr;
    for (int j = 0; j < cols; j += kLanes) {
      const __mmask16 mask = TailMask(cols - j);
      __m512 x = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, row + j),
                               _mm512_maskz_loadu_ps(mask, bias + j));
      if (pre_row != nullptr) _mm512_mask_storeu_ps(pre_row + j, mask, x);
      if constexpr (kActivation == Activation::kRelu) {
        x = _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ), zero);
      } else if constexpr (kActivation == Activation::kLeakyRelu) {
        const __mmask16 positive = _mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ);
        x = _mm512_mask_blend_ps(positive, _mm512_mul_ps(x, slope), x);
      }
      _mm512_mask_storeu_ps(row + j, mask, x);
    }
  }
}

template <Activation kActivation>
DESCENT_TARGET_AVX512 void BackwardAvx512(float negative_slope, const float* pre,
                                          const float* output, int rows, int cols, float* grad,
                                          float* bias_grad) {
  const __m512 zero = _mm512_setzero_ps();
  const __m512 slope = _mm512_set1_ps(negative_slope);
  for (int j = 0; j < cols; j += kLanes)
    _mm512_mask_storeu_ps(bias_grad + j, TailMask(cols - j), zero);
  for (int r = 0; r < rows; ++r) {
    const ptrdiff_t offset = static_cast<ptrdiff_t>(r) * cols;
    float* grad_row = grad + offset;
    for (int j = 0; j < cols; j += kLanes) {
      const __mmask16 mask = TailMask(cols - j);
      __m512 g = _mm512_maskz_loadu_ps(mask, grad_row + j);
      if constexpr (kActivation == Activation::kRelu) {
        const __m512 y = _mm512_maskz_loadu_ps(mask, output + offset + j);
        g = _mm512_mask_mov_ps(g, _mm512_cmp_ps_mask(y, zero, _CMP_LE_OQ), zero);
        _mm512_mask_storeu_ps(grad_row + j, mask, g);
      } else if constexpr (kActivation == Activation::kLeakyRelu) {
        const __m512 x = _mm512_maskz_loadu_ps(mask, pre + offset + j);
        g = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ), _mm512_mul_ps(g, slope),
                                 g);
        _mm512_mask_storeu_ps(grad_row + j, mask, g);
      }
      _mm512_mask_storeu_ps(bias_grad + j, mask,
                            _mm512_add_ps(_mm512_maskz_loadu_ps(mask, bias_grad + j), g));
    }
  }
}

DESCENT_TARGET_AVX512 void ColumnSumsAvx512(const float* m, int rows, int cols, float* sums) {
  for (int j = 0; j < cols; j += kLanes) {
    _mm512_mask_storeu_ps(sums + j, TailMask(cols - j), _mm512_setzero_ps());
  }
  for (int r = 0; r < rows; ++r) {
    const float* row = m + static_cast<ptrdiff_t>(r) * cols;
    for (int j = 0; j < cols; j += kLanes) {
      const __mmask16 mask = TailMask(cols - j);
      _mm512_mask_storeu_ps(sums + j, mask,
                            _mm512_add_ps(_mm512_maskz_loadu_ps(mask, sums + j),
                                          _mm512_maskz_loadu_ps(mask, row + j)));
    }
  }
}

void ForwardScalar(Activation activation, float negative_slope, const float* bias, int rows,
                   int cols, float* values, float* pre) {
  for (int r = 0; r < rows; ++r) {
    float* row = values + static_cast<ptrdiff_t>(r) * cols;
    for (int j = 0; j < cols; ++j) row[j] += bias[j];
    if (pre != nullptr) std::copy(row, row + cols, pre + static_cast<ptrdiff_t>(r) * cols);
    ApplyActivation(activation, negative_slope, absl::MakeSpan(row, cols));
  }
}

void BackwardScalar(Activation activation, float negative_slope, const float* pre,
                    const float* output, int rows, int cols, float* grad, float* bias_grad) {
  std::fill(bias_grad, bias_grad + cols, 0.0f);
  const bool needs_input = ActivationBackwardNeedsInput(activation);
  for (int r = 0; r < rows; ++r) {
    const ptrdiff_t offset = static_cast<ptrdiff_t>(r) * cols;
    float* grad_row = grad + offset;
    absl::Span<const float> x, y;
    if (needs_input) {
      x = absl::MakeConstSpan(pre + offset, cols);
    } else {
      y = absl::MakeConstSpan(output + offset, cols);
    }
    ActivationBackward(activation, negative_slope, x, y, absl::MakeSpan(grad_row, cols));
    for (int j = 0; j < cols; ++j) bias_grad[j] += grad_row[j];
  }
}

}  // namespace

void BiasActivationForward(Activation activation, float negative_slope,
                           absl::Span<const float> bias, Matrix* values, Matrix* pre) {
  const int rows = values->rows();
  const int cols = values->cols();
  DESCENT_CHECK(bias.size() == static_cast<size_t>(cols));
  if (pre != nullptr) DESCENT_CHECK(pre->rows() == rows && pre->cols() == cols);
  float* pre_data = pre != nullptr ? pre->data() : nullptr;
  if (CpuHasAvx512() && HasVectorPath(activation)) {
    switch (activation) {
      case Activation::kRelu:
        ForwardAvx512<Activation::kRelu>(negative_slope, bias.data(), rows, cols, values->data(),
                                         pre_data);
        return;
      case Activation::kLeakyRelu:
        ForwardAvx512<Activation::kLeakyRelu>(negative_slope, bias.data(), rows, cols,
                                              values->data(), pre_data);
        return;
      default:
        ForwardAvx512<Activation::kIdentity>(negative_slope, bias.data(), rows, cols,
                                             values->data(), pre_data);
        return;
    }
  }
  ForwardScalar(activation, negative_slope, bias.data(), rows, cols, values->data(), pre_data);
}

void ColumnSums(const Matrix& m, absl::Span<float> sums) {
  const int rows = m.rows();
  const int cols = m.cols();
  DESCENT_CHECK(sums.size() == static_cast<size_t>(cols));
  if (CpuHasAvx512()) {
    ColumnSumsAvx512(m.data(), rows, cols, sums.data());
    return;
  }
  std::fill(sums.begin(), sums.end(), 0.0f);
  for (int r = 0; r < rows; ++r) {
    const float* row = m.row(r);
    for (int j = 0; j < cols; ++j) sums[j] += row[j];
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
  if (CpuHasAvx512() && HasVectorPath(activation)) {
    switch (activation) {
      case Activation::kRelu:
        BackwardAvx512<Activation::kRelu>(negative_slope, pre_data, output.data(), rows, cols,
                                          grad->data(), bias_grad.data());
        return;
      case Activation::kLeakyRelu:
        BackwardAvx512<Activation::kLeakyRelu>(negative_slope, pre_data, output.data(), rows, cols,
                                               grad->data(), bias_grad.data());
        return;
      default:
        BackwardAvx512<Activation::kIdentity>(negative_slope, pre_data, output.data(), rows, cols,
                                              grad->data(), bias_grad.data());
        return;
    }
  }
  BackwardScalar(activation, negative_slope, pre_data, output.data(), rows, cols, grad->data(),
                 bias_grad.data());
}

}  // namespace descent::internal
