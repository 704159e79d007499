// Losses on logits with torch.nn semantics and reduction='mean':
//   MSE          nn.MSELoss: mean over every element.
//   BCE          nn.BCEWithLogitsLoss (stable log-sum-exp form), optional pos_weight per output.
//   CE           nn.CrossEntropyLoss (log-softmax), targets as class indices [batch, 1] or as
//                probability rows [batch, classes]; optional class weights and label smoothing.
//                With class weights and index targets the mean divides by the summed weights of
//                the targets, as PyTorch does.
#ifndef DESCENT_ENGINE_LOSS_H_
#define DESCENT_ENGINE_LOSS_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/activation.h"
#include "engine/matrix.h"
#include "engine/train_spec.h"

namespace descent {

class Loss {
 public:
  virtual ~Loss() = default;

  // Mean loss of `logits` [batch, outputs] against `targets`; writes dLoss/dLogits (same
  // shape as logits, already divided for the mean) into *grad, which is resized without
  // allocating once a batch shape was seen. Accumulates in double.
  virtual double Compute(const Matrix& logits, const Matrix& targets, Matrix* grad) const = 0;

  // Mean loss only (evaluation; no gradient).
  virtual double Evaluate(const Matrix& logits, const Matrix& targets) const = 0;

  // Maps logits to what a user reads: identity, sigmoid probabilities or softmax rows.
  virtual void OutputTransform(Matrix* logits) const = 0;

  // The output activation the loss implies (for export and diagnostics).
  virtual Activation output_activation() const = 0;
};

// The number of network outputs the loss needs for these targets: MSE and BCE one per target
// column; CE `num_classes` (index targets) or targets.cols() (probability rows).
// INVALID_ARGUMENT when the targets do not fit the loss: a class index out of [0, classes),
// a BCE label outside [0, 1], a probability row that does not sum to 1.
absl::StatusOr<int> OutputUnits(const LossSpec& spec, const Matrix& targets, int num_classes);

// INVALID_ARGUMENT when pos_weight / class_weights lengths do not match `outputs`.
absl::StatusOr<std::unique_ptr<Loss>> MakeLoss(const LossSpec& spec, int outputs);

}  // namespace descent

#endif  // DESCENT_ENGINE_LOSS_H_
