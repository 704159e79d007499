// torch.optim.RMSprop (1.13, single-tensor path). Per element:
//   g = g + weight_decay * p                                   (if weight_decay != 0)
//   sq = sq * alpha + (1 - alpha) * g * g
//   centered: avg_g = avg_g * alpha + (1 - alpha) * g;  d = sqrt(sq - avg_g^2) + eps
//   else:     d = sqrt(sq) + eps
//   momentum > 0: buf = buf * momentum + g / d;  p = p - lr * buf
//   else:         p = p - lr * g / d
#include <cmath>
#include <cstddef>
#include <memory>

#include "base/status_macros.h"
#include "engine/cpu_features.h"
#include "engine/optimizer_kinds.h"

namespace descent::internal {
namespace {

struct RmspropCoefficients {
  float alpha, one_minus_alpha;
  float weight_decay;
  float eps;
  float momentum;
  float neg_lr;
};

template <bool kDecay, bool kCentered, bool kMomentum>
void RmspropKernel(const RmspropCoefficients k, size_t n, float* __restrict p,
                   const float* __restrict grad, float* __restrict square_avg,
                   float* __restrict grad_avg, float* __restrict buf) {
  for (size_t i = 0; i < n; ++i) {
    float g = grad[i];
    if constexpr (kDecay) g = g + k.weight_decay * p[i];
    square_avg[i] = square_avg[i] * k.alpha + k.one_minus_alpha * g * g;
    float avg;
    if constexpr (kCentered) {
      grad_avg[i] = grad_avg[i] * k.alpha + k.one_minus_alpha * g;
      avg = std::sqrt(square_avg[i] + -1.0f * grad_avg[i] * grad_avg[i]);
    } else {
      avg = std::sqrt(square_avg[i]);
    }
    avg = avg + k.eps;
    if constexpr (kMomentum) {
      buf[i] = buf[i] * k.momentum + g / avg;
      p[i] = p[i] + k.neg_lr * buf[i];
    } else {
      p[i] = p[i] + k.neg_lr * g / avg;
    }
  }
}

template <bool kDecay>
void RmspropDispatch(const RmspropCoefficients& k, bool centered, bool momentum, size_t n, float* p,
                     const float* g, float* sq, float* ga, float* buf) {
  RunVectorized([&] {
    if (centered) {
      return momentum ? RmspropKernel<kDecay, true, true>(k, n, p, g, sq, ga, buf)
                      : RmspropKernel<kDecay, true, false>(k, n, p, g, sq, ga, buf);
    }
    return momentum ? RmspropKernel<kDecay, false, true>(k, n, p, g, sq, ga, buf)
                    : RmspropKernel<kDecay, false, false>(k, n, p, g, sq, ga, buf);
  });
}

class Rmsprop final : public StatefulOptimizer {
 public:
  // Slots: square_avg, then grad_avg when centered, then momentum_buffer when momentum > 0.
  Rmsprop(const OptimizerSpec& spec, absl::Span<const ParameterRef> params)
      : StatefulOptimizer(params, 1 + (spec.centered ? 1 : 0) + (spec.momentum > 0 ? 1 : 0), 0.0f),
        alpha_(spec.alpha),
        eps_(spec.EffectiveEpsilon()),
        weight_decay_(spec.weight_decay),
        momentum_(spec.momentum),
        centered_(spec.centered) {}

  void Step(absl::Span<const ParameterRef> params, double lr) override {
    CheckParams(params);
    BeginStep();
    const RmspropCoefficients k{.alpha = static_cast<float>(alpha_),
                                .one_minus_alpha = static_cast<float>(1.0 - alpha_),
                                .weight_decay = static_cast<float>(weight_decay_),
                                .eps = static_cast<float>(eps_),
                                .momentum = static_cast<float>(momentum_),
                                .neg_lr = static_cast<float>(-lr)};
    const bool momentum = momentum_ > 0;
    for (size_t i = 0; i < params.size(); ++i) {
      const size_t n = params[i].value.size();
      float* p = params[i].value.data();
      const float* g = params[i].grad.data();
      int next_slot = 0;
      float* sq = slot(i, next_slot++);
      float* ga = centered_ ? slot(i, next_slot++) : nullptr;
      float* buf = momentum ? slot(i, next_slot++) : nullptr;
      if (weight_decay_ != 0) {
        RmspropDispatch<true>(k, centered_, momentum, n, p, g, sq, ga, buf);
      } else {
        RmspropDispatch<false>(k, centered_, momentum, n, p, g, sq, ga, buf);
      }
    }
  }

 private:
  double alpha_;
  double eps_;
  double weight_decay_;
  double momentum_;
  bool centered_;
};

}  // namespace

std::unique_ptr<Optimizer> MakeRmsprop(const OptimizerSpec& spec,
                                       absl::Span<const ParameterRef> params) {
  return std::make_unique<Rmsprop>(spec, params);
}

}  // namespace descent::internal
