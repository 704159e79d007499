#include "client/watch_printer.h"

#include <algorithm>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace descent::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::Job RunningJob() {
  v1::Job job;
  job.set_id("job-0123456789ab");
  job.set_state(v1::RUNNING);
  return job;
}

TEST(WatchPrinterTest, ADroppedStreamNamesTheStepItResumesFrom) {
  std::ostringstream out, err;
  WatchPrinter printer(RunningJob(), WatchDisplay::kPlain, 80, out, err);
  const double losses[] = {0.5, 0.25, 0.125};
  printer.OnLosses(1, losses, 3);
  printer.OnReconnecting(absl::UnavailableError("connection reset"), absl::Seconds(2));
  EXPECT_EQ(err.str(),
            "descent: stream of job job-0123456789ab dropped at step 3 (connection reset); "
            "resuming in 2s\n");
}

TEST(WatchPrinterTest, ARefusedStreamSaysItWaitsForASlotNotThatItDropped) {
  std::ostringstream out, err;
  WatchPrinter printer(RunningJob(), WatchDisplay::kPlain, 80, out, err);
  printer.OnReconnecting(
      absl::ResourceExhaustedError("already has the most watchers --max-watchers-per-job "
                                   "allows (3)"),
      absl::Seconds(1));
  EXPECT_THAT(err.str(), HasSubstr("the server refused a stream of job job-0123456789ab"));
  EXPECT_THAT(err.str(), HasSubstr("--max-watchers-per-job allows (3)"));
  EXPECT_THAT(err.str(), HasSubstr("waiting for a free slot, next try in 1s"));
  EXPECT_THAT(err.str(), Not(HasSubstr("dropped")));
}

// A clock the test moves by hand.
struct FakeClock {
  absl::Time now = absl::FromUnixSeconds(1000);
  std::function<absl::Time()> Function() {
    return [this] { return now; };
  }
};

// Everything the live display drew, redraws included.
std::vector<double> RatesShown(const std::string& out) {
  std::vector<double> rates;
  static const std::regex kRate(R"(([0-9,]+) steps/s)");
  for (std::sregex_iterator it(out.begin(), out.end(), kRate), end; it != end; ++it) {
    std::string digits = (*it)[1].str();
    digits.erase(std::remove(digits.begin(), digits.end(), ','), digits.end());
    rates.push_back(std::stod(digits));
  }
  return rates;
}

TEST(WatchPrinterTest, AttachedToARunningJobTheRateCountsLiveStepsNotTheReplayedHistory) {
  v1::Job job = RunningJob();
  job.mutable_progress()->set_step(10000);  // trained before the watch attached
  job.mutable_progress()->set_total_steps(20000);
  FakeClock clock;
  std::ostringstream out, err;
  WatchPrinter printer(job, WatchDisplay::kLive, 200, out, err, clock.Function());
  // The history arrives in a few milliseconds, with epoch summaries that force redraws.
  const std::vector<double> losses(1000, 0.5);
  v1::EpochSummary epoch;
  for (int64_t first = 1; first <= 10000; first += 1000) {
    clock.now += absl::Milliseconds(1);
    printer.OnLosses(first, losses.data(), 1000);
    epoch.set_epoch(static_cast<int>(first / 1000) + 1);
    epoch.set_last_step(first + 999);
    printer.OnEpoch(epoch);
  }
  EXPECT_THAT(out.str(), Not(HasSubstr("steps/s")));
  EXPECT_THAT(out.str(), Not(HasSubstr("ETA")));
  // Then the job trains 100 steps a second.
  for (int64_t first = 10001; first <= 10500; first += 50) {
    clock.now += absl::Milliseconds(500);
    printer.OnLosses(first, losses.data(), 50);
  }
  const std::vector<double> rates = RatesShown(out.str());
  ASSERT_FALSE(rates.empty());
  for (double rate : rates) EXPECT_EQ(rate, 100) << out.str();
  // 9,500 steps left at 100 a second.
  EXPECT_THAT(out.str(), HasSubstr("ETA 1:35"));
}

TEST(WatchPrinterTest, AFinishedJobsHistoryShowsNoRate) {
  v1::Job job = RunningJob();
  job.set_state(v1::SUCCEEDED);
  job.mutable_progress()->set_step(3000);
  job.mutable_progress()->set_total_steps(3000);
  FakeClock clock;
  std::ostringstream out, err;
  WatchPrinter printer(job, WatchDisplay::kLive, 200, out, err, clock.Function());
  const std::vector<double> losses(100, 0.5);
  for (int64_t first = 1; first <= 3000; first += 100) {
    clock.now += absl::Milliseconds(200);  // slow enough that every batch is drawn
    printer.OnLosses(first, losses.data(), 100);
  }
  EXPECT_THAT(out.str(), HasSubstr("step 3000/3000"));
  EXPECT_THAT(out.str(), Not(HasSubstr("steps/s")));
}

TEST(WatchPrinterTest, TheCatchUpAfterADroppedStreamIsNotCountedEither) {
  v1::Job job = RunningJob();
  job.mutable_progress()->set_total_steps(100000);
  FakeClock clock;
  std::ostringstream out, err;
  WatchPrinter printer(job, WatchDisplay::kLive, 200, out, err, clock.Function());
  const std::vector<double> losses(5000, 0.5);
  for (int64_t first = 1; first <= 100; first += 10) {  // 10 steps a second
    clock.now += absl::Seconds(1);
    printer.OnLosses(first, losses.data(), 10);
  }
  ASSERT_FALSE(RatesShown(out.str()).empty());
  // The stream drops for a minute; the job is at step 700 when it comes back.
  printer.OnReconnecting(absl::UnavailableError("connection reset"), absl::Seconds(1));
  clock.now += absl::Seconds(60);
  v1::Job polled = job;
  polled.mutable_progress()->set_step(700);
  printer.OnPolled(polled);
  out.str("");
  clock.now += absl::Milliseconds(1);
  printer.OnLosses(101, losses.data(), 300);  // the catch-up, all at once
  clock.now += absl::Milliseconds(1);
  printer.OnLosses(401, losses.data(), 300);
  EXPECT_THAT(out.str(), Not(HasSubstr("steps/s")));
  for (int64_t first = 701; first <= 800; first += 10) {
    clock.now += absl::Seconds(1);
    printer.OnLosses(first, losses.data(), 10);
  }
  const std::vector<double> rates = RatesShown(out.str());
  ASSERT_FALSE(rates.empty());
  for (double rate : rates) EXPECT_EQ(rate, 10) << out.str();
}

}  // namespace
}  // namespace descent::client
