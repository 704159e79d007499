// The training loop of the seed: per batch, forward pass, loss, backpropagation, weight
// update, repeat; per epoch, validation and metrics. Deterministic: the same spec, data and
// seed give a bit-identical loss trajectory (the permutation of epoch e is a pure function of
// (seed, e), so a run can be resumed at any step from a TrainerCheckpoint).
#ifndef DESCENT_ENGINE_TRAINER_H_
#define DESCENT_ENGINE_TRAINER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/dataset.h"
#include "engine/diagnosis.h"
#include "engine/loss.h"
#include "engine/network.h"
#include "engine/optimizer.h"
#include "engine/train_spec.h"

namespace descent {

// Per-epoch quality numbers. Classification fills accuracy; regression fills mae, rmse, r2.
struct EvalMetrics {
  double loss = 0.0;
  std::optional<double> accuracy;
  std::optional<double> mae;
  std::optional<double> rmse;
  std::optional<double> r2;
};

struct StepEvent {
  int64_t step = 0;  // 1-based, over the whole run
  int epoch = 0;     // 1-based
  double loss = 0.0;
  double learning_rate = 0.0;
};

struct EpochSummary {
  int epoch = 0;           // 1-based
  int64_t last_step = 0;
  EvalMetrics train;       // mean of the epoch's step losses; metrics on the training split
  std::optional<EvalMetrics> validation;  // when validation_fraction > 0
};

enum class StopReason { kCompleted, kEarlyStopped, kDiverged, kCancelled };

// Receives progress on the training thread; must be fast (it runs between steps).
class TrainingObserver {
 public:
  virtual ~TrainingObserver() = default;
  // Every step, in order. Return false to stop training (cancellation).
  virtual bool OnStep(const StepEvent& event) = 0;
  virtual void OnEpoch(const EpochSummary& /*summary*/) {}
};

// Everything needed to continue a run exactly (parameters, optimizer state, position).
struct TrainerCheckpoint {
  int64_t step = 0;  // steps completed
  int epoch = 0;     // epochs completed
  std::vector<LayerParameters> parameters;
  OptimizerState optimizer;
  std::vector<EpochSummary> epochs;  // summaries so far (early stopping reads them)
  double epoch_loss_sum = 0.0;       // partial sums of the epoch in progress
};

struct TrainResult {
  StopReason reason = StopReason::kCompleted;
  int64_t steps = 0;
  std::vector<EpochSummary> epochs;
  Diagnosis diagnosis;
};

class Trainer {
 public:
  // Validates spec and data, splits train/validation, builds the network (from
  // `initial_parameters` when given, else initialised from the seed), loss and optimizer.
  // INVALID_ARGUMENT naming the field for any mismatch.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(
      const TrainSpec& spec, Dataset dataset,
      const std::optional<std::vector<LayerParameters>>& initial_parameters = std::nullopt);

  // Total optimizer steps the spec asks for (epochs x batches per epoch).
  int64_t total_steps() const;
  int64_t steps_per_epoch() const;
  int train_samples() const;
  int validation_samples() const;

  // Runs until done, stopped by the observer, early-stopped, or diverged. May be called
  // once; continues from a restored checkpoint if one was loaded.
  TrainResult Run(TrainingObserver* observer);

  // Snapshot / restore, for checkpoints. Call between steps (e.g. from OnStep).
  TrainerCheckpoint Checkpoint() const;
  absl::Status Restore(const TrainerCheckpoint& checkpoint);

  // The model: after Run, the trained one.
  const Network& network() const;
  Network& mutable_network();
  const Loss& loss() const;

  ~Trainer();

 private:
  Trainer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Outputs for user rows: logits through the loss's output transform (identity, sigmoid or
// softmax). INVALID_ARGUMENT when x has the wrong column count.
absl::StatusOr<Matrix> Predict(Network& network, const Loss& loss, const Matrix& x);

// Metrics of `network` on (features, targets) — used for validation and final results.
EvalMetrics Evaluate(Network& network, const Loss& loss, LossKind kind, const Matrix& features,
                     const Matrix& targets);

}  // namespace descent

#endif  // DESCENT_ENGINE_TRAINER_H_
