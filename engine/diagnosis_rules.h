// The rules that turn a loss curve into a verdict and a sentence, in one place. The
// DiagnosisTracker (diagnosis.h) keeps the bounded curves; these functions read them. Every
// rule and threshold is listed, with its reason, at the top of diagnosis_rules.cc.
#ifndef DESCENT_ENGINE_DIAGNOSIS_RULES_H_
#define DESCENT_ENGINE_DIAGNOSIS_RULES_H_

#include <cstdint>
#include <vector>

#include "engine/diagnosis.h"

namespace descent {

// One point of a curve: the mean of the epoch means (or step losses) numbered
// first_item..last_item, the last of which ended at optimizer step last_step.
struct CurvePoint {
  double loss = 0.0;
  int64_t first_item = 0;
  int64_t last_item = 0;
  int64_t last_step = 0;
};

// What the rules read: the run's hard facts and one curve.
struct LossCurve {
  double learning_rate = 0.0;  // the base rate the advice names
  int64_t steps = 0;           // steps observed
  double first_loss = 0.0;     // step 1's loss: the untrained model's, before any update
  int64_t diverged_step = 0;   // the first step IsExplosion held for; 0 = none
  double diverged_loss = 0.0;
  // Epoch means when there are enough epochs to read (points are epochs), else buckets of
  // step losses (points are steps). Oldest first.
  bool epochs = false;
  std::vector<CurvePoint> points;
};

// True when a step's loss is one the trainer stops on: non-finite, or beyond the explosion
// factor times the loss at step 1.
bool IsExplosion(double loss, double first_loss);

// Epoch means are read instead of step losses from this many epochs on.
inline constexpr int kMinEpochsToRead = 8;

// The verdict on `curve`; never fails (too short a curve is Verdict::kNone).
Diagnosis ReadLossCurve(const LossCurve& curve);

}  // namespace descent

#endif  // DESCENT_ENGINE_DIAGNOSIS_RULES_H_
