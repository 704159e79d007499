#include "engine/diagnosis_rules.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace descent {
namespace {

// ===== The rules ==========================================================================
// Curves are read as on a log-scale plot: in ratios, never in absolute differences, so a
// loss of 0.003 is judged exactly as a loss of 3,000 would be. The first rule that holds
// gives the verdict. tests/engine/diagnosis_corpus_test.cc scores them on labelled curves.
//
// 1. DIVERGED, hard (the trainer stops on it unless training.stop_on_divergence is off): a
//    non-finite step loss, or one above kExplosionFactor times the loss at step 1. A
//    minibatch loss can spike a few times above the start (an unlucky batch, Adam's first
//    steps); a hundredfold means the updates overshoot and grow. Step 1's loss comes before
//    any update, so there the data is blamed, not the learning rate.
// 2. NONE before kMinStepsForVerdict steps: too little curve to read.
// 3. What is read: the epoch-mean train losses once there are kMinEpochsToRead epochs (the
//    numbers `descent watch` prints per epoch), else the step losses averaged in buckets.
//    Numbers in messages are those points' values, named as such. From the points:
//    - S, the start: the higher of the loss at step 1 (the untrained model's) and the first
//      point. Not the first point alone: a fast run does most of its falling inside epoch 1.
//      Not step 1 alone: one minibatch can sit far below its epoch's mean (a regression's
//      heavy-tailed targets).
//    - the smoothed curve: a running median of the log loss over 2 * max(2, n / 20) + 1
//      points, so one noisy epoch or one spike neither ends nor starts a plateau; the noise:
//      the median distance of the log loss from the smoothed curve.
//    - F, the final level: the median of the last max(3, n / 4) points: the last quarter,
//      whose trend rule 5 has already judged when F is read as a level.
//    - r, the recent fall: how much the loss falls per quarter of the run at the end, from
//      the Theil-Sen slope (the median of pairwise slopes, which a spike does not tilt) of
//      the log loss over the last max(3, n / 4) points. Negative when rising. The same over
//      all points is the run's steady fall.
// 4. DIVERGED, soft (reported; training is not stopped): F > kRoseFactor x S. A too-high
//    learning rate that bounces at a high level instead of exploding.
// 5. LEARNING when r > kStillFalling and that fall is over kSignificantNoise times the
//    curve's noise: another quarter of the run would lower the loss by more than a few
//    percent, visible on the plot whatever the loss's absolute size, and not a tilt that
//    noise or a wiggle put into a few points.
// 6. CONVERGED when F <= kHighShare x S (the loss lost at least half its starting level), at
//    the first point from which the smoothed curve stays within the band around F and whose
//    own value is within it too (so the number the message quotes agrees). The band is
//    kBandShare of the whole fall from S to F on the log scale, at least kMinBand and at most
//    kBand: what looks level depends on how far the curve moved. A loss that fell a
//    hundredfold is level within 15%; one that fell by a third is still visibly falling 15%
//    above its end. A noisy curve widens it to kNoiseWidths times its noise: a plateau is
//    where the noise band settles, not where the noise happens to be quiet.
// 7. Otherwise STALLED: the loss flattened or crawls while still high.
//    a. "crawling", with no step, when the steady fall or r is over kCrawl per quarter, the
//       curve is not rising at the end, and its whole fall is over kNoiseWidths times its
//       noise: a slow fall that is no accident of noise. The learning rate is probably too
//       low; the advice is ten times it.
//    b. at the step it turned flat, found as in 6, when the smoothed curve itself fell by more
//       than kBand: it fell a little, then stopped.
//    c. with no step: flat from the first point on. Not measured from S: one noisy minibatch
//       at step 1 must not turn a flat curve into one that "fell, then stopped".
// ==========================================================================================
constexpr double kExplosionFactor = 100.0;
// Guards the explosion test when the loss at step 1 is (almost) exactly zero.
constexpr double kMinReferenceLoss = 1e-12;
constexpr int64_t kMinStepsForVerdict = 8;
constexpr double kRoseFactor = 1.5;
// Half: a run whose loss kept more than half its starting level has learnt little of what
// the model can; converging there means too small a learning rate or model.
constexpr double kHighShare = 0.5;
// 5% per quarter: less is within the epoch-to-epoch noise of minibatch training and reads as
// level on a log plot; more is a fall a person sees continuing.
constexpr double kStillFalling = 0.05;
// 15%: flat enough to look level on a log plot after a big fall, wide enough that epoch noise
// does not break a plateau; 30% names steps where the loss was visibly falling. 3%: about the
// epoch-to-epoch noise of minibatch training. A tenth of the fall: the last tenth of a curve's
// drop is where a person sees it bend into level.
constexpr double kBand = 0.15;
constexpr double kMinBand = 0.03;
constexpr double kBandShare = 0.1;
// Below 0.5% per quarter (2% in a run) a still-high loss is flat, not crawling.
constexpr double kCrawl = 0.005;
// Four median deviations: about 2.7 standard deviations of the epoch-to-epoch noise.
constexpr double kNoiseWidths = 4.0;
// A slope fitted to a quarter of the points has an error of about one noise width; twice
// that is a fall, not a wobble.
constexpr double kSignificantNoise = 2.0;
// Losses are clamped to this before taking logs (a loss of exactly 0 is a perfect fit).
constexpr double kLogFloor = 1e-30;

std::string Number(double value) { return absl::StrFormat("%.4g", value); }

std::string Percent(double fraction) {
  const double percent = 100.0 * fraction;
  return percent < 1.0 ? absl::StrFormat("%.1f%%", percent) : absl::StrFormat("%.0f%%", percent);
}

// A band of half-width `log_band` around a level: "15%", or "a factor of 2.1" when wide.
std::string BandText(double log_band) {
  const double factor = std::exp(log_band);
  return factor < 2.0 ? Percent(factor - 1.0) : absl::StrFormat("a factor of %.2g", factor);
}

double Log(double loss) { return std::log(std::max(loss, kLogFloor)); }

double Median(std::vector<double> values) {
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  return 0.5 * (upper + *std::max_element(values.begin(), values.begin() + mid));
}

// "0.381 at step 250 (epoch 5)", "0.381 averaged over epochs 5-8 (to step 400)",
// "0.381 averaged over steps 201-250".
std::string Describe(const CurvePoint& p, bool epochs) {
  const std::string value = Number(p.loss);
  if (epochs) {
    if (p.first_item == p.last_item) {
      return absl::StrCat(value, " at step ", p.last_step, " (epoch ", p.last_item, ")");
    }
    return absl::StrCat(value, " averaged over epochs ", p.first_item, "-", p.last_item,
                        " (to step ", p.last_step, ")");
  }
  if (p.first_item == p.last_item) return absl::StrCat(value, " at step ", p.last_step);
  return absl::StrCat(value, " averaged over steps ", p.first_item, "-", p.last_item);
}

std::string RateAdvice(double learning_rate, bool too_high) {
  return too_high ? absl::StrFormat("The learning rate (%g) is probably too high; try %g or lower.",
                                    learning_rate, learning_rate / 10.0)
                  : absl::StrFormat("The learning rate (%g) is probably too low; try %g.",
                                    learning_rate, learning_rate * 10.0);
}

Diagnosis HardDivergence(const LossCurve& curve) {
  const int64_t at = curve.diverged_step;
  const double loss = curve.diverged_loss;
  const std::string what =
      std::isnan(loss)   ? "the loss became NaN"
      : std::isinf(loss) ? "the loss became infinite"
                         : absl::StrCat("the loss reached ", Number(loss), ", over ",
                                        Number(kExplosionFactor), " times its value at step 1 (",
                                        Number(curve.first_loss), ")");
  if (at == 1) {
    return {Verdict::kDiverged, at,
            absl::StrCat("Diverged at step 1: ", what,
                         " before any update; check the features and targets for extreme "
                         "values.")};
  }
  return {Verdict::kDiverged, at,
          absl::StrCat("Diverged at step ", at, ": ", what, ". ",
                       RateAdvice(curve.learning_rate, /*too_high=*/true))};
}

// The numbers rules 4-7 read, computed once.
struct Reading {
  double start = 0.0;            // S
  std::string start_text;        // S, described: which number it is
  std::vector<double> smoothed;  // log loss, running median
  size_t half_window = 0;        // of the running median
  double log_final = 0.0;        // log F
  double recent_fall = 0.0;      // r
  double steady_fall = 0.0;      // the same over the whole curve
  double noise = 0.0;            // median |log loss - smoothed|
  double band = 0.0;             // half-width of the plateau band around log F
};

// The fall per quarter of a `steps`-step run that the Theil-Sen slope of log loss over
// `points[first..]` gives.
double FallPerQuarter(const std::vector<CurvePoint>& points, const std::vector<double>& logs,
                      size_t first, int64_t steps) {
  std::vector<double> slopes;
  for (size_t i = first; i < points.size(); ++i) {
    for (size_t j = i + 1; j < points.size(); ++j) {
      const double dx = static_cast<double>(points[j].last_step - points[i].last_step);
      if (dx > 0) slopes.push_back((logs[j] - logs[i]) / dx);
    }
  }
  const double slope = slopes.empty() ? 0.0 : Median(std::move(slopes));
  return 1.0 - std::exp(slope * static_cast<double>(steps) / 4.0);
}

Reading Read(const LossCurve& curve) {
  const std::vector<CurvePoint>& points = curve.points;
  const size_t n = points.size();
  std::vector<double> logs(n);
  for (size_t i = 0; i < n; ++i) logs[i] = Log(points[i].loss);

  Reading reading;
  if (curve.first_loss >= points.front().loss) {
    reading.start = curve.first_loss;
    reading.start_text =
        absl::StrCat("the loss at step 1 (before any update) was ", Number(curve.first_loss));
  } else {
    reading.start = points.front().loss;
    reading.start_text = absl::StrCat("it started from ", Describe(points.front(), curve.epochs));
  }
  const size_t half_window = std::max<size_t>(2, n / 20);
  reading.half_window = half_window;
  reading.smoothed.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const size_t begin = i >= half_window ? i - half_window : 0;
    const size_t end = std::min(n, i + half_window + 1);
    reading.smoothed[i] = Median({logs.begin() + begin, logs.begin() + end});
  }
  const size_t final_count = std::min(n, std::max<size_t>(3, n / 4));
  reading.log_final = Median({logs.end() - final_count, logs.end()});

