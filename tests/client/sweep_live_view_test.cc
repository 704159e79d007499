// The live sweep view: the trial table redrawn in place on a terminal (from the client's
// snapshot of the sweep, which the watch's messages update) and a line per event elsewhere.
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/sweep_live_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/json_proto.h"

namespace descent::client {
namespace {

using ::descent::testing::ParseJsonProto;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Three trials as a watch first sees them: one stopped, one running, one pending.
v1::Sweep RunningSweep() {
  return ParseJsonProto<v1::Sweep>(R"({
    "id": "sweep-0123456789ab", "state": "SWEEP_RUNNING",
    "spec": {"name": "optimizers"},
    "trials": [
      {"index": 0, "state": "TRIAL_STOPPED", "jobId": "job-000000000001", "step": 20,
       "totalSteps": 1000, "objective": 9.5,
       "parameters": [{"path": "optimizer", "value": "sgd"}],
       "stopReason": "stopped at step 20: validation loss 9.5 is above the top-1/3 cutoff 0.8 of 3 trials at that step"},
      {"index": 1, "state": "TRIAL_RUNNING", "jobId": "job-000000000002", "step": 40,
       "totalSteps": 1000, "objective": 0.52,
       "parameters": [{"path": "optimizer", "value": "adam"}]},
      {"index": 2, "state": "TRIAL_PENDING", "totalSteps": 1000,
       "parameters": [{"path": "optimizer", "value": "rmsprop"}]}
    ]})");
}

v1::WatchSweepResponse Event(const std::string& json) {
  v1::WatchSweepResponse message;
  *message.mutable_trial() = ParseJsonProto<v1::TrialEvent>(json);
  return message;
}

v1::WatchSweepResponse Snapshot(const v1::Sweep& sweep) {
  v1::WatchSweepResponse message;
  *message.mutable_sweep() = sweep;
  return message;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

TEST(SweepLiveViewTest, TheTableShowsEachTrialsParametersStepObjectiveStateAndStopReason) {
  const std::string table = FormatLiveSweepTable(RunningSweep(), 200);
  const std::vector<std::string> lines = Lines(table);
  ASSERT_EQ(lines.size(), 5u);  // status, header, three trials
  EXPECT_EQ(lines[0], "sweep sweep-0123456789ab: 1 running, 1 pending, 1 ended");
  EXPECT_THAT(lines[1], HasSubstr("VALIDATION LOSS"));
  EXPECT_THAT(lines[1], HasSubstr("STOP REASON"));
  // The running trial first, then the others in index order.
  EXPECT_THAT(lines[2], StartsWith("1 "));
  EXPECT_THAT(lines[2], HasSubstr("optimizer=adam"));
  EXPECT_THAT(lines[2], HasSubstr("40/1000"));
  EXPECT_THAT(lines[2], HasSubstr("0.52"));
  EXPECT_THAT(lines[2], HasSubstr("RUNNING"));
  EXPECT_THAT(lines[3], StartsWith("0 "));
  EXPECT_THAT(lines[3], HasSubstr("STOPPED"));
  EXPECT_THAT(lines[3], HasSubstr("stopped at step 20: validation loss 9.5 is above"));
  EXPECT_THAT(lines[4], StartsWith("2 "));
  EXPECT_THAT(lines[4], HasSubstr("PENDING"));
}

TEST(SweepLiveViewTest, NoLineReachesTheTerminalsLastColumnAndLongSweepsAreSummedUp) {
  v1::Sweep sweep = RunningSweep();
  for (int t = 3; t < kMaxLiveTrialRows + 5; ++t) {
    v1::Trial* trial = sweep.add_trials();
    trial->set_index(t);
    trial->set_state(v1::TRIAL_PENDING);
  }
  const std::vector<std::string> lines = Lines(FormatLiveSweepTable(sweep, 60));
  ASSERT_EQ(lines.size(), 2u + kMaxLiveTrialRows + 1);
  for (const std::string& line : lines) EXPECT_LE(line.size(), 59u) << line;
  EXPECT_THAT(lines.back(), StartsWith("... and 5 more trials"));
}

TEST(SweepLiveViewTest, EventsUpdateTheClientsCopyOfTheSweep) {
  v1::Sweep sweep = RunningSweep();
  ApplySweepMessage(Event(R"({"sequence": 7, "trial": 2, "kind": "STARTED",
                              "jobId": "job-000000000003"})"), &sweep);
  EXPECT_EQ(sweep.trials(2).state(), v1::TRIAL_RUNNING);
  EXPECT_EQ(sweep.trials(2).job_id(), "job-000000000003");
  ApplySweepMessage(Event(R"({"sequence": 8, "trial": 2, "kind": "REPORTED",
                              "report": {"step": 20, "value": 3.25}})"), &sweep);
  EXPECT_EQ(sweep.trials(2).step(), 20);
  EXPECT_EQ(sweep.trials(2).objective(), 3.25);
  ApplySweepMessage(Event(R"({"sequence": 9, "trial": 2, "kind": "STOPPED",
                              "reason": "stopped at step 20: because"})"), &sweep);
  EXPECT_EQ(sweep.trials(2).state(), v1::TRIAL_STOPPED);
  EXPECT_EQ(sweep.trials(2).stop_reason(), "stopped at step 20: because");
  ApplySweepMessage(Event(R"({"sequence": 10, "trial": 1, "kind": "FINISHED",
                              "state": "TRIAL_SUCCEEDED"})"), &sweep);
  EXPECT_EQ(sweep.trials(1).state(), v1::TRIAL_SUCCEEDED);
  // An event for a trial the sweep does not have changes nothing.
  const v1::Sweep before = sweep;
  ApplySweepMessage(Event(R"({"sequence": 11, "trial": 9, "kind": "STARTED"})"), &sweep);
  EXPECT_EQ(sweep.SerializeAsString(), before.SerializeAsString());
}

TEST(SweepLiveViewTest, OnATerminalTheTableIsRedrawnInPlace) {
  std::ostringstream out;
  SweepWatchPrinter printer(out, /*live=*/true, 120, absl::ZeroDuration());
  const absl::Time now = absl::Now();
  printer.OnMessage(Snapshot(RunningSweep()), now);
  const std::string first = out.str();
  EXPECT_THAT(first, Not(HasSubstr("\x1b[5F")));  // nothing above it to overwrite yet
  EXPECT_THAT(first, HasSubstr("optimizer=adam"));
  printer.OnMessage(Event(R"({"sequence": 7, "trial": 2, "kind": "STARTED",
                              "jobId": "job-000000000003"})"), now);
  const std::string second = out.str().substr(first.size());
  // Back up over the five lines drawn, each erased and drawn again.
  EXPECT_THAT(second, StartsWith("\x1b[5F\x1b[2K"));
  EXPECT_THAT(second, HasSubstr("2 running, 0 pending"));
  EXPECT_THAT(second, Not(HasSubstr("trial 2 started")));  // no appended event lines
  printer.Finish();
  EXPECT_EQ(printer.sweep().trials(2).state(), v1::TRIAL_RUNNING);
}

TEST(SweepLiveViewTest, ElsewhereEachEventIsAnAppendedLineWithoutEscapes) {
  std::ostringstream out;
  SweepWatchPrinter printer(out, /*live=*/false, 120);
  const absl::Time now = absl::Now();
  printer.OnMessage(Snapshot(RunningSweep()), now);
  printer.OnMessage(Event(R"({"sequence": 7, "trial": 2, "kind": "STARTED",
                              "jobId": "job-000000000003"})"), now);
  printer.OnMessage(Event(R"({"sequence": 8, "trial": 2, "kind": "STOPPED",
                              "reason": "stopped at step 20: because"})"), now);
  printer.Finish();
  EXPECT_EQ(out.str(),
            "trial 2 started: job-000000000003 (optimizer=rmsprop)\n"
            "trial 2 stopped at step 20: because\n");
}

}  // namespace
}  // namespace descent::client
