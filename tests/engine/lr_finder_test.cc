#include "engine/lr_finder.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "engine/dataset.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace descent {
namespace {

using ::descent::testing::StatusIs;
using ::testing::HasSubstr;

// Scripted curves are fed to the range test at the rates of `find`'s schedule.
std::vector<LrFindPoint> Feed(const LrFindSpec& find, const std::vector<double>& losses,
                              bool* diverged = nullptr) {
  LrRangeTest test(find);
  for (size_t i = 0; i < losses.size(); ++i) {
    if (!test.Observe(LrFindLearningRate(find, static_cast<int64_t>(i) + 1), losses[i])) break;
  }
  if (diverged != nullptr) *diverged = test.diverged();
  return test.points();
}

// A range test's typical curve against log10(rate): level at 2 below 1e-4, a fall to 0.2 by
// 1e-2 (log-linear), level to 1e-1, then an explosion.
double Curve(double learning_rate) {
  const double x = std::log10(learning_rate);
  if (x < -4) return 2.0;
  if (x < -2) return 2.0 - 0.9 * (x + 4);
  if (x < -1) return 0.2;
  return 0.2 * std::pow(10.0, 3 * (x + 1));
}

std::vector<double> CurveLosses(const LrFindSpec& find) {
  std::vector<double> losses;
  for (int64_t step = 1; step <= find.steps; ++step) {
    losses.push_back(Curve(LrFindLearningRate(find, step)));
  }
  return losses;
}

TEST(LrFindScheduleTest, GrowsExponentiallyFromMinToMaxOverTheSteps) {
  const LrFindSpec find{.min_learning_rate = 1e-6, .max_learning_rate = 1.0, .steps = 61};
  EXPECT_DOUBLE_EQ(LrFindLearningRate(find, 1), 1e-6);
  EXPECT_NEAR(LrFindLearningRate(find, 61), 1.0, 1e-12);
  // A tenfold rise every 10 steps: a constant ratio between neighbours.
  for (int64_t step = 1; step < 61; ++step) {
    EXPECT_NEAR(LrFindLearningRate(find, step + 1) / LrFindLearningRate(find, step),
                std::pow(10.0, 0.1), 1e-12);
  }
  EXPECT_NEAR(LrFindLearningRate(find, 31), 1e-3, 1e-15);
}

TEST(LrFindScheduleTest, SmoothingIsTheBiasCorrectedMovingAverage) {
  const std::vector<double> losses = {3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0};
  SmoothedLoss smoothed;
  for (size_t n = 1; n <= losses.size(); ++n) {
    // The definition: sum_k (1 - b) b^(n-k) x_k / (1 - b^n), a weighted mean.
    double weighted = 0.0;
    for (size_t k = 1; k <= n; ++k) {
      weighted += (1 - kLrFindSmoothing) * std::pow(kLrFindSmoothing, n - k) * losses[k - 1];
    }
    EXPECT_NEAR(smoothed.Add(losses[n - 1]), weighted / (1 - std::pow(kLrFindSmoothing, n)),
                1e-12)
        << "after " << n << " losses";
  }
  SmoothedLoss constant;
  for (int i = 0; i < 50; ++i) EXPECT_NEAR(constant.Add(0.5), 0.5, 1e-12);
}

TEST(LrRangeTestTest, StopsAtTheFirstStepWhoseSmoothedLossPassesTheMultipleOfItsBest) {
  const LrFindSpec find{.steps = 100, .divergence_multiple = 4.0};
  // Falls to 1, then climbs 20% a step.
  std::vector<double> losses;
  for (int i = 0; i < 30; ++i) losses.push_back(10.0 - 0.3 * i);
  for (int i = 0; i < 70; ++i) losses.push_back(1.0 * std::pow(1.2, i));
  bool diverged = false;
  const std::vector<LrFindPoint> points = Feed(find, losses, &diverged);
  EXPECT_TRUE(diverged);
  ASSERT_LT(points.size(), losses.size());
  // Recomputed by hand: the best before the last point, the last one above 4x it.
  double best = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i + 1 < points.size(); ++i) {
    best = std::min(best, points[i].smoothed_loss);
    EXPECT_LE(points[i].smoothed_loss, 4.0 * best) << "step " << points[i].step;
  }
  EXPECT_GT(points.back().smoothed_loss, 4.0 * best);
  for (size_t i = 0; i < points.size(); ++i) {
    EXPECT_EQ(points[i].step, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(points[i].loss, losses[i]);
    EXPECT_EQ(points[i].learning_rate, LrFindLearningRate(find, points[i].step));
  }
}

TEST(LrRangeTestTest, ALowerMultipleStopsSooner) {
  std::vector<double> losses;
  for (int i = 0; i < 100; ++i) losses.push_back(1.0 + 0.05 * i * i);
  const size_t at4 = Feed({.steps = 100, .divergence_multiple = 4.0}, losses).size();
  const size_t at2 = Feed({.steps = 100, .divergence_multiple = 2.0}, losses).size();
  EXPECT_LT(at2, at4);
}

TEST(LrRangeTestTest, ANonFiniteLossEndsTheTestAsDiverged) {
  bool diverged = false;
  const std::vector<LrFindPoint> points =
      Feed({.steps = 50}, {1.0, 0.9, 0.8, std::numeric_limits<double>::quiet_NaN(), 0.5},
           &diverged);
  EXPECT_TRUE(diverged);
  EXPECT_EQ(points.size(), 4u);
}

TEST(LrRangeTestTest, AFallingCurveRunsEveryStep) {
  std::vector<double> losses;
  for (int i = 0; i < 40; ++i) losses.push_back(5.0 / (1 + i));
  bool diverged = true;
  EXPECT_EQ(Feed({.steps = 40}, losses, &diverged).size(), 40u);
  EXPECT_FALSE(diverged);
}

TEST(SuggestLearningRateTest, TheSteepestDecadeSitsInsideTheFallAndTheCandidatesFollowTheirRules) {
  const LrFindSpec find{.min_learning_rate = 1e-7, .max_learning_rate = 10, .steps = 100};
  const std::vector<LrFindPoint> points = Feed(find, CurveLosses(find));
  absl::StatusOr<LrSuggestion> suggestion = SuggestLearningRate(points, find.steps);
  ASSERT_OK(suggestion);
  const int64_t first_read = find.steps / 10;                          // 0-based
  const int64_t end_read = static_cast<int64_t>(points.size()) - 5;  // exclusive

  const LrCandidate& decade = suggestion->suggestion;
  EXPECT_EQ(decade.rule, LrRule::kSteepestDecade);
  // By hand: 100 steps over 8 decades are 12.4 steps a decade, so windows of 12 points; the
  // one whose smoothed loss falls by the largest factor, and its middle point.
  double best_ratio = std::numeric_limits<double>::infinity();
  int64_t best_start = 0;
  for (int64_t i = first_read; i + 12 < end_read; ++i) {
    const double ratio = points[i + 12].smoothed_loss / points[i].smoothed_loss;
    if (ratio < best_ratio) best_ratio = ratio, best_start = i;
  }
  EXPECT_EQ(decade.step, points[best_start + 6].step);
  EXPECT_EQ(decade.learning_rate, points[best_start + 6].learning_rate);
  // The smoothed curve lags the scripted one a little; the rate is inside the fall (1e-4 ..
  // 1e-2), far below the explosion.
  EXPECT_GT(decade.learning_rate, 3e-4);
  EXPECT_LT(decade.learning_rate, 3e-2);
  EXPECT_THAT(decade.reason, HasSubstr("steepest decade"));

  ASSERT_EQ(suggestion->candidates.size(), 3u);
  const LrCandidate& valley = suggestion->candidates[0];
  EXPECT_EQ(valley.rule, LrRule::kValley);
  EXPECT_GT(valley.learning_rate, 3e-4);
  EXPECT_LT(valley.learning_rate, 3e-2);
  EXPECT_EQ(valley.learning_rate, points[valley.step - 1].learning_rate);
  EXPECT_THAT(valley.reason, HasSubstr("falls longest"));

  const LrCandidate& steepest = suggestion->candidates[1];
  EXPECT_EQ(steepest.rule, LrRule::kSteepest);
  // By hand: the largest fall per log-rate between neighbours, among the points read.
  double best_slope = std::numeric_limits<double>::infinity();
  int64_t best_step = 0;
  for (int64_t i = first_read; i + 1 < end_read; ++i) {
    const double slope = (points[i + 1].smoothed_loss - points[i].smoothed_loss) /
                         std::log(points[i + 1].learning_rate / points[i].learning_rate);
    if (slope < best_slope) best_slope = slope, best_step = points[i].step;
  }
  EXPECT_EQ(steepest.step, best_step);
  EXPECT_EQ(steepest.learning_rate, points[best_step - 1].learning_rate);

  const LrCandidate& minimum = suggestion->candidates[2];
  EXPECT_EQ(minimum.rule, LrRule::kMinimum);
  const LrFindPoint& lowest = points[minimum.step - 1];
  for (int64_t i = first_read; i < end_read; ++i) {
    EXPECT_LE(lowest.smoothed_loss, points[i].smoothed_loss);
  }
  EXPECT_DOUBLE_EQ(minimum.learning_rate, lowest.learning_rate / 10);
}

TEST(SuggestLearningRateTest, TheSteepestDecadeIgnoresANoisyDipThatFoolsTheSteepestSlope) {
  const LrFindSpec find{.min_learning_rate = 1e-7, .max_learning_rate = 10, .steps = 100};
  std::vector<double> losses = CurveLosses(find);
  // One wild minibatch on the plateau, early in the range: a sharp drop right after it.
  losses[20] = 40.0;
  const std::vector<LrFindPoint> points = Feed(find, losses);
  absl::StatusOr<LrSuggestion> suggestion = SuggestLearningRate(points, find.steps);
  ASSERT_OK(suggestion);
  EXPECT_LT(suggestion->candidates[1].learning_rate, 1e-4);  // steepest slope: on the plateau
  EXPECT_GT(suggestion->suggestion.learning_rate, 3e-4);     // steepest decade: in the fall
  EXPECT_LT(suggestion->suggestion.learning_rate, 3e-2);
}

// A minibatch curve whose flat start is noisy (as the SGD examples' are): the steepest decade
// still lies in the fall.
TEST(SuggestLearningRateTest, ANoisyFlatStartLeavesTheSteepestDecadeInTheFall) {
  const LrFindSpec find{.min_learning_rate = 1e-7, .max_learning_rate = 10, .steps = 100};
  std::vector<double> losses = CurveLosses(find);
  // Alternating noise of +-30% on the plateau below 1e-4 (the first 37 steps).
  for (size_t i = 0; i < losses.size(); ++i) {
    if (LrFindLearningRate(find, static_cast<int64_t>(i) + 1) < 1e-4) {
      losses[i] *= i % 2 == 0 ? 1.3 : 0.7;
    }
  }
  const std::vector<LrFindPoint> points = Feed(find, losses);
  absl::StatusOr<LrSuggestion> suggestion = SuggestLearningRate(points, find.steps);
  ASSERT_OK(suggestion);
  EXPECT_GT(suggestion->suggestion.learning_rate, 3e-4);
  EXPECT_LT(suggestion->suggestion.learning_rate, 3e-2);
}

TEST(SuggestLearningRateTest, ATestThatDivergedAtOnceHasNoSuggestion) {
  const LrFindSpec find{.steps = 100};
  std::vector<double> losses;
  for (int i = 0; i < 100; ++i) losses.push_back(std::pow(2.0, i));
  const std::vector<LrFindPoint> points = Feed(find, losses);
  ASSERT_LT(points.size(), 17u);
  EXPECT_THAT(SuggestLearningRate(points, find.steps),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("lr_find.min_learning_rate")));
}

