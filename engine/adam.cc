// torch.optim.Adam and torch.optim.AdamW (1.13, single-tensor path). Per element, at step t:
//   AdamW: p = p * (1 - lr * weight_decay)        Adam: g = g + weight_decay * p (if != 0)
//   m = m * beta1 + (1 - beta1) * g
//   v = v * beta2 + (1 - beta2) * g * g
//   v_hat = amsgrad ? (v_max = max(v_max, v)) : v
//   p = p - (lr / (1 - beta1^t)) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>

#include "base/status_macros.h"
#include "engine/cpu_features.h"
#include "engine/optimizer_kinds.h"

namespace descent::internal {
namespace {

struct AdamCoefficients {
  float beta1, one_minus_beta1;
  float beta2, one_minus_beta2;
  float weight_decay;  // coupled (Adam)
  float decay_factor;  // 1 - lr * weight_decay (AdamW)
  float bias_correction2_sqrt;
  float eps;
  float neg_step_size;  // -lr / (1 - beta1^t)
};

template <bool kDecoupled, bool kCoupledDecay, bool kAmsgrad>
void AdamKernel(const AdamCoefficients k, size_t n, float* __restrict p,
                const float* __restrict grad, float* __restrict m, float* __restrict v,
                float* __restrict v_max) {
  for (size_t i = 0; i < n; ++i) {
    float g = grad[i];
    if constexpr (kDecoupled) p[i] = p[i] * k.decay_factor;
    if constexpr (kCoupledDecay) g = g + k.weight_decay * p[i];
    m[i] = m[i] * k.beta1 + k.one_minus_beta1 * g;
    v[i] = v[i] * k.beta2 + k.one_minus_beta2 * g * g;
    float second = v[i];
    if constexpr (kAmsgrad) {
      v_max[i] = std::max(v_max[i], v[i]);
      second = v_max[i];
    }
    const float denom = std::sqrt(second) / k.bias_correction2_sqrt + k.eps;
    p[i] = p[i] + k.neg_step_size * m[i] / denom;
  }
}

template <bool kDecoupled, bool kCoupledDecay>
void AdamDispatch(const AdamCoefficients& k, bool amsgrad, size_t n, float* p, const float* g,
                  float* m, float* v, float* v_max) {
  RunVectorized([&] {
    if (amsgrad) return AdamKernel<kDecoupled, kCoupledDecay, true>(k, n, p, g, m, v, v_max);
    AdamKernel<kDecoupled, kCoupledDecay, false>(k, n, p, g, m, v, v_max);
  });
}

class Adam final : public StatefulOptimizer {
 public:
  // Slots: exp_avg, exp_avg_sq, and max_exp_avg_sq with amsgrad.
  Adam(const OptimizerSpec& spec, absl::Span<const ParameterRef> params)
      : StatefulOptimizer(params, spec.amsgrad ? 3 : 2, 0.0f),
        beta1_(spec.beta1),
        beta2_(spec.beta2),
        eps_(spec.EffectiveEpsilon()),
        weight_decay_(spec.weight_decay),
        amsgrad_(spec.amsgrad),
        decoupled_(spec.decoupled_weight_decay) {}

  void Step(absl::Span<const ParameterRef> params, double lr) override {
    CheckParams(params);
    const double t = static_cast<double>(BeginStep());
    const double bias_correction1 = 1.0 - std::pow(beta1_, t);
    const double bias_correction2 = 1.0 - std::pow(beta2_, t);
    const AdamCoefficients k{
        .beta1 = static_cast<float>(beta1_),
        .one_minus_beta1 = static_cast<float>(1.0 - beta1_),
        .beta2 = static_cast<float>(beta2_),
        .one_minus_beta2 = static_cast<float>(1.0 - beta2_),
        .weight_decay = static_cast<float>(weight_decay_),
        .decay_factor = static_cast<float>(1.0 - lr * weight_decay_),
        .bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2)),
        .eps = static_cast<float>(eps_),
        .neg_step_size = static_cast<float>(-(lr / bias_correction1)),
    };
    for (size_t i = 0; i < params.size(); ++i) {
      const size_t n = params[i].value.size();
      float* p = params[i].value.data();
      const float* g = params[i].grad.data();
      float* m = slot(i, 0);
      float* v = slot(i, 1);
      float* v_max = amsgrad_ ? slot(i, 2) : nullptr;
      if (decoupled_) {
        AdamDispatch<true, false>(k, amsgrad_, n, p, g, m, v, v_max);
      } else if (weight_decay_ != 0) {
        AdamDispatch<false, true>(k, amsgrad_, n, p, g, m, v, v_max);
      } else {
        AdamDispatch<false, false>(k, amsgrad_, n, p, g, m, v, v_max);
      }
    }
  }

 private:
  double beta1_;
  double beta2_;
  double eps_;
  double weight_decay_;
  bool amsgrad_;
  bool decoupled_;
};

}  // namespace

std::unique_ptr<Optimizer> MakeAdam(const OptimizerSpec& spec,
                                    absl::Span<const ParameterRef> params) {
  return std::make_unique<Adam>(spec, params);
}

}  // namespace descent::internal
