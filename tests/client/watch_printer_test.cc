#include "client/watch_printer.h"

#include <sstream>

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

}  // namespace
}  // namespace descent::client
