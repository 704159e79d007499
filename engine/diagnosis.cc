#include "engine/diagnosis.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "engine/diagnosis_rules.h"

namespace descent {
namespace {

// Curves keep at most this many buckets (then halve by pairwise averaging).
constexpr size_t kCurveCapacity = 128;
// DiagnosisState::start_sum covers this many first losses (see there).
constexpr int64_t kStartSteps = 4;

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

// The completed buckets plus the partial one, if any, numbered by the items (steps or
// epochs, counted from 1) each covers.
std::vector<CurvePoint> CurvePoints(const DiagnosisState::Curve& curve) {
  std::vector<CurvePoint> points;
  points.reserve(curve.means.size() + 1);
  int64_t item = 0;
  for (size_t i = 0; i < curve.means.size(); ++i) {
    points.push_back({curve.means[i], item + 1, item + curve.bucket_width, curve.last_steps[i]});
    item += curve.bucket_width;
  }
  if (curve.pending_count > 0) {
    points.push_back({curve.pending_sum / static_cast<double>(curve.pending_count), item + 1,
                      item + curve.pending_count, curve.pending_last_step});
  }
  return points;
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
  if (state_.diverged_step == 0 && IsExplosion(loss, state_.first_loss)) {
    state_.diverged_step = step;
    state_.diverged_loss = loss;
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
  LossCurve curve;
  curve.learning_rate = learning_rate_;
  curve.steps = state_.steps;
  curve.first_loss = state_.first_loss;
  curve.diverged_step = state_.diverged_step;
  curve.diverged_loss = state_.diverged_loss;
  const DiagnosisState::Curve& epochs = state_.epoch_curve;
  const int64_t epochs_seen =
      static_cast<int64_t>(epochs.means.size()) * epochs.bucket_width + epochs.pending_count;
  curve.epochs = epochs_seen >= kMinEpochsToRead;
  curve.points = CurvePoints(curve.epochs ? epochs : state_.step_curve);
  return ReadLossCurve(curve);
}

}  // namespace descent
