// Optimizers with torch.optim's update formulas and defaults (PyTorch 1.13):
// SGD (momentum, dampening, Nesterov, weight decay), Adam (AMSGrad, coupled weight decay;
// decoupled = AdamW), RMSprop (alpha, eps, momentum, centered, weight decay), Adagrad
// (lr_decay, initial_accumulator_value, weight decay). Weight decay applies to every
// parameter, biases included, as in a default torch param group.
#ifndef DESCENT_ENGINE_OPTIMIZER_H_
#define DESCENT_ENGINE_OPTIMIZER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/status_macros.h"
#include "engine/network.h"
#include "engine/train_spec.h"

namespace descent {

// Everything an optimizer needs to continue exactly where it stopped (for checkpoints).
struct OptimizerState {
  int64_t steps = 0;
  std::vector<std::vector<float>> buffers;  // per-parameter state, optimizer-defined order
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // Applies one update to every parameter with learning rate `lr` (the schedule's value for
  // this step). `params` must be the same tensors, in the same order, on every call.
  virtual void Step(absl::Span<const ParameterRef> params, double lr) = 0;

  // True when Step is plain gradient descent, p ← p − lr·g for every parameter and nothing
  // else (SGD without momentum or weight decay). The caller may then apply the update itself
  // while it computes the gradients (Network::BackwardAndDescend, which folds it into the
  // weight-gradient products) and report it with CountAppliedStep instead of calling Step.
  virtual bool IsPlainDescent() const { return false; }
  // Counts one step the caller applied itself, as Step would have; CHECK-fails unless
  // IsPlainDescent().
  virtual void CountAppliedStep() { DESCENT_CHECK(false && "not plain descent"); }

  virtual OptimizerState SaveState() const = 0;
  // INVALID_ARGUMENT if the state's buffer count or sizes do not fit `params`.
  virtual absl::Status LoadState(absl::Span<const ParameterRef> params,
                                 const OptimizerState& state) = 0;
};

// The optimizer for `spec`, its state sized for `params`. Validate(spec) must have passed.
std::unique_ptr<Optimizer> MakeOptimizer(const OptimizerSpec& spec,
                                         absl::Span<const ParameterRef> params);

// The learning rate at optimizer step `step` (0-based) of a run of `total_steps` steps.
double ScheduledLearningRate(const ScheduleSpec& schedule, double base_lr, int64_t step,
                             int64_t total_steps);

// torch.nn.utils.clip_grad_norm_: if the global L2 norm of all gradients exceeds max_norm,
// scales them by max_norm / (norm + 1e-6). Returns the norm before clipping.
double ClipGradientNorm(absl::Span<const ParameterRef> params, double max_norm);

}  // namespace descent

#endif  // DESCENT_ENGINE_OPTIMIZER_H_
