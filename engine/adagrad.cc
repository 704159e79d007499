// torch.optim.Adagrad (1.13, dense single-tensor path). Per element, at step t:
//   g = g + weight_decay * p                     (if weight_decay != 0)
//   sum = sum + g * g                            (sum starts at initial_accumulator_value)
//   p = p - (lr / (1 + (t - 1) * lr_decay)) * g / (sqrt(sum) + eps)
#include <cmath>
#include <cstddef>
#include <memory>

#include "base/status_macros.h"
#include "engine/cpu_features.h"
#include "engine/optimizer_kinds.h"

namespace descent::internal {
namespace {

template <bool kDecay>
void AdagradKernel(float weight_decay, float eps, float neg_clr, size_t n, float* __restrict p,
                   const float* __restrict grad, float* __restrict sum) {
  for (size_t i = 0; i < n; ++i) {
    float g = grad[i];
    if constexpr (kDecay) g = g + weight_decay * p[i];
    sum[i] = sum[i] + g * g;
    const float std_dev = std::sqrt(sum[i]) + eps;
    p[i] = p[i] + neg_clr * g / std_dev;
  }
}

class Adagrad final : public StatefulOptimizer {
 public:
  // Slot: the running sum of squared gradients ("sum" in PyTorch's state).
  Adagrad(const OptimizerSpec& spec, absl::Span<const ParameterRef> params)
      : StatefulOptimizer(params, 1, static_cast<float>(spec.initial_accumulator_value)),
        eps_(spec.EffectiveEpsilon()),
        weight_decay_(spec.weight_decay),
        lr_decay_(spec.lr_decay) {}

  void Step(absl::Span<const ParameterRef> params, double lr) override {
    CheckParams(params);
    const double t = static_cast<double>(BeginStep());
    const float neg_clr = static_cast<float>(-(lr / (1.0 + (t - 1.0) * lr_decay_)));
    const float weight_decay = static_cast<float>(weight_decay_);
    const float eps = static_cast<float>(eps_);
    for (size_t i = 0; i < params.size(); ++i) {
      const size_t n = params[i].value.size();
      float* p = params[i].value.data();
      const float* g = params[i].grad.data();
      float* sum = slot(i, 0);
      RunVectorized([&] {
        if (weight_decay_ != 0) {
          AdagradKernel<true>(weight_decay, eps, neg_clr, n, p, g, sum);
        } else {
          AdagradKernel<false>(weight_decay, eps, neg_clr, n, p, g, sum);
        }
      });
    }
  }

 private:
  double eps_;
  double weight_decay_;
  double lr_decay_;
};

}  // namespace

std::unique_ptr<Optimizer> MakeAdagrad(const OptimizerSpec& spec,
                                       absl::Span<const ParameterRef> params) {
  return std::make_unique<Adagrad>(spec, params);
}

}  // namespace descent::internal
