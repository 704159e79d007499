#include "engine/descend.h"

#include <cstddef>

#include "base/status_macros.h"
#include "engine/cpu_features.h"

namespace descent::internal {

// A plain loop in a file built with the optimizers' vectoriser flags (CMakeLists.txt),
// vectorised for AVX-512 where the CPU has it (RunVectorized): a multiply then an add, never
// contracted into one fused multiply-add, as in every optimizer, so the SGD trajectories keep
// their bits.
void Descend(float neg_lr, absl::Span<const float> grad, absl::Span<float> values) {
  DESCENT_CHECK(grad.size() == values.size());
  const size_t n = values.size();
  const float* __restrict g = grad.data();
  float* __restrict p = values.data();
  RunVectorized([&] {
    for (size_t i = 0; i < n; ++i) p[i] = p[i] + neg_lr * g[i];
  });
}

}  // namespace descent::internal
