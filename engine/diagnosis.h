// Reads a loss trajectory the way the seed's "Tracking loss" and "Learning rate" sections
// teach: still falling (learning), flattened low (converged), flat or crawling while still
// high (stalled: learning rate too low or too little capacity), exploding, non-finite or
// ending above its start (diverged: learning rate too high). The tracker keeps bounded curves
// of a run; the rules that read them, with every threshold and its reason, are in
// diagnosis_rules.cc, and tests/engine/diagnosis_corpus_test.cc scores them on labelled
// real and synthetic curves.
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
  // The step the verdict refers to: converged or stalled at step N (where the curve turned
  // flat), diverged at step N; the last step for learning; 0 for a stalled curve that never
  // turned flat (flat from the start, or crawling).
  int64_t step = 0;
  // For a user: names the curve it read ("the epoch-mean train loss"), quotes only numbers
  // the user can find (a point's value and step, the loss at step 1), and names the
  // learning rate when that is the likely cause.
  std::string message;
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
  // The sum and count of the first few losses. Only start_count is still read (0 = no step
  // seen yet); both stay so that checkpoints keep their format.
  double start_sum = 0.0;
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
  // Feeds each epoch's mean training loss, epochs numbered from 1 (smoother than steps, and
  // what a user sees per epoch: read instead of step losses once there are enough).
  void ObserveEpoch(int epoch, int64_t last_step, double mean_loss);

  // True once the loss is non-finite or exploding: the hard signs the trainer stops on.
  bool diverged() const;
  // The verdict so far (ReadLossCurve in diagnosis_rules.h); call at the end of training for
  // the final one. Besides the hard signs, a run whose loss ends well above where it started
  // is also reported as diverged (a too-high learning rate that bounces instead of exploding).
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
