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
#include <vector>

#include "absl/status/status.h"

namespace descent {

enum class Verdict { kNone, kLearning, kConverged, kStalled, kDiverged };

struct Diagnosis {
  Verdict verdict = Verdict::kNone;
  int64_t step = 0;     // the step the verdict refers to (e.g. converged at step N)
  std::string message;  // one sentence for a user, naming the learning rate when relevant
};

// "none", "learning", "converged", "stalled", "diverged".
std::string_view VerdictName(Verdict verdict);

// Everything a DiagnosisTracker has learnt, as plain values so a checkpoint can carry it and
// a resumed run keeps its diagnosis. The loss curves are downsampled to a bounded size:
// whenever one fills up, neighbouring buckets are averaged pairwise and the bucket width
// doubles, so memory stays constant however long the run.
struct DiagnosisState {
  struct Curve {
    std::vector<double> means;        // completed buckets, oldest first
    std::vector<int64_t> last_steps;  // the last step each bucket covers
    int64_t bucket_width = 1;         // values per completed bucket
    double pending_sum = 0.0;         // the bucket being filled
    int64_t pending_count = 0;
    int64_t pending_last_step = 0;
  };
  int64_t steps = 0;        // steps observed
  double first_loss = 0.0;  // the loss at step 1 (before any update)
  double start_sum = 0.0;   // sum of the first few losses: the level the run started from
  int64_t start_count = 0;
  int64_t diverged_step = 0;  // 0 = not diverged
  double diverged_loss = 0.0;
  Curve step_curve;   // step losses
  Curve epoch_curve;  // epoch mean losses (smoother; preferred once there are enough epochs)
};

class DiagnosisTracker {
 public:
  // `learning_rate` is the base rate the messages name.
  explicit DiagnosisTracker(double learning_rate);

  // Feeds every optimizer step's loss, in order, numbered from 1. Allocation-free.
  void ObserveStep(int64_t step, double loss);
  // Feeds each epoch's mean training loss (smoother than steps; used for plateaus).
  void ObserveEpoch(int epoch, int64_t last_step, double mean_loss);

  // True once the loss is non-finite or exploding: the hard signs the trainer stops on.
  bool diverged() const;
  // The verdict so far; call at the end of training for the final one. Besides the hard
  // signs, a run whose smoothed loss ends well above where it started is also reported as
  // diverged (a too-high learning rate that oscillates instead of exploding).
  Diagnosis Current() const;

  const DiagnosisState& state() const { return state_; }
  // Continues from a saved state. INVALID_ARGUMENT when the state is inconsistent (curve
  // arrays of different lengths or over the capacity); the tracker is unchanged then.
  absl::Status LoadState(const DiagnosisState& state);

 private:
  double learning_rate_;
  DiagnosisState state_;  // curves reserved to their capacity: observing never allocates
};

}  // namespace descent

#endif  // DESCENT_ENGINE_DIAGNOSIS_H_
