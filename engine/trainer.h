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

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
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
  int epoch = 0;  // 1-based
  int64_t last_step = 0;
  // loss: the mean of the epoch's step losses. The other metrics accumulate over the epoch's
  // batches as they are trained (as Keras reports training metrics), so they cost no extra
  // pass over the data.
  EvalMetrics train;
  std::optional<EvalMetrics> validation;  // when validation_fraction > 0; model at epoch end
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

// Everything needed to continue a run exactly (parameters, optimizer state, position). The
// position inside an epoch is step - epoch * steps_per_epoch; the batch order of every epoch
// is recomputed from (seed, epoch), so it is not stored.
struct TrainerCheckpoint {
  int64_t step = 0;  // steps completed
  int epoch = 0;     // epochs completed
  std::vector<LayerParameters> parameters;
  OptimizerState optimizer;
  std::vector<EpochSummary> epochs;  // summaries so far (early stopping reads them)
  double epoch_loss_sum = 0.0;       // partial sums of the epoch in progress
  // Partial training-metric sums of the epoch in progress (layout private to the trainer);
  // empty restarts them from zero, so only that epoch's training metrics are affected.
  std::vector<double> epoch_metric_sums;
  // The diagnosis so far; a default state restarts the diagnosis at the resumed step.
  DiagnosisState diagnosis;
};

struct TrainResult {
  StopReason reason = StopReason::kCompleted;
  int64_t steps = 0;
  std::vector<EpochSummary> epochs;
  Diagnosis diagnosis;
};

// Not thread-safe: one thread creates, runs and checkpoints a Trainer (the observer's callbacks
// run on that thread, between steps).
class Trainer {
 public:
  // Validates spec and data, splits train/validation, builds the network (from
  // `initial_parameters` when given, else initialised from the seed), loss and optimizer.
  // The split: a permutation seeded by training.seed, its tail (floor of
  // samples * validation_fraction, at least 1 when the fraction is > 0) is validation.
  // A batch size of 0 or above the training samples means one full batch; the last partial
  // batch of an epoch is kept (DataLoader's drop_last=False).
  // INVALID_ARGUMENT naming the field for any mismatch.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(
      const TrainSpec& spec, Dataset dataset,
      const std::optional<std::vector<LayerParameters>>& initial_parameters = std::nullopt);

  // Total optimizer steps the spec asks for (epochs x batches per epoch).
  int64_t total_steps() const;
  int64_t steps_per_epoch() const;
  int train_samples() const;
  int validation_samples() const;

  // Runs until done, stopped by the observer, early-stopped (after `patience` epochs without
  // the monitored loss, validation when present else training, improving by more than
  // min_delta), or diverged (when training.stop_on_divergence). May be called once (a second
  // call is a bug and CHECK-fails); continues from a restored checkpoint if one was loaded.
  // `observer` may be null. Allocation-free per step once the first epoch has run.
  TrainResult Run(TrainingObserver* observer);

  // Snapshot, for checkpoints. Call between steps (e.g. from OnStep or OnEpoch).
  TrainerCheckpoint Checkpoint() const;
  // Continues from `checkpoint` (made by a Trainer with the same spec and data): the rest of
  // the run is bit-identical to an uninterrupted one. Call before Run: FAILED_PRECONDITION
  // once Run has started. INVALID_ARGUMENT when the checkpoint does not fit this spec and
  // data (position, parameter shapes, optimizer state); the trainer is unchanged then.
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

// The optimizer steps Trainer::Create plans for `samples` rows under `training`: epochs x
// batches per epoch of the training split (Trainer::total_steps() before it exists).
int64_t PlannedSteps(const TrainingOptions& training, int samples);

// What a network says about user rows.
struct Prediction {
  Matrix outputs;  // [rows, outputs]: the logits through the loss's output transform
  // Per row, the class PredictedClass (evaluation.h) decides on the logits; empty when the
  // model predicts no single class (regression, several binary outputs).
  std::vector<int> classes;
};

// Runs x through the network. INVALID_ARGUMENT when x has the wrong column count or a
// non-finite value.
absl::StatusOr<Prediction> Predict(Network& network, const Loss& loss, const Matrix& x);

// Metrics of `network` on (features, targets) — used for validation and final results.
// Classification: accuracy by PredictedClass (evaluation.h): argmax for cross-entropy
// (probability-row targets by their argmax), sigmoid >= 0.5 per output for binary
// cross-entropy. Regression: MAE and RMSE over all
// elements, R² per output column averaged (sklearn's r2_score; a constant column scores 1 if
// predicted exactly, else 0). Runs in chunks of rows to bound memory; pass the loss's
// class_weights so the chunks' means combine exactly as one weighted mean. Shapes must fit
// the network and loss (a mismatch is a bug: CHECK-fails).
EvalMetrics Evaluate(Network& network, const Loss& loss, LossKind kind, const Matrix& features,
                     const Matrix& targets, absl::Span<const float> class_weights = {});

}  // namespace descent

#endif  // DESCENT_ENGINE_TRAINER_H_
