// The sweep `descent race` creates and how it ranks what its runs did.
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

// The trial a race's sweep would have for its `index`th value, as the server samples it.
v1::Trial TrialOf(const v1::SweepSpec& sweep, int index) {
  v1::Trial trial;
  trial.set_index(index);
  v1::TrialParameter& parameter = *trial.add_parameters();
  parameter.set_path(sweep.parameters(0).path());
  *parameter.mutable_value() = sweep.parameters(0).values().values(index);
  return trial;
}

TEST(RaceSweepTest, IsTheJobFileWithOneGridValueOfTheWholeOptimizerPerRacer) {
  v1::JobSpec base = Base();
  base.set_group("left-over");
  const std::vector<std::string> racers = {"sgd:0.01", "adam", "RMSprop", "adam:0.01"};
  absl::StatusOr<v1::SweepSpec> sweep = RaceSweep(base, racers, "house.json");
  ASSERT_OK(sweep);
  EXPECT_EQ(sweep->name(), "house race");
  // Everything but the optimizer is the job file's: data, model, batches, seed. The group is
  // the sweep's to set.
  v1::JobSpec expected_base = Base();
  EXPECT_EQ(sweep->base().SerializeAsString(), expected_base.SerializeAsString());
  ASSERT_EQ(sweep->parameters_size(), 1);
  EXPECT_EQ(sweep->parameters(0).path(), "optimizer");
  ASSERT_EQ(sweep->parameters(0).values().values_size(), 4);
  // Each value is the racer's whole optimizer as a JSON object, which reads back as exactly
  // the optimizer ParseRacer made of it.
  std::vector<std::string> labels;
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(sweep->parameters(0).values().values(i).has_struct_value()) << i;
    absl::StatusOr<v1::Optimizer> optimizer = TrialOptimizer(*sweep, TrialOf(*sweep, i));
    ASSERT_OK(optimizer);
    absl::StatusOr<v1::Optimizer> parsed = ParseRacer(racers[i], Base().optimizer());
    ASSERT_OK(parsed);
    EXPECT_EQ(optimizer->SerializeAsString(), parsed->SerializeAsString()) << racers[i];
    labels.push_back(RacerLabel(*optimizer));
  }
  // Adam without a rate keeps the job file's Adam (its rate and betas); a given rate
  // replaces the rate alone; RMSprop, not the file's kind, gets PyTorch's default.
  EXPECT_THAT(labels, ElementsAre("sgd:0.01", "adam:0.003", "rmsprop:0.01", "adam:0.01"));
  const auto& adam = sweep->parameters(0).values().values(3).struct_value().fields().at("adam");
  EXPECT_DOUBLE_EQ(adam.struct_value().fields().at("learningRate").number_value(), 0.01);
  EXPECT_DOUBLE_EQ(adam.struct_value().fields().at("beta1").number_value(), 0.8);
  const auto& rmsprop =
      sweep->parameters(0).values().values(2).struct_value().fields().at("rmsprop");
  EXPECT_TRUE(rmsprop.struct_value().fields().empty());
  // The whole grid, one trial per racer, all at once, every one to its end, compared on the
  // held-out data the job file sets aside.
  EXPECT_EQ(sweep->sampling(), v1::GRID);
  EXPECT_EQ(sweep->trials(), 0);
  EXPECT_EQ(sweep->max_concurrent_trials(), 4);
  EXPECT_FALSE(sweep->has_early_stopping());
  EXPECT_EQ(sweep->objective().metric(), v1::VALIDATION_LOSS);
}

TEST(RaceSweepTest, WithoutAValidationSplitTheObjectiveIsTheTrainingLoss) {
  v1::JobSpec base = Base();
  base.clear_name();
  base.mutable_training()->clear_validation_fraction();
  absl::StatusOr<v1::SweepSpec> sweep = RaceSweep(base, {"adam", "rmsprop"}, "jobs/house.json");
  ASSERT_OK(sweep);
  EXPECT_EQ(sweep->objective().metric(), v1::TRAIN_LOSS);
  EXPECT_EQ(sweep->name(), "jobs/house.json race");
  EXPECT_EQ(sweep->max_concurrent_trials(), 2);
}

TEST(RaceSweepTest, RefusesWhatCannotRaceNamingTheFix) {
  EXPECT_THAT(RaceSweep(Base(), {"adam"}, "f"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least two")));
  EXPECT_THAT(RaceSweep(Base(), {"adam", "lion"}, "f"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"lion\" is no optimizer")));
  EXPECT_THAT(RaceSweep(Base(), {"adam", "sgd"}, "f"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sgd:0.01")));
  EXPECT_THAT(RaceSweep(Base(), {"adam", "rmsprop:fast"}, "f"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be a number > 0")));
  EXPECT_THAT(RaceSweep(Base(), {"adam", "adam:0.003"}, "f"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("adam:0.003 again")));
  v1::JobSpec range = Base();
  range.mutable_lr_find();
  EXPECT_THAT(RaceSweep(range, {"adam", "sgd:0.1"}, "f"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("remove lrFind")));
  // Every racer runs at once, as a sweep's concurrent trials, which the server bounds.
  std::vector<std::string> many;
  for (int i = 1; i <= kMaxRacers + 1; ++i) many.push_back(absl::StrCat("adam:", i));
  EXPECT_THAT(RaceSweep(Base(), many, "f"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat("at most ", kMaxRacers, " (got 65)"))));
  many.pop_back();
  EXPECT_OK(RaceSweep(Base(), many, "f").status());
}

TEST(RaceSweepTest, SgdAloneTakesTheJobFilesSgdRate) {
  v1::JobSpec base = Base();
  base.mutable_optimizer()->mutable_sgd()->set_learning_rate(0.02);
  absl::StatusOr<v1::SweepSpec> sweep = RaceSweep(base, {"sgd", "adam"}, "f");
  ASSERT_OK(sweep);
  EXPECT_EQ(RacerLabel(*TrialOptimizer(*sweep, TrialOf(*sweep, 0))), "sgd:0.02");
  EXPECT_EQ(RacerLabel(*TrialOptimizer(*sweep, TrialOf(*sweep, 1))), "adam:0.001");
}

TEST(TrialOptimizerTest, ReadsANamedOptimizerAgainstTheBaseAndRefusesOtherSweeps) {
  absl::StatusOr<v1::SweepSpec> sweep = RaceSweep(Base(), {"adam", "rmsprop"}, "f");
  ASSERT_OK(sweep);
  // A sweep file may name the optimizer: "adam" keeps the base's Adam, as the server does.
  v1::Trial named = TrialOf(*sweep, 0);
  named.mutable_parameters(0)->mutable_value()->set_string_value("adam");
  EXPECT_EQ(RacerLabel(*TrialOptimizer(*sweep, named)), "adam:0.003");
  v1::Trial number = TrialOf(*sweep, 0);
  number.mutable_parameters(0)->mutable_value()->set_number_value(3);
  EXPECT_THAT(TrialOptimizer(*sweep, number),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is no optimizer")));
  v1::SweepSpec wider = *sweep;
  wider.add_parameters()->set_path("training.batchSize");
  EXPECT_THAT(TrialOptimizer(wider, TrialOf(*sweep, 0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no race")));
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
