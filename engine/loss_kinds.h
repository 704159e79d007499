// The concrete losses behind MakeLoss(), one file each (loss_mse.cc, loss_bce.cc,
// loss_cross_entropy.cc). Internal to the engine: callers use MakeLoss() from loss.h.
#ifndef DESCENT_ENGINE_LOSS_KINDS_H_
#define DESCENT_ENGINE_LOSS_KINDS_H_

#include <memory>
#include <vector>

#include "engine/loss.h"
#include "engine/matrix.h"

namespace descent::internal {

std::unique_ptr<Loss> MakeMeanSquaredError();

// `pos_weight`: empty (all 1) or one per output column.
std::unique_ptr<Loss> MakeBinaryCrossEntropy(std::vector<float> pos_weight);

// `class_weights`: empty (all 1) or one per class; `label_smoothing` in [0, 1).
std::unique_ptr<Loss> MakeCrossEntropy(std::vector<float> class_weights, float label_smoothing);

// CHECK-fails unless logits and targets describe the same batch (a caller bug).
void CheckSameBatch(const Matrix& logits, const Matrix& targets);

}  // namespace descent::internal

#endif  // DESCENT_ENGINE_LOSS_KINDS_H_
