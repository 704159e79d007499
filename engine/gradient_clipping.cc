// torch.nn.utils.clip_grad_norm_(parameters, max_norm) with norm_type 2: the global norm is
// the L2 norm of all gradients together; when it exceeds max_norm every gradient is scaled by
// max_norm / (norm + 1e-6). The norm is accumulated in double (PyTorch uses float32 per
// tensor), which only changes it by rounding.
#include <cmath>

#include "engine/optimizer.h"

namespace descent {

double ClipGradientNorm(absl::Span<const ParameterRef> params, double max_norm) {
  double sum_squares = 0.0;
  for (const ParameterRef& param : params) {
    for (const float g : param.grad) sum_squares += static_cast<double>(g) * g;
  }
  const double norm = std::sqrt(sum_squares);
  const double coefficient = max_norm / (norm + 1e-6);
  // PyTorch multiplies by min(coefficient, 1) always; skipping the multiply by exactly 1
  // changes nothing. A non-finite norm leaves the gradients alone: the caller sees it and
  // stops (PyTorch would turn every gradient into NaN).
  if (coefficient < 1.0 && std::isfinite(norm)) {
    const float scale = static_cast<float>(coefficient);
    for (const ParameterRef& param : params) {
      for (float& g : param.grad) g *= scale;
    }
  }
  return norm;
}

}  // namespace descent
