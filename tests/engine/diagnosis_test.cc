#include "engine/diagnosis.h"

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/dataset.h"
#include "engine/trainer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/allocation_counter.h"
#include "tests/testing/status_matchers.h"

namespace descent {
namespace {

using ::descent::testing::StatusIs;
using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Feeds loss(step) for steps 1..steps.
Diagnosis Feed(DiagnosisTracker& tracker, int64_t steps,
               const std::function<double(int64_t)>& loss) {
  for (int64_t s = 1; s <= steps; ++s) tracker.ObserveStep(s, loss(s));
  return tracker.Current();
}

// A deterministic wobble of +-amplitude, like minibatch noise.
double Wobble(int64_t step, double amplitude) {
  return amplitude * std::sin(static_cast<double>(step) * 2.399963);
}

TEST(DiagnosisTest, VerdictNames) {
  EXPECT_EQ(VerdictName(Verdict::kNone), "none");
  EXPECT_EQ(VerdictName(Verdict::kLearning), "learning");
  EXPECT_EQ(VerdictName(Verdict::kConverged), "converged");
  EXPECT_EQ(VerdictName(Verdict::kStalled), "stalled");
  EXPECT_EQ(VerdictName(Verdict::kDiverged), "diverged");
}

TEST(DiagnosisTest, NoStepsAndFewStepsAreTooEarly) {
  DiagnosisTracker tracker(0.01);
  EXPECT_EQ(tracker.Current().verdict, Verdict::kNone);
  const Diagnosis d = Feed(tracker, 7, [](int64_t s) { return 1.0 / s; });
  EXPECT_EQ(d.verdict, Verdict::kNone);
  EXPECT_THAT(d.message, HasSubstr("7 steps"));
  EXPECT_FALSE(tracker.diverged());
}

TEST(DiagnosisTest, NaNAtStepOneIsDivergedButNotBlamedOnTheLearningRate) {
  DiagnosisTracker tracker(0.01);
  tracker.ObserveStep(1, kNaN);
  EXPECT_TRUE(tracker.diverged());
  const Diagnosis d = tracker.Current();
  EXPECT_EQ(d.verdict, Verdict::kDiverged);
  EXPECT_EQ(d.step, 1);
  EXPECT_THAT(d.message, AllOf(HasSubstr("NaN"), HasSubstr("before any update"),
                               Not(HasSubstr("learning rate"))));
}

TEST(DiagnosisTest, InfiniteLossDivergesAndNamesTheLearningRate) {
  DiagnosisTracker tracker(0.5);
  const Diagnosis d = Feed(tracker, 5, [](int64_t s) { return s < 5 ? 1.0 : kInf; });
  EXPECT_TRUE(tracker.diverged());
  EXPECT_EQ(d.verdict, Verdict::kDiverged);
  EXPECT_EQ(d.step, 5);
  EXPECT_THAT(d.message, AllOf(HasSubstr("infinite"), HasSubstr("learning rate (0.5)"),
                               HasSubstr("too high"), HasSubstr("try 0.05")));
}

TEST(DiagnosisTest, ExplodingLossDivergesOnceAHundredTimesTheStart) {
  DiagnosisTracker tracker(3);
  // Doubling from 1: step 7 is 64 (not yet), step 8 is 128 (> 100 x 1).
  for (int64_t s = 1; s <= 7; ++s) {
    tracker.ObserveStep(s, std::pow(2.0, static_cast<double>(s - 1)));
    EXPECT_FALSE(tracker.diverged()) << s;
  }
  tracker.ObserveStep(8, 128.0);
  EXPECT_TRUE(tracker.diverged());
  const Diagnosis d = tracker.Current();
  EXPECT_EQ(d.step, 8);
  EXPECT_THAT(d.message, AllOf(HasSubstr("128"), HasSubstr("learning rate (3)")));
}

TEST(DiagnosisTest, ASpikeBelowTheExplosionFactorIsNotDivergence) {
  DiagnosisTracker tracker(0.01);
  Feed(tracker, 200, [](int64_t s) { return s == 3 ? 50.0 : 1.0 / std::sqrt(s); });
  EXPECT_FALSE(tracker.diverged());
  EXPECT_NE(tracker.Current().verdict, Verdict::kDiverged);
}

TEST(DiagnosisTest, DecayToALowPlateauConvergesWhereItStaysWithinTheBandOfItsEnd) {
  DiagnosisTracker tracker(0.01);
  // 0.05 + 2 exp(-t/50): within 15% of the floor (0.0075 above it) from t = 50 ln(267) = 279.
  const Diagnosis d = Feed(tracker, 1000, [](int64_t s) {
    return 0.05 + 2.0 * std::exp(-static_cast<double>(s) / 50.0) + Wobble(s, 0.002);
  });
  EXPECT_EQ(d.verdict, Verdict::kConverged);
  EXPECT_GE(d.step, 265);
  EXPECT_LE(d.step, 300);
  EXPECT_THAT(d.message, AllOf(HasSubstr(absl::StrCat("Converged at step ", d.step)),
                               HasSubstr("within 15% of where it ended")));
}

TEST(DiagnosisTest, SlowSteadyDecayIsStillLearning) {
  DiagnosisTracker tracker(0.01);
  const Diagnosis d = Feed(tracker, 1000, [](int64_t s) {
    return 10.0 * std::exp(-static_cast<double>(s) / 2000.0) + Wobble(s, 0.05);
  });
  EXPECT_EQ(d.verdict, Verdict::kLearning);
  EXPECT_EQ(d.step, 1000);
  EXPECT_THAT(d.message, HasSubstr("still falling"));
}

TEST(DiagnosisTest, FlatWhileHighIsStalledAndHintsAtALowLearningRate) {
  DiagnosisTracker tracker(1e-6);
  const Diagnosis d = Feed(tracker, 1000, [](int64_t s) { return 5.0 + Wobble(s, 0.2); });
  EXPECT_FALSE(tracker.diverged());
  EXPECT_EQ(d.verdict, Verdict::kStalled);
  EXPECT_LE(d.step, 100);  // flat from the start
  EXPECT_THAT(d.message, AllOf(HasSubstr("learning rate (1e-06)"), HasSubstr("too low"),
                               HasSubstr("model too small")));
}

TEST(DiagnosisTest, APlateauAfterASmallFallIsStalledWhereItTurnedFlat) {
  // Falls 30% (less than the half a convergence needs) and flattens. The band is a tenth of
  // that fall on the log scale (3.6%): 0.3 exp(-t/20) < 0.025 from t = 50.
  DiagnosisTracker tracker(0.001);
  const Diagnosis d = Feed(
      tracker, 400, [](int64_t s) { return 0.7 + 0.3 * std::exp(-static_cast<double>(s) / 20.0); });
  EXPECT_EQ(d.verdict, Verdict::kStalled);
  EXPECT_GE(d.step, 45);
  EXPECT_LE(d.step, 70);
  EXPECT_THAT(d.message, HasSubstr(absl::StrCat("Stalled at step ", d.step)));
}

TEST(DiagnosisTest, ASteadySlowFallWhileHighIsCrawlingWithNoStep) {
  // 2% per quarter of the run, 8% in all: nothing happens at any particular step.
  DiagnosisTracker tracker(1e-7);
  const Diagnosis d = Feed(
      tracker, 800, [](int64_t s) { return 17.0 * (1.0 - 0.08 * static_cast<double>(s) / 800.0); });
  EXPECT_EQ(d.verdict, Verdict::kStalled);
  EXPECT_EQ(d.step, 0);
  EXPECT_THAT(d.message, AllOf(HasSubstr("crawling"), HasSubstr("2% per quarter of the run"),
                               HasSubstr("learning rate (1e-07) is probably too low; try 1e-06")));
}

TEST(DiagnosisTest, ARelativeFallAtATinyLevelIsStillLearning) {
  // From 0.7 down to ~0.01, then halving every 280 steps: tiny in absolute terms, but on a
  // log plot the curve still falls 39% per quarter of the run.
  DiagnosisTracker tracker(0.01);
  const Diagnosis d = Feed(tracker, 800, [](int64_t s) {
    return s < 100 ? 0.7 - 0.69 * static_cast<double>(s) / 100.0
                   : 0.01 * std::exp(-static_cast<double>(s - 100) / 400.0);
  });
  EXPECT_EQ(d.verdict, Verdict::kLearning);
  EXPECT_EQ(d.step, 800);
  EXPECT_THAT(d.message, HasSubstr("still falling about 39% per quarter of the run (200 steps)"));
}

TEST(DiagnosisTest, ALossEndingWellAboveItsStartIsReportedDivergedWithoutStopping) {
  DiagnosisTracker tracker(0.3);
  const Diagnosis d = Feed(tracker, 300, [](int64_t s) {
    return 1.0 + 2.0 * static_cast<double>(s) / 300.0 + Wobble(s, 0.3);
  });
  EXPECT_FALSE(tracker.diverged());  // not the hard signs: the trainer keeps going
  EXPECT_EQ(d.verdict, Verdict::kDiverged);
  EXPECT_THAT(d.message, AllOf(HasSubstr("rose"), HasSubstr("learning rate (0.3)")));
}

TEST(DiagnosisTest, EpochMeansLocateThePlateauOnAnEpochBoundaryAndAreQuoted) {
  // 20 epochs of 10 steps whose step losses alternate wildly around a decaying mean; the
  // epoch means are smooth, so the plateau is found at an epoch's last step: within 15% of
  // the floor (0.1) from epoch 8, where 3 exp(-8/1.5) = 0.0145.
  DiagnosisTracker tracker(0.01);
  for (int epoch = 1; epoch <= 20; ++epoch) {
    const double mean = 0.1 + 3.0 * std::exp(-epoch / 1.5);
    for (int i = 0; i < 10; ++i) {
      const int64_t step = (epoch - 1) * 10 + i + 1;
      tracker.ObserveStep(step, mean * (i % 2 == 0 ? 1.6 : 0.4));
    }
    tracker.ObserveEpoch(epoch, epoch * 10, mean);
  }
  const Diagnosis d = tracker.Current();
  EXPECT_EQ(d.verdict, Verdict::kConverged);
  EXPECT_EQ(d.step, 80);
  const double epoch8 = 0.1 + 3.0 * std::exp(-8 / 1.5);
  EXPECT_THAT(d.message, AllOf(HasSubstr("epoch-mean train loss"),
                               HasSubstr(absl::StrFormat("was %.4g at step 80 (epoch 8)", epoch8)),
                               HasSubstr("at step 200 (epoch 20)")));
}

TEST(DiagnosisTest, MemoryStaysBoundedAndObservingNeverAllocates) {
  DiagnosisTracker tracker(0.01);
  const int64_t before = descent::testing::AllocationsOnThisThread();
  for (int64_t s = 1; s <= 1'000'000; ++s) tracker.ObserveStep(s, 1.0 / std::sqrt(s));
  for (int e = 1; e <= 1000; ++e) tracker.ObserveEpoch(e, e * 1000, 1.0 / e);
  EXPECT_EQ(descent::testing::AllocationsOnThisThread(), before);
  EXPECT_LE(tracker.state().step_curve.means.size(), 128u);
  EXPECT_LE(tracker.state().epoch_curve.means.size(), 128u);
  EXPECT_EQ(tracker.state().steps, 1'000'000);
}

TEST(DiagnosisTest, LoadStateContinuesExactly) {
  const auto loss = [](int64_t s) { return 0.2 + 1.0 / std::sqrt(s) + Wobble(s, 0.01); };
  DiagnosisTracker whole(0.01);
  Feed(whole, 700, loss);
  DiagnosisTracker first(0.01);
  Feed(first, 333, loss);
  DiagnosisTracker resumed(0.01);
  ASSERT_OK(resumed.LoadState(first.state()));
  for (int64_t s = 334; s <= 700; ++s) resumed.ObserveStep(s, loss(s));
  EXPECT_EQ(resumed.state().step_curve.means, whole.state().step_curve.means);
  EXPECT_EQ(resumed.Current().message, whole.Current().message);
}

TEST(DiagnosisTest, LoadStateRejectsAnInconsistentState) {
  DiagnosisState state;
  state.step_curve.means = {1.0, 2.0};
  state.step_curve.last_steps = {1};
  DiagnosisTracker tracker(0.01);
  EXPECT_THAT(tracker.LoadState(state),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("diagnosis.step_curve")));
  EXPECT_EQ(tracker.state().step_curve.means.size(), 0u);
}

// End to end: plain SGD on house_prices, the seed's learning-rate lesson.
TrainResult TrainHousePrices(double learning_rate, int epochs) {
  absl::StatusOr<Dataset> data = MakeBuiltinDataset("house_prices", {.samples = 512, .seed = 1});
  EXPECT_TRUE(data.ok()) << data.status();
  TrainSpec spec;
  spec.model.hidden_layers = {{.units = 32, .activation = Activation::kRelu}};
  spec.loss.kind = LossKind::kMeanSquaredError;
  spec.optimizer.kind = OptimizerKind::kSgd;
  spec.optimizer.learning_rate = learning_rate;
  spec.training.epochs = epochs;
  spec.training.batch_size = 32;
  spec.training.seed = 3;
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(spec, *std::move(data));
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  return (*trainer)->Run(nullptr);
}

TEST(DiagnosisEndToEndTest, LearningRateTenDivergesAndStopsEarly) {
  const TrainResult result = TrainHousePrices(10.0, 20);
  EXPECT_EQ(result.reason, StopReason::kDiverged);
  EXPECT_LT(result.steps, 20);  // stopped within the first epoch's 16 steps or so
  EXPECT_EQ(result.diagnosis.verdict, Verdict::kDiverged);
  EXPECT_EQ(result.diagnosis.step, result.steps);
  EXPECT_THAT(result.diagnosis.message,
              AllOf(HasSubstr("learning rate (10)"), HasSubstr("too high")));
}

TEST(DiagnosisEndToEndTest, LearningRateOneMillionthStalls) {
  const TrainResult result = TrainHousePrices(1e-6, 20);
  EXPECT_EQ(result.reason, StopReason::kCompleted);
  EXPECT_EQ(result.diagnosis.verdict, Verdict::kStalled) << result.diagnosis.message;
  EXPECT_THAT(result.diagnosis.message, HasSubstr("learning rate (1e-06)"));
}

TEST(DiagnosisEndToEndTest, AGoodLearningRateLearnsOrConverges) {
  const TrainResult result = TrainHousePrices(0.01, 20);
  EXPECT_EQ(result.reason, StopReason::kCompleted);
  EXPECT_THAT(result.diagnosis.verdict, AnyOf(Verdict::kConverged, Verdict::kLearning))
      << result.diagnosis.message;
}

}  // namespace
}  // namespace descent
