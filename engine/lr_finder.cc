#include "engine/lr_finder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/field_error.h"
#include "engine/optimizer.h"
#include "base/status_macros.h"

namespace descent {
namespace {

// The schedule that makes the trainer's rate at 0-based step s equal min * gamma^s.
ScheduleSpec RangeSchedule(const LrFindSpec& find) {
  ScheduleSpec schedule;
  schedule.kind = ScheduleKind::kExponential;
  schedule.gamma = std::pow(find.max_learning_rate / find.min_learning_rate,
                            1.0 / static_cast<double>(find.steps - 1));
  return schedule;
}

// fastai drops the points after the stop rule fired and a few before (where the curve is
// already shooting up) before reading the curve.
constexpr int64_t kIgnoredLastPoints = 5;

std::string Rate(double learning_rate) { return absl::StrFormat("%.3g", learning_rate); }

// "step 37 (rate 8.11e-05, loss 15.16)", for the reasons.
std::string At(const LrFindPoint& point) {
  return absl::StrFormat("step %d (rate %s, loss %.4g)", point.step, Rate(point.learning_rate),
                         point.smoothed_loss);
}

// The longest valley of fastai's `valley` (fastai/callback/schedule.py), literally: lds[i]
// is the length of the longest strictly falling subsequence ending at point i.
LrCandidate Valley(absl::Span<const LrFindPoint> points) {
  const size_t n = points.size();
  std::vector<size_t> lds(n, 1);
  size_t max_start = 0, max_end = 0;
  for (size_t i = 1; i < n; ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (points[i].smoothed_loss < points[j].smoothed_loss && lds[i] < lds[j] + 1) {
        lds[i] = lds[j] + 1;
      }
      if (lds[max_end] < lds[i]) {
        max_end = i;
        max_start = max_end - lds[max_end];
      }
    }
  }
  const double sections = static_cast<double>(max_end - max_start) / 3.0;
  const size_t index = max_start + static_cast<size_t>(sections) +
                       static_cast<size_t>(sections / 2.0);
  const LrFindPoint& chosen = points[index];
  return LrCandidate{LrRule::kValley, chosen.learning_rate, chosen.step,
                     absl::StrCat("valley: the smoothed loss falls longest between ",
                                  At(points[max_start]), " and ", At(points[max_end]),
                                  "; fastai's default takes the rate halfway along that fall")};
}

// The suggestion: the decade of rates (k consecutive points spanning a tenfold rise, or
// all of them when they span less) over which the smoothed loss falls by the largest
// factor, and the rate in its middle (on the log scale).
LrCandidate SteepestDecade(absl::Span<const LrFindPoint> points) {
  const size_t n = points.size();
  const double log_step = std::log(points[1].learning_rate / points[0].learning_rate);
  const size_t k = std::clamp<size_t>(
      static_cast<size_t>(std::lround(std::log(10.0) / log_step)), 1, n - 1);
  // The fall over a window as on a log plot (a ratio); a difference where a smoothed loss
  // is not positive (no log), which no loss of the engine's produces.
  const auto fall = [&](size_t i) {
    const double from = points[i].smoothed_loss, to = points[i + k].smoothed_loss;
    return from > 0 && to > 0 ? std::log(to / from) : to - from;
  };
  size_t start = 0;
  for (size_t i = 1; i + k < n; ++i) {
    if (fall(i) < fall(start)) start = i;
  }
  const LrFindPoint& from = points[start];
  const LrFindPoint& to = points[start + k];
  const LrFindPoint& chosen = points[start + k / 2];
  const double percent = from.smoothed_loss > 0
                             ? 100.0 * (1.0 - to.smoothed_loss / from.smoothed_loss)
                             : 0.0;
  return LrCandidate{
      LrRule::kSteepestDecade, chosen.learning_rate, chosen.step,
      absl::StrCat("steepest decade: the smoothed loss falls most over a tenfold rise of the "
                   "rate between ", At(from), " and ", At(to), ", by ",
                   absl::StrFormat("%.0f%%", percent), "; the suggestion is its middle")};
}

// fastai's `steep`: the left point of the segment where the smoothed loss falls fastest
// against log(learning rate).
LrCandidate Steepest(absl::Span<const LrFindPoint> points) {
  size_t steepest = 0;
  double best_slope = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i + 1 < points.size(); ++i) {
    const double slope = (points[i + 1].smoothed_loss - points[i].smoothed_loss) /
                         (std::log(points[i + 1].learning_rate) - std::log(points[i].learning_rate));
    if (slope < best_slope) {
      best_slope = slope;
      steepest = i;
    }
  }
  const LrFindPoint& chosen = points[steepest];
  return LrCandidate{LrRule::kSteepest, chosen.learning_rate, chosen.step,
                     absl::StrCat("steepest slope: the smoothed loss falls fastest at ",
                                  At(chosen), ", ",
                                  absl::StrFormat("%.4g", best_slope * std::log(10.0)),
                                  " per tenfold rise of the rate")};
}

// fastai's `minimum`: a tenth of the rate at the lowest smoothed loss.
LrCandidate MinimumOverTen(absl::Span<const LrFindPoint> points) {
  const LrFindPoint& lowest = *std::min_element(
      points.begin(), points.end(), [](const LrFindPoint& a, const LrFindPoint& b) {
        return a.smoothed_loss < b.smoothed_loss;
      });
  return LrCandidate{LrRule::kMinimum, lowest.learning_rate / 10.0, lowest.step,
                     absl::StrCat("minimum / 10: the smoothed loss is lowest at ", At(lowest),
                                  "; a tenth of that rate")};
}

}  // namespace

