// Reads a loss trajectory the way the seed's "Tracking loss" and "Learning rate" sections
// teach: falling steadily (learning), flat at a low value (converged), flat while still high
// (stalled: learning rate too low or too little capacity), exploding or non-finite
// (diverged: learning rate too high). Thresholds are constants in diagnosis.cc, documented
// there and tested.
#ifndef DESCENT_ENGINE_DIAGNOSIS_H_
#define DESCENT_ENGINE_DIAGNOSIS_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace descent {

enum class Verdict { kNone, kLearning, kConverged, kStalled, kDiverged };

struct Diagnosis {
  Verdict verdict = Verdict::kNone;
  int64_t step = 0;     // the step the verdict refers to (e.g. converged at step N)
  std::string message;  // one sentence for a user, naming the learning rate when relevant
};

std::string_view VerdictName(Verdict verdict);

class DiagnosisTracker {
 public:
  explicit DiagnosisTracker(double learning_rate) : learning_rate_(learning_rate) {}

  // Feeds every optimizer step's loss, in order, numbered from 1.
  void ObserveStep(int64_t step, double loss);
  // Feeds each epoch's mean training loss (smoother than steps; used for plateaus).
  void ObserveEpoch(int epoch, int64_t last_step, double mean_loss);

  // True once the loss diverged; the trainer stops when asked to.
  bool diverged() const;
  // The verdict so far; call at the end of training for the final one.
  Diagnosis Current() const;

 private:
  double learning_rate_;
  // Further private state is the implementation's to choose.
};

}  // namespace descent

#endif  // DESCENT_ENGINE_DIAGNOSIS_H_