  const size_t tail = std::min(n, std::max<size_t>(3, n / 4));
  reading.recent_fall = FallPerQuarter(points, logs, n - tail, curve.steps);
  reading.steady_fall = FallPerQuarter(points, logs, 0, curve.steps);
  std::vector<double> deviations(n);
  for (size_t i = 0; i < n; ++i) deviations[i] = std::fabs(logs[i] - reading.smoothed[i]);
  reading.noise = Median(std::move(deviations));
  const double fall = Log(reading.start) - reading.log_final;
  reading.band = std::max(
      std::clamp(kBandShare * fall, std::log1p(kMinBand), std::log1p(kBand)),
      kNoiseWidths * reading.noise);
  return reading;
}

// Rules 6 and 7b: the first point from which the smoothed curve stays within the band around
// F and whose own value is within it too.
size_t PlateauStart(const LossCurve& curve, const Reading& reading) {
  const size_t n = curve.points.size();
  // The running median's last points see only one side of their window; the final level
  // already stands for them.
  size_t start = n - std::min(n - 1, reading.half_window);
  while (start > 0 && std::fabs(reading.smoothed[start - 1] - reading.log_final) <= reading.band) {
    --start;
  }
  while (start + 1 < n && std::fabs(Log(curve.points[start].loss) - reading.log_final) > reading.band) {
    ++start;
  }
  return start;
}

}  // namespace