TEST(LrFindSpecTest, ValidateNamesTheField) {
  EXPECT_OK(Validate(LrFindSpec{}));
  EXPECT_THAT(Validate({.min_learning_rate = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lr_find.min_learning_rate")));
  EXPECT_THAT(Validate({.min_learning_rate = 1e-3, .max_learning_rate = 1e-4}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lr_find.max_learning_rate")));
  EXPECT_THAT(Validate({.steps = 5}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lr_find.steps")));
  EXPECT_THAT(Validate({.steps = kMaxLrFindSteps + 1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lr_find.steps")));
  EXPECT_THAT(Validate({.divergence_multiple = 1}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("lr_find.divergence_multiple")));
}

// Records the rates the trainer used; optionally cancels at a step.
class RateRecorder : public TrainingObserver {
 public:
  explicit RateRecorder(int64_t cancel_at = 0) : cancel_at_(cancel_at) {}
  bool OnStep(const StepEvent& event) override {
    rates.push_back(event.learning_rate);
    return event.step != cancel_at_;
  }
  std::vector<double> rates;

 private:
  int64_t cancel_at_;
};

std::unique_ptr<Trainer> RangeTrainer(const LrFindSpec& find) {
  TrainSpec spec;
  spec.model.hidden_layers = {{.units = 8}};
  spec.optimizer.kind = OptimizerKind::kSgd;
  spec.optimizer.learning_rate = 0.5;  // replaced by the range
  spec.training.batch_size = 16;
  spec.training.seed = 3;
  absl::StatusOr<Dataset> data = MakeBuiltinDataset("house_prices", {.samples = 200, .seed = 1});
  EXPECT_TRUE(data.ok());
  const int64_t steps_per_epoch = 13;  // 200 rows in batches of 16
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(LrFindTrainSpec(spec, find, steps_per_epoch), *std::move(data));
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  if (!trainer.ok()) return nullptr;
  EXPECT_EQ((*trainer)->steps_per_epoch(), steps_per_epoch);
  return *std::move(trainer);
}

TEST(RunLrFindTest, TrainsAtTheScheduleRatesUntilTheLossDiverges) {
  const LrFindSpec find{.min_learning_rate = 1e-6, .max_learning_rate = 10, .steps = 60};
  std::unique_ptr<Trainer> trainer = RangeTrainer(find);
  ASSERT_NE(trainer, nullptr);
  RateRecorder recorder;
  const LrFindRun run = RunLrFind(*trainer, find, &recorder);
  // SGD at rates up to 10 on unscaled house prices blows up well before the end.
  EXPECT_EQ(run.reason, StopReason::kDiverged);
  ASSERT_EQ(run.points.size(), recorder.rates.size());
  ASSERT_LT(run.points.size(), 60u);
  for (size_t i = 0; i < run.points.size(); ++i) {
    EXPECT_EQ(recorder.rates[i], LrFindLearningRate(find, static_cast<int64_t>(i) + 1));
    EXPECT_EQ(run.points[i].learning_rate, recorder.rates[i]);
  }
}

TEST(RunLrFindTest, TheObserverCancelsIt) {
  const LrFindSpec find{.min_learning_rate = 1e-6, .max_learning_rate = 1e-3, .steps = 40};
  std::unique_ptr<Trainer> trainer = RangeTrainer(find);
  ASSERT_NE(trainer, nullptr);
  RateRecorder recorder(/*cancel_at=*/7);
  const LrFindRun run = RunLrFind(*trainer, find, &recorder);
  EXPECT_EQ(run.reason, StopReason::kCancelled);
  EXPECT_EQ(recorder.rates.size(), 7u);
}

TEST(RunLrFindTest, ARangeThatNeverDivergesRunsExactlyItsStepsAcrossEpochs) {
  const LrFindSpec find{.min_learning_rate = 1e-7, .max_learning_rate = 1e-5, .steps = 30};
  std::unique_ptr<Trainer> trainer = RangeTrainer(find);
  ASSERT_NE(trainer, nullptr);
  const LrFindRun run = RunLrFind(*trainer, find, nullptr);
  EXPECT_EQ(run.reason, StopReason::kCompleted);
  EXPECT_EQ(run.points.size(), 30u);  // 3 epochs of 13 steps hold them; the test stops at 30
}

}  // namespace
}  // namespace descent
