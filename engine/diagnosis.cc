#include "engine/diagnosis.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/status_macros.h"

namespace descent {
namespace {

// --- Thresholds -------------------------------------------------------------------------
// Divergence (hard, stops training): a non-finite loss, or a step loss above
// kExplosionFactor times the loss at step 1. A minibatch loss can legitimately spike a few
// times above the start (an unlucky batch, Adam's first steps); a hundredfold means the
// updates overshoot and grow.
constexpr double kExplosionFactor = 100.0;
// Guards the explosion test when the first loss is (almost) exactly zero.
constexpr double kMinReferenceLoss = 1e-12;
// The starting level is the mean of the first kStartSteps losses (one minibatch alone is
// too noisy to compare against).
constexpr int64_t kStartSteps = 4;
// No verdict but "diverged" before this many steps: too little trajectory to read.
constexpr int64_t kMinStepsForVerdict = 8;
// Curves keep at most this many buckets (then halve by pairwise averaging).
constexpr size_t kCurveCapacity = 128;
// Epoch means are used instead of step losses once there are this many epochs.
constexpr size_t kMinEpochsForEpochCurve = 8;
// "Still learning": the mean of the curve's last quarter is below the previous quarter's by
// more than kStillFallingRelative of that level, and that drop is at least
// kStillFallingShare of everything the loss has fallen so far (so a loss creeping from 0.010
// to 0.005 after falling from 0.7 counts as flat, not as learning).
constexpr double kStillFallingRelative = 0.02;
constexpr double kStillFallingShare = 0.01;
// A flat curve is "converged" when the loss fell by at least this fraction of its starting
// level, otherwise "stalled" (flattened while still high).
constexpr double kConvergedMinImprovement = 0.5;
// The step a plateau began: the first bucket within kPlateauBand of the total fall (or
// kPlateauLevelBand of the final level, whichever is wider) above the final level.
constexpr double kPlateauBand = 0.05;
constexpr double kPlateauLevelBand = 0.01;
// Soft divergence (reported, not stopped on): the smoothed final level is above
// kRoseFactor times the starting level.
constexpr double kRoseFactor = 1.5;

struct Point {
  double mean;
  int64_t last_step;
};

void AddToCurve(DiagnosisState::Curve& curve, double value, int64_t step) {
  curve.pending_sum += value;
  curve.pending_count += 1;
  curve.pending_last_step = step;
  if (curve.pending_count < curve.bucket_width) return;
  curve.means.push_back(curve.pending_sum / static_cast<double>(curve.pending_count));
  curve.last_steps.push_back(step);
  curve.pending_sum = 0.0;
  curve.pending_count = 0;
  if (curve.means.size() < kCurveCapacity) return;
  // Full: merge neighbours pairwise (capacity is even) and double the bucket width.
  const size_t half = curve.means.size() / 2;
  for (size_t i = 0; i < half; ++i) {
    curve.means[i] = 0.5 * (curve.means[2 * i] + curve.means[2 * i + 1]);
    curve.last_steps[i] = curve.last_steps[2 * i + 1];
  }
  curve.means.resize(half);
  curve.last_steps.resize(half);
  curve.bucket_width *= 2;
}

// The completed buckets plus the partial one, if any.
std::vector<Point> CurvePoints(const DiagnosisState::Curve& curve) {
  std::vector<Point> points;
  points.reserve(curve.means.size() + 1);
  for (size_t i = 0; i < curve.means.size(); ++i) {
    points.push_back({curve.means[i], curve.last_steps[i]});
  }
  if (curve.pending_count > 0) {
    points.push_back(
        {curve.pending_sum / static_cast<double>(curve.pending_count), curve.pending_last_step});
  }
  return points;
}

double Mean(std::span<const Point> points) {
  double sum = 0.0;
  for (const Point& p : points) sum += p.mean;
  return sum / static_cast<double>(points.size());
}

std::string Number(double value) { return absl::StrFormat("%.4g", value); }

std::string TooHighAdvice(double learning_rate) {
  return absl::StrFormat("The learning rate (%g) is probably too high; try %g or lower.",
                         learning_rate, learning_rate / 10.0);
}

void ReserveCurve(DiagnosisState::Curve& curve) {
  curve.means.reserve(kCurveCapacity);
  curve.last_steps.reserve(kCurveCapacity);
}

absl::Status CheckCurve(const DiagnosisState::Curve& curve, const char* name) {
  if (curve.means.size() != curve.last_steps.size() || curve.means.size() >= kCurveCapacity ||
      curve.bucket_width < 1 || curve.pending_count < 0 ||
      curve.pending_count >= curve.bucket_width) {
    return absl::InvalidArgumentError(
        absl::StrCat("diagnosis.", name, " is inconsistent (", curve.means.size(), " means, ",
                     curve.last_steps.size(), " steps, bucket width ", curve.bucket_width,
                     "); restore from the checkpoint it was saved with"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kNone:
      return "none";
    case Verdict::kLearning:
      return "learning";
    case Verdict::kConverged:
      return "converged";
    case Verdict::kStalled:
      return "stalled";
    case Verdict::kDiverged:
      return "diverged";
  }
  return "unknown";
}

DiagnosisTracker::DiagnosisTracker(double learning_rate) : learning_rate_(learning_rate) {
  ReserveCurve(state_.step_curve);
  ReserveCurve(state_.epoch_curve);
}

void DiagnosisTracker::ObserveStep(int64_t step, double loss) {
  state_.steps = step;
  if (step == 1 || state_.start_count == 0) state_.first_loss = loss;
  if (state_.start_count < kStartSteps) {
    state_.start_sum += loss;
    state_.start_count += 1;
  }
  if (state_.diverged_step == 0) {
    const double reference = std::max(std::fabs(state_.first_loss), kMinReferenceLoss);
    if (!std::isfinite(loss) || loss > kExplosionFactor * reference) {
      state_.diverged_step = step;
      state_.diverged_loss = loss;
    }
  }
  AddToCurve(state_.step_curve, loss, step);
}

void DiagnosisTracker::ObserveEpoch(int /*epoch*/, int64_t last_step, double mean_loss) {
  AddToCurve(state_.epoch_curve, mean_loss, last_step);
}

bool DiagnosisTracker::diverged() const { return state_.diverged_step != 0; }

absl::Status DiagnosisTracker::LoadState(const DiagnosisState& state) {
  RETURN_IF_ERROR(CheckCurve(state.step_curve, "step_curve"));
  RETURN_IF_ERROR(CheckCurve(state.epoch_curve, "epoch_curve"));
  state_ = state;
  ReserveCurve(state_.step_curve);
  ReserveCurve(state_.epoch_curve);
  return absl::OkStatus();
}

Diagnosis DiagnosisTracker::Current() const {
  const int64_t steps = state_.steps;
  if (state_.diverged_step != 0) {
    const int64_t at = state_.diverged_step;
    const double loss = state_.diverged_loss;
    std::string what =
        std::isnan(loss) ? "the loss became NaN"
        : std::isinf(loss)
            ? "the loss became infinite"
            : absl::StrCat("the loss reached ", Number(loss), ", over ", Number(kExplosionFactor),
                           " times its value at step 1 (", Number(state_.first_loss), ")");
    if (at == 1) {
      // Step 1's loss is computed before any update, so the learning rate cannot be the cause.
      return {Verdict::kDiverged, at,
              absl::StrCat("Diverged at step 1: ", what,
                           " before any update; check the features and targets for extreme "
                           "values.")};
    }
    return {Verdict::kDiverged, at,
            absl::StrCat("Diverged at step ", at, ": ", what, ". ", TooHighAdvice(learning_rate_))};
  }
  if (steps < kMinStepsForVerdict) {
    return {Verdict::kNone, steps,
            absl::StrCat("Too early to tell after ", steps, " step", steps == 1 ? "" : "s", ".")};
  }

  const bool use_epochs =
      state_.epoch_curve.means.size() + (state_.epoch_curve.pending_count > 0) >=
      kMinEpochsForEpochCurve;
  const std::vector<Point> points =
      CurvePoints(use_epochs ? state_.epoch_curve : state_.step_curve);
  const size_t n = points.size();
  const size_t quarter = std::max<size_t>(1, n / 4);
  const std::span<const Point> all(points);
  const double final_level = Mean(all.subspan(n - quarter));
  const double previous_level = Mean(all.subspan(n - 2 * quarter, quarter));
  const double start = state_.start_sum / static_cast<double>(state_.start_count);
  const double fallen = start - final_level;

  if (final_level > kRoseFactor * start) {
    return {
        Verdict::kDiverged, steps,
        absl::StrCat("Diverged: the loss rose from ", Number(start), " to ", Number(final_level),
                     " over ", steps, " steps. ", TooHighAdvice(learning_rate_))};
  }
  const double recent_drop = previous_level - final_level;
  if (recent_drop > kStillFallingRelative * std::fabs(previous_level) &&
      recent_drop >= kStillFallingShare * fallen) {
    return {Verdict::kLearning, steps,
            absl::StrCat("Learning: the loss fell from ", Number(start), " to ",
                         Number(final_level), " and was still falling at step ", steps,
                         "; more epochs should lower it further.")};
  }
  const double band =
      std::max(kPlateauBand * std::max(fallen, 0.0), kPlateauLevelBand * std::fabs(final_level));
  int64_t plateau_step = points.back().last_step;
  for (const Point& p : points) {
    if (p.mean <= final_level + band) {
      plateau_step = p.last_step;
      break;
    }
  }
  if (fallen >= kConvergedMinImprovement * start) {
    return {Verdict::kConverged, plateau_step,
            absl::StrCat("Converged at step ", plateau_step, ": the loss flattened at ",
                         Number(final_level), " (from ", Number(start), ").")};
  }
  return {Verdict::kStalled, plateau_step,
          absl::StrCat("Stalled at step ", plateau_step, ": from there on the loss stayed near ",
                       Number(final_level), ", not far below its start (", Number(start),
                       "). The learning rate (", absl::StrFormat("%g", learning_rate_),
                       ") may be too low, or the model too small for the data.")};
}

}  // namespace descent
