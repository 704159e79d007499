#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <ostream>
#include <string>

#include "engine/optimizer.h"
#include "engine/train_spec.h"
#include "gtest/gtest.h"
#include "tests/engine/reference/schedule_reference.inc"

namespace descent::reference {
// Failure messages name the case instead of dumping its bytes.
void PrintTo(const ScheduleReference& ref, std::ostream* os) { *os << ref.name; }
}  // namespace descent::reference

namespace descent {
namespace {

class TorchScheduleReferenceTest : public ::testing::TestWithParam<reference::ScheduleReference> {};

TEST_P(TorchScheduleReferenceTest, EveryStepMatchesPytorch) {
  const reference::ScheduleReference& ref = GetParam();
  ASSERT_EQ(ref.lrs.size(), static_cast<size_t>(ref.total_steps));
  for (int64_t step = 0; step < ref.total_steps; ++step) {
    // PyTorch's chainable forms multiply step by step; the closed forms agree to rounding.
    EXPECT_NEAR(ScheduledLearningRate(ref.spec, ref.base_lr, step, ref.total_steps), ref.lrs[step],
                1e-12 * std::max(ref.base_lr, ref.lrs[step]))
        << "step " << step;
  }
}

INSTANTIATE_TEST_SUITE_P(Torch, TorchScheduleReferenceTest,
                         ::testing::ValuesIn(reference::ScheduleReferences()),
                         [](const ::testing::TestParamInfo<reference::ScheduleReference>& info) {
                           return std::string(info.param.name);
                         });

TEST(ScheduleTest, ConstantIsTheBaseRateAtEveryStep) {
  const ScheduleSpec constant;
  for (int64_t step : {0, 1, 999, 1000000}) {
    EXPECT_EQ(ScheduledLearningRate(constant, 0.05, step, 1000), 0.05);
  }
}

TEST(ScheduleTest, StepDecaysAtMultiplesOfStepSize) {
  const ScheduleSpec spec{.kind = ScheduleKind::kStep, .step_size = 10, .gamma = 0.5};
  EXPECT_EQ(ScheduledLearningRate(spec, 0.8, 9, 100), 0.8);
  EXPECT_EQ(ScheduledLearningRate(spec, 0.8, 10, 100), 0.4);
  EXPECT_EQ(ScheduledLearningRate(spec, 0.8, 35, 100), 0.1);
}

TEST(ScheduleTest, CosineEndsAtEtaMinAfterTheWholeRunOrTMax) {
  const ScheduleSpec whole_run{.kind = ScheduleKind::kCosine, .eta_min = 0.001};
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(whole_run, 0.1, 0, 200), 0.1);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(whole_run, 0.1, 100, 200), (0.1 + 0.001) / 2);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(whole_run, 0.1, 200, 200), 0.001);

  // t_max shorter than the run: past t_max the cosine rises again, as in PyTorch.
  const ScheduleSpec short_period{.kind = ScheduleKind::kCosine, .t_max = 50};
  EXPECT_NEAR(ScheduledLearningRate(short_period, 0.1, 50, 200), 0.0, 1e-17);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(short_period, 0.1, 75, 200),
                   0.1 * (1 + std::cos(std::numbers::pi * 1.5)) / 2);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(short_period, 0.1, 100, 200), 0.1);
}

TEST(ScheduleTest, WarmupRampsLinearlyThenHandsOverAtStepZeroOfTheSchedule) {
  const ScheduleSpec spec{.kind = ScheduleKind::kExponential,
                          .gamma = 0.5,
                          .warmup_steps = 4,
                          .warmup_start_factor = 0.2};
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(spec, 1.0, 0, 100), 0.2);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(spec, 1.0, 2, 100), 0.6);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(spec, 1.0, 4, 100), 1.0);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(spec, 1.0, 6, 100), 0.25);

  // The cosine's default period is what is left of the run after the warm-up.
  const ScheduleSpec cosine{.kind = ScheduleKind::kCosine, .warmup_steps = 10};
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(cosine, 1.0, 10, 110), 1.0);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(cosine, 1.0, 60, 110), 0.5);
  EXPECT_NEAR(ScheduledLearningRate(cosine, 1.0, 110, 110), 0.0, 1e-16);
}

}  // namespace
}  // namespace descent
