// The learning-rate range test (Leslie Smith, "Cyclical Learning Rates for Training Neural
// Networks", 2017), as fastai's `lr_find` runs it: train a copy of the model from its
// initial weights while the learning rate grows exponentially from a minimum to a maximum,
// one rate per optimizer step; smooth the losses; stop once the smoothed loss passes a
// multiple of its best; then read a rate off the smoothed curve.
//
//   schedule   lr(step) = min * (max / min)^((step - 1) / (steps - 1)), step = 1 .. steps:
//              the first step trains at min, the last at max (fastai stops one step short
//              of max; descent ends on it so the range is the one asked for).
//   smoothing  fastai's AvgSmoothLoss: avg = beta * avg + (1 - beta) * loss from avg = 0,
//              reported with the bias correction avg / (1 - beta^n), beta = 0.98.
//   stop       after `steps` steps, or as soon as the smoothed loss exceeds
//              divergence_multiple (default 4) times the lowest smoothed loss so far, or a
//              loss is not finite.
//   suggestion the steepest decade: the tenfold range of rates over which the smoothed loss
//              falls by the largest factor, and the rate in its middle (log scale). Three
//              of fastai's rules are reported as candidates: `valley` (its default since
//              fastai 2.5: halfway along the longest falling stretch), `steep` (the steepest
//              slope between neighbouring points) and `minimum` (a tenth of the rate at the
//              lowest loss). As fastai does, the rules skip the first tenth of the requested
//              steps (the smoothing has barely started) and the last five points recorded
//              (where the loss shoots up).
// Why the steepest decade: on a noisy minibatch curve (a regression with heavy-tailed
// targets and small batches), a single noisy pair of neighbours makes fastai's `steep` land
// anywhere, and the longest falling subsequence of `valley` starts in the noise of the flat
// beginning, so its middle falls well before the real drop: on examples/lr-too-low.json
// (SGD) valley suggests 2.5e-4, which trains to three times the validation loss of the
// rates around 3e-3 the steepest decade suggests. `minimum` divides a lagging minimum by ten
// and overshoots Adam's curves (0.23 diverges on examples/house-prices.json). A fall
// measured over a whole decade is a property of the curve, not of one minibatch; README.md
// ("Finding a learning rate") has each rule's rate for every example and how it trains.
#ifndef DESCENT_ENGINE_LR_FINDER_H_
#define DESCENT_ENGINE_LR_FINDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/train_spec.h"
#include "engine/trainer.h"

namespace descent {

struct LrFindSpec {
  double min_learning_rate = 1e-7;
  double max_learning_rate = 10.0;
  int64_t steps = 100;
  double divergence_multiple = 4.0;
};

inline constexpr double kLrFindSmoothing = 0.98;  // fastai's beta
inline constexpr int64_t kMinLrFindSteps = 10;
inline constexpr int64_t kMaxLrFindSteps = 1000;  // every point is kept in the result

// INVALID_ARGUMENT naming the field ("lr_find.max_learning_rate must be > min_learning_rate
// ...") when a value is out of range: 0 < min < max, finite; steps in [10, 1000];
// divergence_multiple > 1.
absl::Status Validate(const LrFindSpec& find);

// The rate step `step` (1-based, 1 .. find.steps) trains with; the trainer of
// LrFindTrainSpec uses exactly these values (bit for bit).
double LrFindLearningRate(const LrFindSpec& find, int64_t step);

// The spec a range test trains with: `spec` with its optimizer's learning rate set to min,
// an exponential schedule growing to max over find.steps steps, enough epochs of
// `steps_per_epoch` steps to cover them, no early stopping and no stop on divergence (the
// range test has its own stop rule). Everything else (model, loss, optimizer kind and its
// other options, batches, seed, split) is the job's.
TrainSpec LrFindTrainSpec(TrainSpec spec, const LrFindSpec& find, int64_t steps_per_epoch);

// fastai's AvgSmoothLoss: an exponential moving average with bias correction.
class SmoothedLoss {
 public:
  explicit SmoothedLoss(double beta = kLrFindSmoothing) : beta_(beta) {}
  // Adds one loss and returns the smoothed value so far.
  double Add(double loss);

 private:
  double beta_;
  double average_ = 0.0;
  double beta_power_ = 1.0;  // beta^n
};

struct LrFindPoint {
  int64_t step = 0;  // 1-based
  double learning_rate = 0.0;
  double loss = 0.0;           // the step's minibatch loss
  double smoothed_loss = 0.0;  // SmoothedLoss over steps 1 .. step
};

// Follows a range test step by step: records the points and applies the stop rule.
class LrRangeTest {
 public:
  explicit LrRangeTest(const LrFindSpec& find) : find_(find) {}
  // Records step `points().size() + 1` trained at `learning_rate` with `loss`. Returns false
  // when the test is over: the last step was reached or the curve diverged (diverged()).
  bool Observe(double learning_rate, double loss);
  // The smoothed loss went over divergence_multiple x its best, or a loss was not finite.
  bool diverged() const { return diverged_; }
  const std::vector<LrFindPoint>& points() const { return points_; }

 private:
  LrFindSpec find_;
  SmoothedLoss smoothed_;
  double best_ = 0.0;
  bool diverged_ = false;
  std::vector<LrFindPoint> points_;
};

enum class LrRule { kSteepestDecade, kValley, kSteepest, kMinimum };

struct LrCandidate {
  LrRule rule = LrRule::kSteepestDecade;
  double learning_rate = 0.0;
  int64_t step = 0;    // the point the rule picked (for kMinimum, the minimum's step)
  std::string reason;  // one sentence quoting the curve's numbers
};

struct LrSuggestion {
  LrCandidate suggestion;               // the steepest decade's
  std::vector<LrCandidate> candidates;  // valley, steepest slope, then minimum / 10
};

// Reads the rate off a range test's points (see the file comment). `requested_steps` is
// find.steps (the first tenth of it is skipped). FAILED_PRECONDITION when fewer than two
// points are left to read, saying where the test stopped and what to change.
absl::StatusOr<LrSuggestion> SuggestLearningRate(absl::Span<const LrFindPoint> points,
                                                 int64_t requested_steps);

struct LrFindRun {
  // kCompleted (all steps), kDiverged (the stop rule) or kCancelled (the observer said stop).
  StopReason reason = StopReason::kCompleted;
  std::vector<LrFindPoint> points;
};

// Runs the range test on `trainer`, made from LrFindTrainSpec(...) and the job's data and
// initial parameters. `observer` (may be null) sees every step and epoch as in
// Trainer::Run; returning false from OnStep cancels the test.
LrFindRun RunLrFind(Trainer& trainer, const LrFindSpec& find, TrainingObserver* observer);

}  // namespace descent

#endif  // DESCENT_ENGINE_LR_FINDER_H_
