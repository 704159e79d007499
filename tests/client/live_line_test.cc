#include "client/live_line.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace descent::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(FormatEtaTest, MinutesSecondsAndHours) {
  EXPECT_EQ(FormatEta(0), "0:00");
  EXPECT_EQ(FormatEta(7.4), "0:07");
  EXPECT_EQ(FormatEta(754), "12:34");
  EXPECT_EQ(FormatEta(3723), "1:02:03");
  EXPECT_EQ(FormatEta(-1), "-");
  EXPECT_EQ(FormatEta(1.0 / 0.0), "-");
}

TEST(FormatLiveLineTest, ShowsEpochStepLossRateAndEta) {
  LiveStatus status;
  status.epoch = 3;
  status.total_epochs = 30;
  status.step = 1234;
  status.total_steps = 1500;
  status.loss = 0.021314;
  status.validation_loss = 0.025;
  status.steps_per_second = 2410.0;
  EXPECT_EQ(
      FormatLiveLine(status, 200),
      "epoch 3/30  step 1234/1500  2,410 steps/s  ETA 0:00  batch loss 0.02131  val loss 0.025");
  status.steps_per_second = 2.0;
  EXPECT_THAT(FormatLiveLine(status, 200), HasSubstr("ETA 2:13"));  // 266 steps at 2/s
}

TEST(FormatLiveLineTest, OmitsWhatIsNotKnownYet) {
  LiveStatus status;
  status.step = 5;
  const std::string line = FormatLiveLine(status, 200);
  EXPECT_EQ(line, "epoch 0  step 5");
  EXPECT_THAT(line, Not(HasSubstr("ETA")));
}

TEST(FormatLiveLineTest, NeverReachesTheLastColumn) {
  LiveStatus status;
  status.epoch = 3;
  status.total_epochs = 30;
  status.step = 1234;
  status.total_steps = 1500;
  status.loss = 0.02;
  status.steps_per_second = 1e6;
  EXPECT_EQ(FormatLiveLine(status, 20).size(), 19u);
}

TEST(StepRateTest, MeasuresOverTheWindow) {
  StepRate rate(absl::Seconds(2));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_FALSE(rate.PerSecond().has_value());
  rate.Add(t0, 0);
  EXPECT_FALSE(rate.PerSecond().has_value());
  rate.Add(t0 + absl::Seconds(1), 100);
  EXPECT_DOUBLE_EQ(*rate.PerSecond(), 100.0);
  // The rate changes; old samples leave the window.
  for (int s = 2; s <= 10; ++s) rate.Add(t0 + absl::Seconds(s), 100 + (s - 1) * 1000);
  EXPECT_DOUBLE_EQ(*rate.PerSecond(), 1000.0);
}

TEST(StepRateTest, NoRateUntilTheSamplesSpanTheMinimum) {
  StepRate rate(absl::Seconds(3), absl::Seconds(1));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  // A burst of messages read back to back: 1,500 steps in 40 microseconds.
  for (int i = 0; i <= 30; ++i) rate.Add(t0 + absl::Microseconds(i * 4 / 3), 50 * (i + 1));
  EXPECT_FALSE(rate.PerSecond().has_value());
  rate.Add(t0 + absl::Seconds(1), 2550);
  EXPECT_DOUBLE_EQ(*rate.PerSecond(), 2500.0);
}

TEST(LiveLineTest, RedrawsInPlaceAtMostOncePerInterval) {
  std::ostringstream out;
  LiveLine line(out, 80, absl::Milliseconds(100));
  LiveStatus status;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  status.step = 1;
  line.Update(status, t0);
  status.step = 2;
  line.Update(status, t0 + absl::Milliseconds(50));  // too soon: skipped
  status.step = 3;
  line.Update(status, t0 + absl::Milliseconds(150));
  EXPECT_EQ(out.str(), "\r\x1b[Kepoch 0  step 1\r\x1b[Kepoch 0  step 3");
  status.step = 4;
  line.Update(status, t0 + absl::Milliseconds(160), /*force=*/true);
  EXPECT_THAT(out.str(), HasSubstr("step 4"));
  line.Clear();
  EXPECT_THAT(out.str(), ::testing::EndsWith("step 4\r\x1b[K"));
}

TEST(LiveLineTest, ClearWithoutDrawingPrintsNothing) {
  std::ostringstream out;
  LiveLine line(out, 80);
  line.Clear();
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace descent::client
