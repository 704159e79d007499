// Sweep files: parameter paths resolved against JobSpec, values set at them, and what a bad
// file is refused with.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/sweeps/parameter_paths.h"
#include "server/sweeps/sweep_spec.h"
#include "server/sweeps/trial_sampling.h"
#include "tests/testing/json_proto.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

v1::SweepSpec SweepFromJson(const std::string& json) {
  return ::descent::testing::ParseJsonProto<v1::SweepSpec>(json);
}

google::protobuf::Value JsonValue(const std::string& json) {
  return ::descent::testing::ParseJsonProto<google::protobuf::Value>(json);
}


constexpr char kBase[] = R"("base": {
    "dataset": {"builtin": {"name": "house_prices", "samples": 200}},
    "model": {"hiddenLayers": [{"units": 8}]},
    "loss": "MEAN_SQUARED_ERROR",
    "optimizer": {"adam": {"learningRate": 0.001, "beta1": 0.8}},
    "training": {"epochs": 5, "batchSize": 32, "validationFraction": 0.2}
  })";

std::string Sweep(const std::string& rest) { return std::string("{") + kBase + ", " + rest + "}"; }

TEST(ParameterPathTest, ResolvesJsonAndProtoNamesAndChoicesThroughTheOptimizer) {
  for (const char* path : {"optimizer.adam.learningRate", "optimizer.adam.learning_rate",
                           "training.batchSize", "model.hiddenLayers", "optimizer",
                           "optimizer.learningRate", "loss"}) {
    EXPECT_TRUE(ResolveParameterPath(path, "parameters[0].path").ok()) << path;
  }
  ASSERT_OK(ResolveParameterPath("optimizer.learningRate", "p").status());
  EXPECT_TRUE(ResolveParameterPath("optimizer.learningRate", "p")->through_oneof);
  EXPECT_FALSE(ResolveParameterPath("optimizer.adam.learningRate", "p")->through_oneof);
}

