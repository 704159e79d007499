#include "client/output.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace descent::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::Job SampleJob() {
  v1::Job job;
  job.set_id("j-42");
  job.set_name("house-prices");
  job.set_state(v1::SUCCEEDED);
  job.mutable_progress()->set_step(1500);
  job.mutable_progress()->set_total_steps(1500);
  job.mutable_progress()->set_epoch(30);
  job.mutable_progress()->set_total_epochs(30);
  job.set_train_loss(0.0123);
  job.set_validation_loss(0.015);
  job.mutable_validation_metrics()->set_loss(0.015);
  job.mutable_validation_metrics()->set_r2(0.97);
  job.mutable_diagnosis()->set_verdict(v1::CONVERGED);
  job.mutable_diagnosis()->set_step(1200);
  job.mutable_diagnosis()->set_message("The loss flattened at a low value.");
  job.mutable_start_time()->set_seconds(1000);
  job.mutable_end_time()->set_seconds(1012);
  job.mutable_end_time()->set_nanos(500000000);
  return job;
}

TEST(ToJsonTest, OneLineThatParsesBackToTheSameMessage) {
  const v1::Job job = SampleJob();
  const std::string json = ToJson(job);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_THAT(json, HasSubstr("\"trainLoss\":0.0123"));
  v1::Job parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(job, parsed));
  EXPECT_THAT(ToJson(job, /*pretty=*/true), HasSubstr("\n"));
}

TEST(FormatMetricsTest, OnlyTheMetricsThatAreSet) {
  v1::Metrics metrics;
  metrics.set_loss(0.25);
  metrics.set_accuracy(0.9);
  EXPECT_EQ(FormatMetrics(metrics), "loss 0.25 accuracy 0.9");
}

TEST(FormatJobTableTest, AlignsColumnsUnderTheHeader) {
  v1::Job running;
  running.set_id("j-7");
  running.set_name("spam");
  running.set_state(v1::RUNNING);
  running.mutable_progress()->set_step(10);
  running.mutable_progress()->set_total_steps(300);
  const std::string table = FormatJobTable({SampleJob(), running});
  const std::vector<std::string> lines = absl::StrSplit(table, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], ::testing::StartsWith("ID    NAME          STATE      STEP"));
  EXPECT_THAT(lines[1], HasSubstr("SUCCEEDED  1500/1500"));
  EXPECT_THAT(lines[1], HasSubstr("CONVERGED"));
  EXPECT_THAT(lines[2], HasSubstr("RUNNING    10/300"));
  // Same column for STATE on every line.
  EXPECT_EQ(lines[1].find("SUCCEEDED"), lines[0].find("STATE"));
  EXPECT_EQ(lines[2].find("RUNNING"), lines[0].find("STATE"));
}

