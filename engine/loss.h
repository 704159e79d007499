// Losses on logits with torch.nn semantics and reduction='mean':
//   MSE          nn.MSELoss: mean over every element.
//   BCE          nn.BCEWithLogitsLoss (stable log-sum-exp form), optional pos_weight per output.
//   CE           nn.CrossEntropyLoss (log-softmax), targets as class indices [batch, 1] or as
//                probability rows [batch, classes]; optional class weights and label smoothing.
//                With class weights and index targets the mean divides by the summed weights of
//                the targets, as PyTorch does; with probability rows it divides by the batch
//                size, also as PyTorch does. One deviation: a batch whose targets all have
//                weight 0 gives loss 0 and a zero gradient where PyTorch gives NaN (0 / 0), so
//                such a batch is not mistaken for a divergence.
#ifndef DESCENT_ENGINE_LOSS_H_
#define DESCENT_ENGINE_LOSS_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/matrix.h"
#include "engine/train_spec.h"

namespace descent {

// What the loss applies to the logits to give a user's outputs (exports, predictions).
// Softmax is not an element-wise Activation, hence this separate enum.
enum class OutputActivation { kIdentity, kSigmoid, kSoftmax };

// The output activation of `kind`'s loss (what Loss::output_activation() returns for it).
OutputActivation OutputActivationOf(LossKind kind);

class Loss {
 public:
  virtual ~Loss() = default;

  // Mean loss of `logits` [batch, outputs] against `targets`; writes dLoss/dLogits (same
  // shape as logits, already divided for the mean) into *grad, which is resized without
  // allocating once a batch shape was seen. Accumulates in double. `targets` must have passed
  // OutputUnits() for this loss and match logits' batch (a mismatch is a bug: CHECK-fails).
  double Compute(const Matrix& logits, const Matrix& targets, Matrix* grad) const {
    grad->Resize(logits.rows(), logits.cols());
    return MeanLoss(logits, targets, grad);
  }

  // Mean loss only (evaluation; no gradient).
  double Evaluate(const Matrix& logits, const Matrix& targets) const {
    return MeanLoss(logits, targets, nullptr);
  }

  // Maps logits to what a user reads: identity, sigmoid probabilities or softmax rows.
  virtual void OutputTransform(Matrix* logits) const = 0;

  // The output activation the loss implies (for export and diagnostics).
  virtual OutputActivation output_activation() const = 0;

 protected:
  // Each loss's one computation behind Compute and Evaluate: the mean loss, and, when `grad`
  // is not null (already shaped like `logits`), dLoss/dLogits written into it.
  virtual double MeanLoss(const Matrix& logits, const Matrix& targets, Matrix* grad) const = 0;
};

// The number of network outputs the loss needs for these targets: MSE and BCE one per target
// column; CE `num_classes` (index targets) or targets.cols() (probability rows).
// `num_classes` <= 0 means "max index + 1". INVALID_ARGUMENT, naming the target value, when the
// targets do not fit the loss: empty targets, a class index that is not a whole number in
// [0, classes), fewer than 2 classes, a BCE label outside [0, 1], a probability row with an
// entry outside [0, 1] or a sum off 1 by more than 1e-3.
absl::StatusOr<int> OutputUnits(const LossSpec& spec, const Matrix& targets, int num_classes);

// INVALID_ARGUMENT when pos_weight / class_weights lengths do not match `outputs`, or outputs
// is < 1 (< 2 for cross-entropy). Option ranges are Validate()'s job.
absl::StatusOr<std::unique_ptr<Loss>> MakeLoss(const LossSpec& spec, int outputs);

}  // namespace descent

#endif  // DESCENT_ENGINE_LOSS_H_
