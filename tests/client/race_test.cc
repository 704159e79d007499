// The jobs `descent race` submits and how it ranks what they did.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/race_plan.h"
#include "client/race_standings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/text_proto.h"

namespace descent::client {
namespace {

using ::descent::testing::ParseTextProto;
using ::descent::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::JobSpec Base() {
  return ParseTextProto<v1::JobSpec>(R"pb(
    name: "house"
    dataset { builtin { name: "house_prices" samples: 256 seed: 5 } }
    model { hidden_layers { units: 16 } }
    loss: MEAN_SQUARED_ERROR
    optimizer { adam { learning_rate: 0.003 beta1: 0.8 } }
    training { batch_size: 32 seed: 11 epochs: 4 validation_fraction: 0.25 }
  )pb");
}

TEST(RaceSpecsTest, EachRunIsTheJobFileWithItsOptimizerAndTheGroup) {
  absl::StatusOr<std::vector<v1::JobSpec>> specs =
      RaceSpecs(Base(), {"sgd:0.01", "adam", "RMSprop", "adam:0.01"}, "race-1");
  ASSERT_OK(specs);
  ASSERT_EQ(specs->size(), 4u);
  std::vector<std::string> labels, names;
  for (const v1::JobSpec& spec : *specs) {
    labels.push_back(RacerLabel(spec.optimizer()));
    names.push_back(spec.name());
    EXPECT_EQ(spec.group(), "race-1");
    // Everything but the optimizer is the job file's: data, model, batches, seed.
    v1::JobSpec rest = spec;
    rest.clear_optimizer();
    rest.clear_group();
    rest.clear_name();
    v1::JobSpec base = Base();
    base.clear_optimizer();
    base.clear_name();
    EXPECT_EQ(rest.SerializeAsString(), base.SerializeAsString());
  }
  // Adam without a rate keeps the job file's Adam (its rate and betas); a given rate
  // replaces the rate alone; RMSprop, not the file's kind, gets PyTorch's default.
  EXPECT_THAT(labels, ElementsAre("sgd:0.01", "adam:0.003", "rmsprop:0.01", "adam:0.01"));
  EXPECT_THAT(names, ElementsAre("house sgd:0.01", "house adam:0.003", "house rmsprop:0.01",
                                 "house adam:0.01"));
  EXPECT_FLOAT_EQ((*specs)[1].optimizer().adam().beta1(), 0.8);
  EXPECT_FLOAT_EQ((*specs)[3].optimizer().adam().beta1(), 0.8);
  EXPECT_FALSE((*specs)[2].optimizer().rmsprop().has_learning_rate());
}

TEST(RaceSpecsTest, RefusesWhatCannotRaceNamingTheFix) {
  EXPECT_THAT(RaceSpecs(Base(), {"adam"}, "g"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least two")));
  EXPECT_THAT(RaceSpecs(Base(), {"adam", "lion"}, "g"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"lion\" is no optimizer")));
  EXPECT_THAT(RaceSpecs(Base(), {"adam", "sgd"}, "g"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sgd:0.01")));
  EXPECT_THAT(RaceSpecs(Base(), {"adam", "rmsprop:fast"}, "g"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be a number > 0")));
  EXPECT_THAT(RaceSpecs(Base(), {"adam", "adam:0.003"}, "g"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("adam:0.003 again")));
  v1::JobSpec range = Base();
  range.mutable_lr_find();
  EXPECT_THAT(RaceSpecs(range, {"adam", "sgd:0.1"}, "g"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("remove lrFind")));
}

TEST(RaceSpecsTest, SgdAloneTakesTheJobFilesSgdRate) {
  v1::JobSpec base = Base();
  base.mutable_optimizer()->mutable_sgd()->set_learning_rate(0.02);
  absl::StatusOr<std::vector<v1::JobSpec>> specs = RaceSpecs(base, {"sgd", "adam"}, "g");
  ASSERT_OK(specs);
  EXPECT_EQ(RacerLabel((*specs)[0].optimizer()), "sgd:0.02");
  EXPECT_EQ(RacerLabel((*specs)[1].optimizer()), "adam:0.001");
}

TEST(NewRaceGroupTest, IsARaceIdAndNewEachTime) {
  const std::string group = NewRaceGroup();
  EXPECT_THAT(group, ::testing::MatchesRegex("race-[0-9a-f]{12}"));
  EXPECT_NE(group, NewRaceGroup());
}

v1::EpochSummary Epoch(int epoch, int64_t last_step, double validation_loss) {
  v1::EpochSummary summary;
  summary.set_epoch(epoch);
  summary.set_last_step(last_step);
  summary.mutable_train()->set_loss(validation_loss * 2);
  summary.mutable_validation()->set_loss(validation_loss);
  return summary;
}

RaceRun MakeRun(const std::string& label, v1::JobState state, std::vector<double> validation) {
  RaceRun run;
  run.label = label;
  run.job.set_id(absl::StrCat("job-", label));
  run.job.set_state(state);
  run.job.mutable_spec()->mutable_training()->set_validation_fraction(0.25);
  if (state == v1::SUCCEEDED) run.job.mutable_diagnosis()->set_verdict(v1::CONVERGED);
  for (size_t i = 0; i < validation.size(); ++i) {
    run.epochs.push_back(Epoch(static_cast<int>(i) + 1, 10 * (static_cast<int64_t>(i) + 1),
                               validation[i]));
  }
  return run;
}

TEST(RankRaceTest, RanksByFinalLossAndCountsTheStepsToComeWithinTenPercentOfTheBest) {
  const std::vector<RaceRun> runs = {
      MakeRun("sgd:0.01", v1::SUCCEEDED, {4.0, 2.0, 1.5, 1.2}),
      MakeRun("adam:0.001", v1::SUCCEEDED, {2.0, 1.09, 1.02, 1.0}),
      MakeRun("rmsprop:0.01", v1::FAILED, {3.0}),
      MakeRun("adagrad:0.01", v1::CANCELLED, {}),
  };
  const std::vector<RaceStanding> standings = RankRace(runs);
  ASSERT_EQ(standings.size(), 4u);
  // Best final loss 1.0: adam came within 10% (<= 1.1) at its second epoch (step 20); sgd
  // ends at 1.2 and never did.
  EXPECT_EQ(runs[standings[0].run].label, "adam:0.001");
  EXPECT_EQ(standings[0].rank, 1);
  EXPECT_EQ(standings[0].final_loss, 1.0);
  EXPECT_EQ(standings[0].steps_to_near_best, 20);
  EXPECT_EQ(standings[0].verdict, "CONVERGED");
  EXPECT_EQ(runs[standings[1].run].label, "sgd:0.01");
  EXPECT_EQ(standings[1].final_loss, 1.2);
  EXPECT_FALSE(standings[1].steps_to_near_best.has_value());
  EXPECT_EQ(runs[standings[2].run].label, "rmsprop:0.01");
  EXPECT_EQ(standings[2].verdict, "FAILED");
  // No epoch: no final loss, last.
  EXPECT_EQ(runs[standings[3].run].label, "adagrad:0.01");
  EXPECT_EQ(standings[3].rank, 4);
  EXPECT_FALSE(standings[3].final_loss.has_value());
  EXPECT_EQ(standings[3].verdict, "CANCELLED");

  const std::string table = FormatRaceTable(runs, standings);
  EXPECT_THAT(table, HasSubstr("FINAL VAL LOSS"));
  EXPECT_THAT(table, HasSubstr("step 20"));
  EXPECT_THAT(table, HasSubstr("never"));
  const google::protobuf::Struct json = RaceToStruct("race-1", runs, standings);
  EXPECT_EQ(json.fields().at("metric").string_value(), "VALIDATION_LOSS");
  const auto& first = json.fields().at("runs").list_value().values(0).struct_value().fields();
  EXPECT_EQ(first.at("optimizer").string_value(), "adam:0.001");
  EXPECT_EQ(first.at("stepsToWithin10PercentOfBest").number_value(), 20);
}

TEST(RankRaceTest, WithoutAValidationSplitTheTrainingLossIsCompared) {
  std::vector<RaceRun> runs = {MakeRun("sgd:0.01", v1::SUCCEEDED, {1.0}),
                               MakeRun("adam:0.001", v1::SUCCEEDED, {2.0})};
  for (RaceRun& run : runs) run.job.mutable_spec()->mutable_training()->clear_validation_fraction();
  runs[0].epochs[0].mutable_train()->set_loss(5.0);
  const std::vector<RaceStanding> standings = RankRace(runs);
  EXPECT_EQ(MetricOf(runs), RaceMetric::kTrainLoss);
  EXPECT_EQ(runs[standings[0].run].label, "adam:0.001");  // train loss 4 against 5
  EXPECT_EQ(standings[0].final_loss, 4.0);
}

}  // namespace
}  // namespace descent::client