bool IsExplosion(double loss, double first_loss) {
  const double reference = std::max(std::fabs(first_loss), kMinReferenceLoss);
  return !std::isfinite(loss) || loss > kExplosionFactor * reference;
}

Diagnosis ReadLossCurve(const LossCurve& curve) {
  if (curve.diverged_step != 0) return HardDivergence(curve);
  if (curve.steps < kMinStepsForVerdict || curve.points.size() < 2) {
    return {Verdict::kNone, curve.steps,
            absl::StrCat("Too early to tell after ", curve.steps, " step",
                         curve.steps == 1 ? "" : "s", ".")};
  }

  const Reading reading = Read(curve);
  const bool epochs = curve.epochs;
  const std::string subject = epochs ? "the epoch-mean train loss" : "the train loss";
  const CurvePoint& last = curve.points.back();
  const double start = reading.start;
  const double final_level = std::exp(reading.log_final);
  const std::string& from_start = reading.start_text;
  const std::string per_quarter =
      absl::StrCat(Percent(reading.recent_fall), " per quarter of the run (",
                   std::max<int64_t>(1, curve.steps / 4), " steps)");

  // Rule 4.
  if (final_level > kRoseFactor * start) {
    return {Verdict::kDiverged, curve.steps,
            absl::StrCat("Diverged: ", subject, " rose to ", Describe(last, epochs), ", over ",
                         Number(kRoseFactor), " times where it started; ", from_start, ". ",
                         RateAdvice(curve.learning_rate, /*too_high=*/true))};
  }
  // Rule 5.
  if (reading.recent_fall > kStillFalling &&
      -std::log1p(-reading.recent_fall) > kSignificantNoise * reading.noise) {
    return {Verdict::kLearning, curve.steps,
            absl::StrCat("Learning: ", subject, " was still falling about ", per_quarter,
                         " when training ended, at ", Describe(last, epochs), "; ", from_start,
                         ". More epochs should lower it further.")};
  }
  const std::string ended = absl::StrCat("where it ended, ", Describe(last, epochs));
  const size_t plateau = PlateauStart(curve, reading);
  const CurvePoint& flat_from = curve.points[plateau];
  const std::string band = BandText(reading.band);
  // Rule 6.
  if (final_level <= kHighShare * start) {
    return {Verdict::kConverged, flat_from.last_step,
            absl::StrCat("Converged at step ", flat_from.last_step, ": from there on ", subject,
                         " stayed within ", band, " of ", ended, "; it was ",
                         Describe(flat_from, epochs), ", and ", from_start, ".")};
  }
  const std::string fallen = Percent(std::max(0.0, 1.0 - last.loss / start));
  // Rule 7a.
  const double whole_fall = reading.smoothed.front() - reading.log_final;
  if (std::max(reading.recent_fall, reading.steady_fall) > kCrawl && reading.recent_fall >= 0 &&
      whole_fall > kNoiseWidths * reading.noise) {
    return {Verdict::kStalled, 0,
            absl::StrCat("Stalled: ", subject, " is crawling, down about ", per_quarter,
                         " and ", fallen, " in all, to ", Describe(last, epochs), "; ",
                         from_start, ". ", RateAdvice(curve.learning_rate, /*too_high=*/false))};
  }
  const std::string low_rate_or_small_model =
      absl::StrFormat("The learning rate (%g) may be too low, or the model too small for the data.",
                      curve.learning_rate);
  // Rule 7b.
  if (reading.smoothed.front() - reading.log_final > std::log1p(kBand)) {
    return {Verdict::kStalled, flat_from.last_step,
            absl::StrCat("Stalled at step ", flat_from.last_step, ": from there on ", subject,
                         " stayed within ", band, " of ", ended, ", only ", fallen,
                         " below the start; it was ", Describe(flat_from, epochs), ", and ",
                         from_start, ". ", low_rate_or_small_model)};
  }
  // Rule 7c.
  return {Verdict::kStalled, 0,
          absl::StrCat("Stalled: ", subject, " stayed flat, within ", Percent(kBand), " of ",
                       ended, ", from ", Describe(curve.points.front(), epochs), " on; ",
                       from_start, ". ", low_rate_or_small_model)};
}

}  // namespace descent