TEST(ParameterPathTest, RefusesUnknownFieldsNamingTheSegmentAndTheFieldsThereAre) {
  EXPECT_THAT(ResolveParameterPath("optimizer.adam.learningRat", "parameters[1].path").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("parameters[1].path"), HasSubstr("optimizer.adam has no "
                                                                         "field \"learningRat\""),
                             HasSubstr("learningRate"))));
  // Momentum is SGD's and RMSprop's, not every optimizer's: no path through the choice.
  EXPECT_THAT(ResolveParameterPath("optimizer.momentum", "p").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no field \"momentum\"")));
  EXPECT_THAT(ResolveParameterPath("training.batchSize.x", "p").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("end the path there")));
  EXPECT_THAT(ResolveParameterPath("group", "p").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sets every trial's group")));
  EXPECT_THAT(ResolveParameterPath("", "parameters[0].path").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parameters[0].path is empty")));
}

TEST(SetParameterTest, SetsScalarsListsAndChoices) {
  v1::SweepSpec sweep = SweepFromJson(Sweep(R"("parameters": [])"));
  v1::JobSpec spec = sweep.base();
  ASSERT_OK(SetParameter("training.batchSize", JsonValue("64"), &spec));
  EXPECT_EQ(spec.training().batch_size(), 64);
  ASSERT_OK(SetParameter("model.hiddenLayers", JsonValue(R"([{"units": 16}, {"units": 4}])"),
                         &spec));
  ASSERT_EQ(spec.model().hidden_layers_size(), 2);  // replaced, not appended
  EXPECT_EQ(spec.model().hidden_layers(1).units(), 4);
  // Naming the optimizer in use keeps its options; naming another starts from its defaults.
  ASSERT_OK(SetParameter("optimizer", JsonValue(R"("adam")"), &spec));
  EXPECT_DOUBLE_EQ(spec.optimizer().adam().beta1(), 0.8);
  ASSERT_OK(SetParameter("optimizer", JsonValue(R"("rmsprop")"), &spec));
  ASSERT_TRUE(spec.optimizer().has_rmsprop());
  EXPECT_FALSE(spec.optimizer().rmsprop().has_learning_rate());
  ASSERT_OK(SetParameter("optimizer.learningRate", JsonValue("0.02"), &spec));
  EXPECT_DOUBLE_EQ(spec.optimizer().rmsprop().learning_rate(), 0.02);
  ASSERT_OK(SetParameter("optimizer", JsonValue(R"({"sgd": {"learningRate": 0.003}})"), &spec));
  EXPECT_DOUBLE_EQ(spec.optimizer().sgd().learning_rate(), 0.003);
  EXPECT_FALSE(spec.optimizer().has_rmsprop());
  ASSERT_OK(SetParameter("loss", JsonValue(R"("BINARY_CROSS_ENTROPY")"), &spec));
  EXPECT_EQ(spec.loss(), v1::BINARY_CROSS_ENTROPY);
}

TEST(SetParameterTest, RefusesValuesThatDoNotFitNamingPathAndValue) {
  v1::JobSpec spec = SweepFromJson(Sweep(R"("parameters": [])")).base();
  EXPECT_THAT(SetParameter("training.batchSize", JsonValue(R"("big")"), &spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("\"training.batchSize\""), HasSubstr("\"big\""))));
  EXPECT_THAT(SetParameter("optimizer", JsonValue(R"("adamw")"), &spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("\"adamw\""), HasSubstr("sgd, adam, rmsprop, adagrad"))));
  spec.clear_optimizer();
  EXPECT_THAT(SetParameter("optimizer.learningRate", JsonValue("0.1"), &spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no kind is chosen")));
}

TEST(SweepSpecTest, RefusesBadFilesNamingTheField) {
  struct Case {
    std::string rest;
    std::string message;
  };
  const Case cases[] = {
      {R"("parameters": [])", "parameters is empty"},
      {R"("parameters": [{"path": "optimizer.adam.lr", "values": [0.1]}])",
       "parameters[0].path"},
      {R"("parameters": [{"path": "training.batchSize", "uniform": {"min": 1, "max": 2}}])",
       "parameters[0].uniform needs a float or double field"},
      {R"("parameters": [{"path": "optimizer.adam.learningRate", "intRange": {"min": 1, "max": 2}}])",
       "parameters[0].intRange needs an integer field"},
      {R"("parameters": [{"path": "optimizer.adam.learningRate", "logUniform": {"min": 0, "max": 1}}])",
       "parameters[0].logUniform must have 0 < min < max"},
      {R"("parameters": [{"path": "optimizer.adam.learningRate"}])", "parameters[0] has no domain"},
      {R"("parameters": [{"path": "loss", "values": []}])", "parameters[0].values is empty"},
      {R"("parameters": [{"path": "loss", "values": ["MEAN_SQUARED_ERROR"]}], "trials": 5000)",
       "trials must be 0 .. 1000"},
      {R"("parameters": [{"path": "loss", "values": ["MEAN_SQUARED_ERROR"]}],
          "objective": {"metric": "VALIDATION_ACCURACY"})",
       "needs a classifier"},
      {R"("parameters": [{"path": "loss", "values": ["MEAN_SQUARED_ERROR"]}],
          "earlyStopping": {"asha": {"minSteps": 0}})",
       "earlyStopping.asha.minSteps must be > 0"},
      {R"("parameters": [{"path": "loss", "values": ["MEAN_SQUARED_ERROR"]}],
          "earlyStopping": {"asha": {"minSteps": 10, "reductionFactor": 1}})",
       "earlyStopping.asha.reductionFactor must be > 1"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ValidateSweepSpec(SweepFromJson(Sweep(c.rest))),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.rest;
  }
  v1::SweepSpec no_validation = SweepFromJson(Sweep(R"("parameters": [{"path": "loss",
      "values": ["MEAN_SQUARED_ERROR"]}])"));
  no_validation.mutable_base()->mutable_training()->set_validation_fraction(0);
  EXPECT_THAT(ValidateSweepSpec(no_validation),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("set base.training.validationFraction")));
  no_validation.mutable_objective()->set_metric(v1::TRAIN_LOSS);
  EXPECT_OK(ValidateSweepSpec(no_validation));
}

TEST(SweepSpecTest, ObjectiveDefaultsToMinimisingTheValidationLoss) {
  EXPECT_EQ(MetricOf(v1::Objective()), v1::VALIDATION_LOSS);
  EXPECT_EQ(GoalOf(v1::Objective()), v1::MINIMIZE);
  v1::Objective accuracy;
  accuracy.set_metric(v1::VALIDATION_ACCURACY);
  EXPECT_EQ(GoalOf(accuracy), v1::MAXIMIZE);
  EXPECT_TRUE(IsBetter(0.1, std::nan(""), v1::MINIMIZE));
  EXPECT_FALSE(IsBetter(std::nan(""), 5.0, v1::MAXIMIZE));
}

}  // namespace
}  // namespace descent::server
