// torch.optim.SGD (1.13, single-tensor path), per element with d = grad:
//   d = d + weight_decay * p                               (if weight_decay != 0)
//   buf = d on the first step, else buf * momentum + (1 - dampening) * d   (if momentum != 0)
//   d = nesterov ? d + momentum * buf : buf                (if momentum != 0)
//   p = p - lr * d
#include <cstddef>
#include <memory>

#include "base/status_macros.h"
#include "engine/cpu_features.h"
#include "engine/descend.h"
#include "engine/optimizer_kinds.h"

namespace descent::internal {
namespace {

struct SgdCoefficients {
  float weight_decay;
  float momentum;
  float keep;  // 1 - dampening
  float neg_lr;
};

// One loop per option combination, so each is branch-free and vectorises.
template <bool kDecay, bool kMomentum, bool kFirstStep, bool kNesterov>
void SgdKernel(const SgdCoefficients k, size_t n, float* __restrict p, const float* __restrict g,
               float* __restrict buf) {
  for (size_t i = 0; i < n; ++i) {
    float d = g[i];
    if constexpr (kDecay) d = d + k.weight_decay * p[i];
    if constexpr (kMomentum) {
      float b;
      if constexpr (kFirstStep) {
        b = d;
      } else {
        b = buf[i] * k.momentum + k.keep * d;
      }
      buf[i] = b;
      if constexpr (kNesterov) {
        d = d + k.momentum * b;
      } else {
        d = b;
      }
    }
    p[i] = p[i] + k.neg_lr * d;
  }
}

// Step gives plain descent (no decay, no momentum) to Descend (descend.h), shared with Network.
template <bool kDecay>
void SgdDispatch(const SgdCoefficients& k, bool momentum, bool first, bool nesterov, size_t n,
                 float* p, const float* g, float* buf) {
  RunVectorized([&] {
    if (!momentum) return SgdKernel<kDecay, false, false, false>(k, n, p, g, buf);
    if (first) {
      return nesterov ? SgdKernel<kDecay, true, true, true>(k, n, p, g, buf)
                      : SgdKernel<kDecay, true, true, false>(k, n, p, g, buf);
    }
    return nesterov ? SgdKernel<kDecay, true, false, true>(k, n, p, g, buf)
                    : SgdKernel<kDecay, true, false, false>(k, n, p, g, buf);
  });
}

class Sgd final : public StatefulOptimizer {
 public:
  Sgd(const OptimizerSpec& spec, absl::Span<const ParameterRef> params)
      : StatefulOptimizer(params, spec.momentum != 0 ? 1 : 0, 0.0f),
        weight_decay_(spec.weight_decay),
        momentum_(spec.momentum),
        dampening_(spec.dampening),
        nesterov_(spec.nesterov) {}

  bool IsPlainDescent() const override { return momentum_ == 0 && weight_decay_ == 0; }

  void CountAppliedStep() override {
    DESCENT_CHECK(IsPlainDescent());
    BeginStep();
  }

  void Step(absl::Span<const ParameterRef> params, double lr) override {
    CheckParams(params);
    // PyTorch creates the momentum buffer as a copy of the first step's gradient.
    const bool first = steps() == 0;
    BeginStep();
    const SgdCoefficients k{.weight_decay = static_cast<float>(weight_decay_),
                            .momentum = static_cast<float>(momentum_),
                            .keep = static_cast<float>(1.0 - dampening_),
                            .neg_lr = static_cast<float>(-lr)};
    const bool momentum = momentum_ != 0;
    for (size_t i = 0; i < params.size(); ++i) {
      float* buf = momentum ? slot(i, 0) : nullptr;
      const size_t n = params[i].value.size();
      float* p = params[i].value.data();
      const float* g = params[i].grad.data();
      if (IsPlainDescent()) {
        Descend(k.neg_lr, params[i].grad, params[i].value);
      } else if (weight_decay_ != 0) {
        SgdDispatch<true>(k, momentum, first, nesterov_, n, p, g, buf);
      } else {
        SgdDispatch<false>(k, momentum, first, nesterov_, n, p, g, buf);
      }
    }
  }

 private:
  double weight_decay_;
  double momentum_;
  double dampening_;
  bool nesterov_;
};

}  // namespace

std::unique_ptr<Optimizer> MakeSgd(const OptimizerSpec& spec,
                                   absl::Span<const ParameterRef> params) {
  return std::make_unique<Sgd>(spec, params);
}

}  // namespace descent::internal
