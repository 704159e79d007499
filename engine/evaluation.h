// Quality numbers for the trainer: running sums over batches (training metrics) and chunked
// passes over a whole split (validation, Evaluate). Both are sized once, so the training loop
// stays allocation-free.
#ifndef DESCENT_ENGINE_EVALUATION_H_
#define DESCENT_ENGINE_EVALUATION_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/loss.h"
#include "engine/matrix.h"
#include "engine/network.h"
#include "engine/trainer.h"

namespace descent {

// The class one row of a classifier's logits predicts: the one rule behind accuracy and
// Predict's classes. Softmax: the index of the largest logit (the first on ties). Sigmoid
// with one output: 1 when the logit is >= 0 (probability >= 0.5), else 0. -1 when the
// outputs are no single class: identity (regression) and several sigmoid outputs
// (independent labels, each decided alone by the one-output rule).
int PredictedClass(OutputActivation activation, absl::Span<const float> logits);

// Accuracy (classification) or MAE / RMSE / R² (regression) accumulated over batches of
// (logits, targets). Allocation-free after construction.
class MetricsAccumulator {
 public:
  // `target_cols`: 1 for class indices, else the width of the target rows.
  MetricsAccumulator(LossKind kind, int target_cols);

  void Reset();
  // logits [rows, outputs], targets [rows, target_cols] in the loss's format.
  void Add(const Matrix& logits, const Matrix& targets);
  // The metrics so far, with `loss` as the loss (the caller knows how it is averaged).
  EvalMetrics Result(double loss) const;

  // The partial sums as a flat vector (checkpoints), and back. Load: INVALID_ARGUMENT when
  // the length does not fit this accumulator; unchanged then.
  std::vector<double> Save() const;
  absl::Status Load(absl::Span<const double> sums);

 private:
  bool classification() const { return kind_ != LossKind::kMeanSquaredError; }

  LossKind kind_;
  int target_cols_;
  double judged_ = 0.0;         // classification: decisions made
  double correct_ = 0.0;        // classification: decisions that matched the target
  double elements_ = 0.0;       // regression: target elements seen
  double abs_error_sum_ = 0.0;  // regression
  double sq_error_sum_ = 0.0;   // regression
  // Regression, per target column: sums for R² (SS_tot = sum y² - (sum y)² / n).
  std::vector<double> column_sum_;
  std::vector<double> column_sq_sum_;
  std::vector<double> column_sq_error_;
};

// Loss and metrics of a network over a whole split, in chunks of at most `max_rows` rows (the
// network's activations are sized for the largest chunk, not the split). Owns its chunk
// buffers: Run is allocation-free once the network has seen a chunk of `max_rows`.
class SplitEvaluator {
 public:
  // `class_weights`: the cross-entropy class weights (empty = none), so that chunk means
  // combine into exactly the loss's weighted mean.
  SplitEvaluator(LossKind kind, int inputs, int target_cols, int max_rows,
                 std::vector<float> class_weights);

  EvalMetrics Run(Network& network, const Loss& loss, const Matrix& features,
                  const Matrix& targets);

  // The largest chunk Run passes to the network.
  int max_rows() const { return max_rows_; }

 private:
  // The weight the loss divides a chunk's sum by, relative to rows (class-weighted
  // cross-entropy with index targets divides by the targets' summed weights).
  double ChunkWeight(const Matrix& targets) const;

  LossKind kind_;
  int max_rows_;
  std::vector<float> class_weights_;
  Matrix chunk_x_;
  Matrix chunk_y_;
  MetricsAccumulator metrics_;
};

}  // namespace descent

#endif  // DESCENT_ENGINE_EVALUATION_H_
