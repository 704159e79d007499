// ASHA and the median rule on scripted trial curves: which trials they stop, when, and why.
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/sweeps/early_stopping.h"

namespace descent::server {
namespace {

using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Optional;

TEST(AshaStopperTest, KeepsTheTopThirdAtEachRungOfTheValuesRecordedBefore) {
  AshaStopper asha(/*min_steps=*/100, /*reduction_factor=*/3, v1::MINIMIZE, "validation loss");
  // Reports below the first rung decide nothing.
  EXPECT_EQ(asha.Report(0, 50, 9.0), std::nullopt);
  // Rung 100: the first trial there always continues.
  EXPECT_EQ(asha.Report(0, 100, 1.0), std::nullopt);
  // One value before it: the cutoff is that value; worse stops, equal continues.
  EXPECT_THAT(asha.Report(1, 100, 2.0),
              Optional(Eq("stopped at step 100: validation loss 2 is above the top-1/3 cutoff 1 "
                          "of 1 trial at that step")));
  EXPECT_EQ(asha.Report(2, 100, 1.0), std::nullopt);
  // [1, 2, 1] before: the 1/3 quantile is 1.
  EXPECT_EQ(asha.Report(3, 100, 0.5), std::nullopt);
  // [0.5, 1, 1, 2]: the 1/3 quantile interpolates to 1.0; 1.05 is above it.
  EXPECT_THAT(asha.Report(4, 110, 1.05),
              Optional(Eq("stopped at step 110: validation loss 1.05 is above the top-1/3 cutoff "
                          "1 of 4 trials at step 100")));
  // A trial decided at a rung is not decided there again.
  EXPECT_EQ(asha.Report(0, 150, 5.0), std::nullopt);
  // Rung 300 starts afresh.
  EXPECT_EQ(asha.Report(3, 300, 0.4), std::nullopt);
  EXPECT_THAT(asha.Report(0, 300, 0.45), Optional(HasSubstr("cutoff 0.4 of 1 trial")));
  EXPECT_EQ(asha.Report(2, 300, 0.3), std::nullopt);
}

TEST(AshaStopperTest, ATrialPastSeveralRungsIsRecordedAtTheHighestOnly) {
  AshaStopper asha(10, 2, v1::MINIMIZE, "train loss");
  EXPECT_EQ(asha.Report(0, 10, 1.0), std::nullopt);
  // Trial 1's first report is at step 45, past rungs 10, 20 and 40: only rung 40 hears of it,
  // and it is the first there.
  EXPECT_EQ(asha.Report(1, 45, 3.0), std::nullopt);
  // So rung 10 still holds only trial 0's value.
  EXPECT_THAT(asha.Report(2, 10, 1.5), Optional(HasSubstr("cutoff 1 of 1 trial")));
  EXPECT_THAT(asha.Report(0, 40, 3.5), Optional(HasSubstr("train loss 3.5 is above the top-1/2 "
                                                          "cutoff 3 of 1 trial at that step")));
}

TEST(AshaStopperTest, MaximisesAccuracyAndStopsNaNs) {
  AshaStopper asha(5, 3, v1::MAXIMIZE, "validation accuracy");
  EXPECT_EQ(asha.Report(0, 5, 0.9), std::nullopt);
  EXPECT_EQ(asha.Report(1, 5, 0.95), std::nullopt);
  // [0.9, 0.95]: the 2/3 quantile is 0.9333.
  EXPECT_THAT(asha.Report(2, 5, 0.92),
              Optional(HasSubstr("validation accuracy 0.92 is below the top-1/3 cutoff 0.9333")));
  AshaStopper losses(5, 3, v1::MINIMIZE, "validation loss");
  EXPECT_EQ(losses.Report(0, 5, 1.0), std::nullopt);
  EXPECT_THAT(losses.Report(1, 5, std::nan("")), Optional(HasSubstr("nan is above")));
}

TEST(AshaStopperTest, TheSameReportsInTheSameOrderGiveTheSameDecisions) {
  // A scripted sweep of 9 trials whose curves fall at different speeds, reported in an
  // interleaved order as concurrent trials would.
  std::vector<std::tuple<int, int64_t, double>> reports;
  for (int64_t step = 25; step <= 400; step += 25) {
    for (int trial = 0; trial < 9; ++trial) {
      reports.emplace_back(trial, step, (1.0 + 0.3 * ((trial * 5) % 9)) * 100.0 / (step + 100.0));
    }
  }
  auto run = [&] {
    AshaStopper asha(25, 3, v1::MINIMIZE, "validation loss");
    std::vector<std::string> decisions;
    std::vector<bool> stopped(9, false);
    for (const auto& [trial, step, value] : reports) {
      if (stopped[trial]) continue;
      if (auto reason = asha.Report(trial, step, value)) {
        stopped[trial] = true;
        decisions.push_back(*reason);
      }
    }
    return decisions;
  };
  const std::vector<std::string> first = run();
  EXPECT_EQ(first, run());
  // Successive halving: most trials stop, the best continues to the end.
  EXPECT_GE(first.size(), 6u);
  EXPECT_LE(first.size(), 8u);
}

TEST(MedianStopperTest, StopsATrialWhoseBestIsWorseThanTheMedianOfTheOthersRunningMeans) {
  MedianStopper median(/*min_steps=*/20, /*min_trials=*/2, v1::MINIMIZE, "validation loss");
  // Trials 0 and 1 run ahead: 10: 4, 20: 2 and 10: 6, 20: 4.
  EXPECT_EQ(median.Report(0, 10, 4.0), std::nullopt);
  EXPECT_EQ(median.Report(0, 20, 2.0), std::nullopt);  // one other trial: too few
  EXPECT_EQ(median.Report(1, 10, 6.0), std::nullopt);
  EXPECT_EQ(median.Report(1, 20, 4.0), std::nullopt);  // only trial 0 reached step 20
  // Trial 2 at step 10: before min_steps.
  EXPECT_EQ(median.Report(2, 10, 5.5), std::nullopt);
  // At step 20 its best, 5.5, is above the median of the running means 3 (trial 0) and 5
  // (trial 1): 4.
  EXPECT_THAT(median.Report(2, 20, 5.8),
              Optional(Eq("stopped at step 20: its best validation loss so far, 5.5, is above the "
                          "median 4 of the running means of 2 other trials at that step")));
  // A trial whose best beats the median continues.
  EXPECT_EQ(median.Report(3, 20, 3.9), std::nullopt);
}

}  // namespace
}  // namespace descent::server
