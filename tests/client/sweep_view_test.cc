// The sweep's text: its trial table, event lines and the summary with the best trial and the
// steps early stopping saved.
#include <string>

#include "client/sweep_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/json_proto.h"

namespace descent::client {
namespace {

using ::descent::testing::ParseJsonProto;
using ::testing::HasSubstr;
using ::testing::Not;

v1::Sweep EndedSweep() {
  return ParseJsonProto<v1::Sweep>(R"({
    "id": "sweep-0123456789ab", "state": "SWEEP_SUCCEEDED", "bestTrial": 1,
    "stepsRun": 1020, "stepsFull": 2000,
    "spec": {"name": "optimizers"},
    "trials": [
      {"index": 0, "state": "TRIAL_STOPPED", "jobId": "job-000000000001", "step": 20,
       "totalSteps": 1000, "objective": 9.5,
       "parameters": [{"path": "optimizer", "value": "sgd"},
                      {"path": "optimizer.learningRate", "value": 1e-06}],
       "stopReason": "stopped at step 20: validation loss 9.5 is above the top-1/3 cutoff 0.8 of 1 trial at that step"},
      {"index": 1, "state": "TRIAL_SUCCEEDED", "jobId": "job-000000000002", "step": 1000,
       "totalSteps": 1000, "objective": 0.3181,
       "parameters": [{"path": "optimizer", "value": "adam"},
                      {"path": "optimizer.learningRate", "value": 0.001}]}
    ]})");
}

TEST(SweepViewTest, TheTableShowsEveryTrialsParametersStepObjectiveAndStateAndWhyOneStopped) {
  const std::string table = FormatTrialTable(EndedSweep());
  EXPECT_THAT(table, HasSubstr("VALIDATION LOSS"));
  EXPECT_THAT(table, HasSubstr("optimizer=sgd optimizer.learningRate=1e-06"));
  EXPECT_THAT(table, HasSubstr("20/1000"));
  EXPECT_THAT(table, HasSubstr("STOPPED"));
  EXPECT_THAT(table, HasSubstr("1 *"));  // the best trial is marked
  EXPECT_THAT(table, HasSubstr("0.3181"));
  EXPECT_THAT(table, HasSubstr("trial 0 stopped at step 20: validation loss 9.5 is above"));
}

TEST(SweepViewTest, TheSummaryNamesTheBestTrialAndTheStepsSaved) {
  const std::string summary = FormatSweepSummary(EndedSweep());
  EXPECT_THAT(summary, HasSubstr("best: trial 1 (optimizer=adam optimizer.learningRate=0.001), "
                                 "validation loss 0.3181, job job-000000000002"));
  EXPECT_THAT(summary, HasSubstr("steps: 1020 run of 2000 for full runs (early stopping saved "
                                 "980, 49%)"));
  v1::Sweep none = EndedSweep();
  none.clear_best_trial();
  EXPECT_THAT(FormatSweepSummary(none), HasSubstr("best: none"));
}

TEST(SweepViewTest, EventsReadAsSentencesAndReportsStayQuiet) {
  const v1::Sweep sweep = EndedSweep();
  v1::TrialEvent event;
  event.set_trial(0);
  event.set_kind(v1::TrialEvent::STARTED);
  event.set_job_id("job-000000000001");
  EXPECT_EQ(FormatTrialEvent(sweep, event),
            "trial 0 started: job-000000000001 (optimizer=sgd optimizer.learningRate=1e-06)\n");
  event.set_kind(v1::TrialEvent::STOPPED);
  event.set_reason(sweep.trials(0).stop_reason());
  EXPECT_THAT(FormatTrialEvent(sweep, event), HasSubstr("trial 0 stopped at step 20"));
  event.set_kind(v1::TrialEvent::REPORTED);
  EXPECT_EQ(FormatTrialEvent(sweep, event), "");
  EXPECT_THAT(ObjectiveName(sweep.spec()), Not(HasSubstr("_")));
}

}  // namespace
}  // namespace descent::client
