// The concrete optimizers behind MakeOptimizer(), one file each (sgd.cc, adam.cc, rmsprop.cc,
// adagrad.cc), and the state handling they share. Internal to the engine: callers use
// MakeOptimizer() from optimizer.h.
//
// Each update mirrors torch.optim 1.13's single-tensor code operation by operation in float32,
// with scalar coefficients computed in double and rounded to float as PyTorch's kernels do,
// so trajectories agree with PyTorch to rounding.
#ifndef DESCENT_ENGINE_OPTIMIZER_KINDS_H_
#define DESCENT_ENGINE_OPTIMIZER_KINDS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/optimizer.h"
#include "engine/train_spec.h"

namespace descent::internal {

// An optimizer whose state is `slots` float buffers per parameter, each the parameter's size,
// stored in the order [param 0 slot 0, param 0 slot 1, ..., param 1 slot 0, ...], plus the
// step count. Buffers are allocated once, here; Step() and LoadState() never allocate.
class StatefulOptimizer : public Optimizer {
 public:
  StatefulOptimizer(absl::Span<const ParameterRef> params, int slots, float initial_value);

  OptimizerState SaveState() const override;
  absl::Status LoadState(absl::Span<const ParameterRef> params,
                         const OptimizerState& state) override;

 protected:
  // CHECK-fails unless `params` has the count and sizes the state was built for (the
  // contract: the same tensors on every call).
  void CheckParams(absl::Span<const ParameterRef> params) const;
  float* slot(size_t param, int s) { return buffers_[param * slots_ + s].data(); }
  int64_t steps() const { return steps_; }
  // Counts the step about to be taken and returns its 1-based number.
  int64_t BeginStep() { return ++steps_; }

 private:
  int slots_;
  std::vector<size_t> sizes_;  // per parameter
  std::vector<std::vector<float>> buffers_;
  int64_t steps_ = 0;
};

std::unique_ptr<Optimizer> MakeSgd(const OptimizerSpec& spec,
                                   absl::Span<const ParameterRef> params);
std::unique_ptr<Optimizer> MakeAdam(const OptimizerSpec& spec,
                                    absl::Span<const ParameterRef> params);
std::unique_ptr<Optimizer> MakeRmsprop(const OptimizerSpec& spec,
                                       absl::Span<const ParameterRef> params);
std::unique_ptr<Optimizer> MakeAdagrad(const OptimizerSpec& spec,
                                       absl::Span<const ParameterRef> params);

}  // namespace descent::internal

#endif  // DESCENT_ENGINE_OPTIMIZER_KINDS_H_