TEST(FormatJobTableTest, TheLossColumnIsTheEpochMeanNotTheLastMinibatch) {
  v1::Job job = SampleJob();
  job.set_train_loss(0.0123);
  job.mutable_train_metrics()->set_loss(0.0456);
  const std::vector<std::string> lines =
      absl::StrSplit(FormatJobTable({job}), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  const size_t column = lines[0].find("EPOCH_LOSS");
  ASSERT_NE(column, std::string::npos);
  EXPECT_EQ(lines[1].substr(column, 6), "0.0456");
  EXPECT_THAT(lines[1], Not(HasSubstr("0.0123")));
  // Before the first epoch ends there is no epoch mean yet.
  job.clear_train_metrics();
  EXPECT_EQ(absl::StrSplit(FormatJobTable({job}), '\n').begin()->find("EPOCH_LOSS"), column);
  EXPECT_THAT(FormatJobTable({job}), Not(HasSubstr("0.0123")));
}

TEST(FormatJobTableTest, TheRunnerColumnNamesTheReplicaOrADashBeforeAnyRan) {
  v1::Job job = SampleJob();
  job.set_runner("10.0.0.7:50051");
  v1::Job queued = SampleJob();
  queued.set_state(v1::QUEUED);
  const std::vector<std::string> lines =
      absl::StrSplit(FormatJobTable({job, queued}), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  const size_t column = lines[0].find("RUNNER");
  ASSERT_NE(column, std::string::npos);
  EXPECT_EQ(lines[1].substr(column, 14), "10.0.0.7:50051");
  EXPECT_EQ(lines[2].substr(column, 1), "-");
  EXPECT_THAT(FormatJobDetails(job), HasSubstr("runner:          10.0.0.7:50051"));
  EXPECT_THAT(FormatJobDetails(queued), Not(HasSubstr("runner:")));
}

TEST(FormatJobDetailsTest, ShowsProgressLossesDiagnosisAndError) {
  v1::Job job = SampleJob();
  job.set_error("dataset.builtin.name must be one of ... (got 'nope')");
  const std::string details = FormatJobDetails(job);
  EXPECT_THAT(details, HasSubstr("step 1500/1500, epoch 30/30"));
  EXPECT_THAT(details, HasSubstr("validation:      loss 0.015 r2 0.97"));
  EXPECT_THAT(details, HasSubstr("diagnosis:       CONVERGED - The loss"));
  EXPECT_THAT(details, HasSubstr("(ran 12.5s)"));
  EXPECT_THAT(details, HasSubstr("error:           dataset.builtin.name"));
}

TEST(FormatJobDetailsTest, EachLossSaysWhichLossItIs) {
  v1::Job job = SampleJob();
  job.mutable_train_metrics()->set_loss(0.0456);
  job.mutable_train_metrics()->set_r2(0.95);
  const std::string details = FormatJobDetails(job);
  EXPECT_THAT(details, HasSubstr("minibatch loss:     0.0123 (step 1500)\n"));
  EXPECT_THAT(details, HasSubstr("train, epoch mean:  loss 0.0456 r2 0.95\n"));
  EXPECT_THAT(details, HasSubstr("validation:         loss 0.015 r2 0.97\n"));
  EXPECT_THAT(details, Not(HasSubstr("train loss")));
}

TEST(FormatEpochLineTest, TrainAndValidation) {
  v1::EpochSummary summary;
  summary.set_epoch(3);
  summary.set_last_step(150);
  summary.mutable_train()->set_loss(0.5);
  summary.mutable_validation()->set_loss(0.6);
  summary.mutable_validation()->set_accuracy(0.75);
  EXPECT_EQ(FormatEpochLine(summary, 30, 1500),
            "epoch 3/30  step 150/1500  train loss 0.5  validation loss 0.6 accuracy 0.75");
  summary.clear_validation();
  EXPECT_THAT(FormatEpochLine(summary, 0, 0), Not(HasSubstr("validation")));
}

TEST(FormatOutcomeTest, StateStepsDurationMetricsAndDiagnosis) {
  const std::string outcome = FormatOutcome(SampleJob());
  EXPECT_THAT(outcome, HasSubstr("job j-42 SUCCEEDED after 1500 steps in 12.5s\n"));
  EXPECT_THAT(outcome, HasSubstr("validation (last epoch) loss 0.015 r2 0.97\n"));
  EXPECT_THAT(outcome, HasSubstr("diagnosis: CONVERGED - The loss flattened at a low value.\n"));
}

TEST(FormatOutcomeTest, ShortRunsInMilliseconds) {
  v1::Job job = SampleJob();
  job.mutable_end_time()->set_seconds(1000);
  job.mutable_end_time()->set_nanos(42000000);
  EXPECT_THAT(FormatOutcome(job), HasSubstr("after 1500 steps in 42ms\n"));
}

TEST(FormatDiagnosisTest, EmptyWhenThereIsNone) { EXPECT_EQ(FormatDiagnosis(v1::Diagnosis()), ""); }

TEST(FormatDiagnosisTest, NamesTheStepWhenThereIsNoMessage) {
  v1::Diagnosis diagnosis;
  diagnosis.set_verdict(v1::DIVERGED);
  diagnosis.set_step(17);
  EXPECT_EQ(FormatDiagnosis(diagnosis), "diagnosis: DIVERGED at step 17");
}

TEST(FormatPredictionsTest, ClassifierRowsShowProbabilitiesClassAndName) {
  v1::PredictResponse response;
  response.mutable_outputs()->set_rows(2);
  response.mutable_outputs()->set_cols(3);
  for (float v : {0.7f, 0.2f, 0.1f, 0.1f, 0.1f, 0.8f}) response.mutable_outputs()->add_values(v);
  response.add_classes(0);
  response.add_classes(2);
  response.add_class_names("cat");
  response.add_class_names("bird");
  const std::vector<std::string> lines =
      absl::StrSplit(FormatPredictions(response), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "ROW  P(0)  P(1)  P(2)  CLASS  NAME");
  EXPECT_EQ(lines[1], "0    0.7   0.2   0.1   0      cat");
  EXPECT_EQ(lines[2], "1    0.1   0.1   0.8   2      bird");
}

TEST(FormatPredictionsTest, RegressionRowsShowTheOutput) {
  v1::PredictResponse response;
  response.mutable_outputs()->set_rows(1);
  response.mutable_outputs()->set_cols(1);
  response.mutable_outputs()->add_values(2.5f);
  EXPECT_EQ(FormatPredictions(response), "ROW  OUTPUT\n0    2.5\n");
}

}  // namespace
}  // namespace descent::client