absl::Status Validate(const LrFindSpec& find) {
  const auto bad = [](const char* field, const std::string& problem) {
    return InvalidFieldError(absl::StrCat("lr_find.", field), problem);
  };
  if (!std::isfinite(find.min_learning_rate) || find.min_learning_rate <= 0) {
    return bad("min_learning_rate", absl::StrCat(" must be > 0 (got ", find.min_learning_rate,
                                                 "), e.g. 1e-7"));
  }
  if (!std::isfinite(find.max_learning_rate) ||
      find.max_learning_rate <= find.min_learning_rate) {
    return bad("max_learning_rate",
               absl::StrCat(" must be above min_learning_rate ", find.min_learning_rate,
                            " (got ", find.max_learning_rate, "), e.g. 10"));
  }
  if (find.steps < kMinLrFindSteps || find.steps > kMaxLrFindSteps) {
    return bad("steps", absl::StrCat(" must be in [", kMinLrFindSteps, ", ", kMaxLrFindSteps,
                                     "] (got ", find.steps, "); 100 is usual"));
  }
  if (!std::isfinite(find.divergence_multiple) || find.divergence_multiple <= 1) {
    return bad("divergence_multiple",
               absl::StrCat(" must be > 1 (got ", find.divergence_multiple, "); fastai uses 4"));
  }
  return absl::OkStatus();
}

double LrFindLearningRate(const LrFindSpec& find, int64_t step) {
  DESCENT_CHECK(step >= 1);
  return ScheduledLearningRate(RangeSchedule(find), find.min_learning_rate, step - 1, find.steps);
}

TrainSpec LrFindTrainSpec(TrainSpec spec, const LrFindSpec& find, int64_t steps_per_epoch) {
  DESCENT_CHECK(steps_per_epoch >= 1);
  spec.optimizer.learning_rate = find.min_learning_rate;
  spec.schedule = RangeSchedule(find);
  spec.training.epochs = static_cast<int>((find.steps + steps_per_epoch - 1) / steps_per_epoch);
  spec.training.early_stopping = EarlyStoppingSpec{};
  spec.training.stop_on_divergence = false;
  return spec;
}

double SmoothedLoss::Add(double loss) {
  // torch.lerp(loss, average, beta), as fastai writes it.
  average_ = beta_ * average_ + (1.0 - beta_) * loss;
  beta_power_ *= beta_;
  return average_ / (1.0 - beta_power_);
}

bool LrRangeTest::Observe(double learning_rate, double loss) {
  DESCENT_CHECK(!diverged_ && static_cast<int64_t>(points_.size()) < find_.steps);
  const double smoothed = smoothed_.Add(loss);
  points_.push_back(LrFindPoint{static_cast<int64_t>(points_.size()) + 1, learning_rate, loss,
                                smoothed});
  if (!std::isfinite(smoothed)) {
    diverged_ = true;
    return false;
  }
  if (points_.size() == 1 || smoothed < best_) best_ = smoothed;
  if (smoothed > find_.divergence_multiple * best_) {
    diverged_ = true;
    return false;
  }
  return static_cast<int64_t>(points_.size()) < find_.steps;
}

absl::StatusOr<LrSuggestion> SuggestLearningRate(absl::Span<const LrFindPoint> points,
                                                 int64_t requested_steps) {
  const int64_t skipped = requested_steps / 10;
  const int64_t usable = static_cast<int64_t>(points.size()) - skipped - kIgnoredLastPoints;
  if (usable < 2) {
    const std::string where =
        points.empty() ? std::string("before its first step")
                       : absl::StrCat("after ", points.size(), " steps, at rate ",
                                      Rate(points.back().learning_rate));
    return absl::FailedPreconditionError(absl::StrCat(
        "the range test stopped ", where, ", too early to suggest a rate (the rules read the ",
        "points after the first ", skipped, " and before the last ", kIgnoredLastPoints,
        "): the loss diverged almost at once, so start lower (lr_find.min_learning_rate, "
        "descent lr-find --min)"));
  }
  const absl::Span<const LrFindPoint> read = points.subspan(skipped, usable);
  LrSuggestion suggestion;
  suggestion.suggestion = SteepestDecade(read);
  suggestion.candidates = {Valley(read), Steepest(read), MinimumOverTen(read)};
  return suggestion;
}

namespace {

// Puts the range test between the trainer and the caller's observer.
class RangeTestObserver : public TrainingObserver {
 public:
  RangeTestObserver(const LrFindSpec& find, TrainingObserver* observer)
      : test_(find), observer_(observer) {}

  bool OnStep(const StepEvent& event) override {
    if (observer_ != nullptr && !observer_->OnStep(event)) {
      cancelled_ = true;
      return false;
    }
    return test_.Observe(event.learning_rate, event.loss);
  }
  void OnEpoch(const EpochSummary& summary) override {
    if (observer_ != nullptr) observer_->OnEpoch(summary);
  }

  LrRangeTest test_;
  bool cancelled_ = false;

 private:
  TrainingObserver* const observer_;
};

}  // namespace

LrFindRun RunLrFind(Trainer& trainer, const LrFindSpec& find, TrainingObserver* observer) {
  RangeTestObserver range(find, observer);
  trainer.Run(&range);
  LrFindRun run;
  if (range.cancelled_) {
    run.reason = StopReason::kCancelled;
  } else if (range.test_.diverged()) {
    run.reason = StopReason::kDiverged;
  }
  run.points = range.test_.points();
  return run;
}

}  // namespace descent
