#include "client/input_files.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

namespace descent::client {
namespace {

using ::descent::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(JobSpecTest, TheHousePricesExampleParsesAsWritten) {
  absl::StatusOr<v1::JobSpec> spec =
      ReadJobSpec(std::string(DESCENT_SOURCE_DIR) + "/examples/house-prices.json");
  ASSERT_OK(spec);
  EXPECT_EQ(spec->name(), "house-prices");
  EXPECT_EQ(spec->dataset().builtin().name(), "house_prices");
  EXPECT_EQ(spec->dataset().builtin().samples(), 2000);
  EXPECT_EQ(spec->model().hidden_layers(0).units(), 64);
  EXPECT_EQ(spec->model().hidden_layers(0).activation(), v1::RELU);
  EXPECT_EQ(spec->loss(), v1::MEAN_SQUARED_ERROR);
  EXPECT_TRUE(spec->optimizer().adam().has_learning_rate());
  EXPECT_DOUBLE_EQ(spec->optimizer().adam().learning_rate(), 0.001);
  EXPECT_FALSE(spec->optimizer().adam().has_beta1());  // unset: PyTorch's default
  EXPECT_EQ(spec->training().epochs(), 30);
  EXPECT_DOUBLE_EQ(spec->training().validation_fraction(), 0.2);
}

TEST(JobSpecTest, SnakeCaseNamesWorkToo) {
  ASSERT_OK(ParseJobSpec(R"({"training": {"batch_size": 8}})", "inline"));
}

TEST(JobSpecTest, AnUnknownFieldIsAnErrorNamingTheFile) {
  EXPECT_THAT(ParseJobSpec(R"({"optimizer": {"adam": {"learningRat": 0.1}}})", "typo.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("typo.json"), HasSubstr("learningRat"))));
}

TEST(JobSpecTest, EveryExampleParses) {
  for (const char* name :
       {"house-prices", "spam", "cat-dog-bird", "lr-too-high", "lr-too-low", "lr-just-right"}) {
    EXPECT_OK(ReadJobSpec(absl::StrCat(DESCENT_SOURCE_DIR, "/examples/", name, ".json")));
  }
}

TEST(SweepSpecFileTest, TheExampleParsesAndAMistakeIsNamedWhereItIs) {
  const auto example = ReadSweepSpec(absl::StrCat(DESCENT_SOURCE_DIR, "/examples/sweep-optimizers.json"));
  ASSERT_OK(example.status());
  EXPECT_EQ(example->parameters_size(), 2);
  EXPECT_TRUE(example->early_stopping().has_asha());
  const std::string typo = ::descent::testing::WriteTempFile(
      "typo_sweep.json", "{\n  \"base\": {},\n  \"earlyStoping\": {}\n}\n");
  EXPECT_THAT(ReadSweepSpec(typo),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr(":3:"), HasSubstr("earlyStopping"))));
}

// A job file with one mistake on line 7 (`mistake`, a member of "training" or the top level).
std::string FileWith(const std::string& top_level_member) {
  return absl::StrCat(
      "{\n"
      "  \"name\": \"x\",\n"
      "  \"dataset\": {\"builtin\": {\"name\": \"house_prices\"}},\n"
      "  \"model\": {\"hiddenLayers\": [{\"units\": 8, \"activation\": \"RELU\"}]},\n"
      "  \"optimizer\": {\"adam\": {\"learningRate\": 0.01}},\n"
      "  \"training\": {\"epochs\": 3},\n",
      "  ", top_level_member,
      "\n"
      "}\n");
}

TEST(JobSpecTest, AnUnknownEnumValueSaysWhereAndListsTheValidOnes) {
  EXPECT_THAT(ParseJobSpec(FileWith(R"("loss": "MSE")"), "examples/x.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "examples/x.json:7:11: loss: \"MSE\" is not a loss; use one of "
                       "MEAN_SQUARED_ERROR, BINARY_CROSS_ENTROPY, CATEGORICAL_CROSS_ENTROPY"));
  EXPECT_THAT(
      ParseJobSpec(R"({"model": {"hiddenLayers": [{"units": 8, "activation": "relu"}]}})", "j"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("j:1:56: model.hiddenLayers[0].activation: \"relu\" is not an "
                               "activation (did you mean RELU?); use one of IDENTITY, RELU, "),
                     Not(HasSubstr("ACTIVATION_UNSPECIFIED")))));
}

TEST(JobSpecTest, AnUnknownFieldNamesTheNearestValidOne) {
  EXPECT_THAT(ParseJobSpec(FileWith(R"("trainig": {})"), "x.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "x.json:7:3: trainig: unknown field; did you mean training?"));
  EXPECT_THAT(ParseJobSpec(R"({"model": {"hidden_layer": []}})", "x.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "x.json:1:12: model.hidden_layer: unknown field; did you mean "
                       "hidden_layers?"));
  // Nothing close: the valid names instead.
  EXPECT_THAT(ParseJobSpec(R"({"model": {"colour": 1}})", "x.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "x.json:1:12: model.colour: unknown field; the fields of model are "
                       "hiddenLayers, initialization"));
}

TEST(JobSpecTest, KindsNumbersAndOneofsAreCheckedWithTheirPosition) {
  EXPECT_THAT(ParseJobSpec(FileWith(R"("schedule": {"stepSize": 2.5})"), "x.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "x.json:7:28: schedule.stepSize: 2.5 is not a whole number"));
  EXPECT_THAT(ParseJobSpec(R"({"training": {"epochs": "ten"}})", "x.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("x.json:1:25: training.epochs: expected a whole number, found "
                                 "\"ten\"")));
  EXPECT_THAT(ParseJobSpec(R"({"training": {"epochs": 1e10}})", "x.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("1e10 is out of range for a 32-bit integer")));
  EXPECT_THAT(ParseJobSpec(R"({"training": {"seed": -1}})", "x.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("-1 must be >= 0")));
  EXPECT_THAT(ParseJobSpec(R"({"model": {"hiddenLayers": {"units": 8}}})", "x.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "x.json:1:28: model.hiddenLayers: expected a list [...], found an "
                       "object {...}"));
  EXPECT_THAT(ParseJobSpec(R"({"training": {"shuffle": "yes"}})", "x.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("training.shuffle: expected true or false, found a string")));
  EXPECT_THAT(ParseJobSpec("{\"optimizer\": {\"sgd\": {},\n \"adam\": {}}}", "x.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "x.json:2:2: optimizer.adam: only one of sgd, adam, rmsprop, adagrad can "
                       "be set, and sgd is set on line 1; keep one"));
  EXPECT_THAT(ParseJobSpec("{\"name\": \"a\",\n\"name\": \"b\"}", "x.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "x.json:2:1: name: set twice (also on line 1); keep one"));
}

TEST(JobSpecTest, WhatProtobufAcceptsStillParses) {
  // Numbers as strings, enum numbers, null as unset, snake_case: protobuf's JSON mapping.
  absl::StatusOr<v1::JobSpec> spec = ParseJobSpec(
      R"({"training": {"epochs": "4", "batch_size": 2e1, "validationFraction": null},
          "loss": 2, "schedule": {"gamma": "NaN"}})",
      "x.json");
  ASSERT_OK(spec);
  EXPECT_EQ(spec->training().epochs(), 4);
  EXPECT_EQ(spec->training().batch_size(), 20);
  EXPECT_EQ(spec->loss(), v1::BINARY_CROSS_ENTROPY);
}

TEST(JobSpecTest, ASyntaxErrorSaysWhere) {
  EXPECT_THAT(ParseJobSpec("{\n  \"name\": \"x\"\n  \"loss\": \"MEAN_SQUARED_ERROR\"\n}", "x.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "x.json:3:3: expected ',' or '}' after a field, found '\"'"));
}

TEST(JobSpecTest, AMissingFileIsNotFound) {
  EXPECT_THAT(ReadJobSpec("/nonexistent/spec.json"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/spec.json")));
}

}  // namespace
}  // namespace descent::client
