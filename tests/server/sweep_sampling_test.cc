// Grid and seeded random sampling of a sweep's trials, and the job spec each trial runs.
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "server/sweeps/parameter_paths.h"
#include "server/sweeps/sweep_spec.h"
#include "server/sweeps/trial_sampling.h"
#include "tests/testing/json_proto.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::SweepSpec SweepFromJson(const std::string& json) {
  const auto spec = ::descent::testing::ParseJsonProto<v1::SweepSpec>(json);
  EXPECT_OK(ValidateSweepSpec(spec));
  return spec;
}

std::vector<std::string> Texts(const TrialValues& values) {
  std::vector<std::string> texts;
  for (const auto& value : values) texts.push_back(ValueText(value));
  return texts;
}

constexpr char kRandomSweep[] = R"({
  "base": {"dataset": {"builtin": {"name": "house_prices"}}, "loss": "MEAN_SQUARED_ERROR",
           "optimizer": {"adam": {}}, "training": {"validationFraction": 0.2}},
  "parameters": [
    {"path": "optimizer", "values": ["sgd", "adam", "rmsprop"]},
    {"path": "optimizer.learningRate", "logUniform": {"min": 1e-4, "max": 0.1}},
    {"path": "training.batchSize", "intRange": {"min": 16, "max": 64, "step": 16}},
    {"path": "training.validationFraction", "uniform": {"min": 0.1, "max": 0.3}}
  ],
  "trials": 40, "seed": 11
})";

TEST(TrialSamplingTest, GridEnumeratesEveryCombinationWithTheLastParameterFastest) {
  const v1::SweepSpec spec = SweepFromJson(R"({
    "base": {"loss": "MEAN_SQUARED_ERROR", "optimizer": {"adam": {}},
             "training": {"validationFraction": 0.2}},
    "parameters": [{"path": "optimizer", "values": ["sgd", "adam"]},
                   {"path": "training.batchSize", "intRange": {"min": 8, "max": 24, "step": 8}}]
  })");
  EXPECT_EQ(SamplingOf(spec), v1::GRID);
  const auto trials = SampleTrials(spec);
  ASSERT_OK(trials.status());
  ASSERT_EQ(trials->size(), 6u);
  EXPECT_THAT(Texts((*trials)[0]), ElementsAre("\"sgd\"", "8"));
  EXPECT_THAT(Texts((*trials)[1]), ElementsAre("\"sgd\"", "16"));
  EXPECT_THAT(Texts((*trials)[2]), ElementsAre("\"sgd\"", "24"));
  EXPECT_THAT(Texts((*trials)[5]), ElementsAre("\"adam\"", "24"));

  v1::SweepSpec first_four = spec;
  first_four.set_sampling(v1::GRID);
  first_four.set_trials(4);
  EXPECT_EQ(SampleTrials(first_four)->size(), 4u);
  first_four.set_trials(7);
  EXPECT_THAT(SampleTrials(first_four).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("the grid has 6")));
}

TEST(TrialSamplingTest, GridRefusesContinuousRanges) {
  v1::SweepSpec spec = SweepFromJson(kRandomSweep);
  spec.set_sampling(v1::GRID);
  spec.set_trials(0);
  EXPECT_THAT(SampleTrials(spec).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("parameters[1] (optimizer.learningRate) is a continuous range")));
}

TEST(TrialSamplingTest, RandomIsReproducibleFromTheSeedAndStaysInsideEachDomain) {
  const v1::SweepSpec spec = SweepFromJson(kRandomSweep);
  EXPECT_EQ(SamplingOf(spec), v1::RANDOM);
  const auto trials = SampleTrials(spec);
  ASSERT_OK(trials.status());
  ASSERT_EQ(trials->size(), 40u);
  const auto again = SampleTrials(spec);
  std::set<std::string> optimizers;
  std::set<double> batch_sizes;
  double lowest_rate = 1, highest_rate = 0;
  for (size_t t = 0; t < trials->size(); ++t) {
    const TrialValues& values = (*trials)[t];
    EXPECT_EQ(Texts(values), Texts((*again)[t])) << "trial " << t;
    optimizers.insert(values[0].string_value());
    const double rate = values[1].number_value();
    EXPECT_GE(rate, 1e-4);
    EXPECT_LT(rate, 0.1);
    lowest_rate = std::min(lowest_rate, rate);
    highest_rate = std::max(highest_rate, rate);
    batch_sizes.insert(values[2].number_value());
    EXPECT_GE(values[3].number_value(), 0.1);
    EXPECT_LT(values[3].number_value(), 0.3);
  }
  EXPECT_EQ(optimizers, (std::set<std::string>{"adam", "rmsprop", "sgd"}));
  EXPECT_EQ(batch_sizes, (std::set<double>{16, 32, 48, 64}));
  // Log-uniform over three decades: 40 draws reach both the lowest and the highest decade.
  EXPECT_LT(lowest_rate, 1e-3);
  EXPECT_GT(highest_rate, 1e-2);

  // Another seed draws other trials; more trials keep the first ones.
  v1::SweepSpec reseeded = spec;
  reseeded.set_seed(12);
  EXPECT_NE(Texts((*SampleTrials(reseeded))[0]), Texts((*trials)[0]));
  v1::SweepSpec more = spec;
  more.set_trials(60);
  const auto more_trials = SampleTrials(more);
  for (size_t t = 0; t < trials->size(); ++t) {
    EXPECT_EQ(Texts((*more_trials)[t]), Texts((*trials)[t])) << "trial " << t;
  }
}

TEST(TrialSamplingTest, TrialSpecSetsEveryValueInOrderAndTheGroup) {
  const v1::SweepSpec spec = SweepFromJson(kRandomSweep);
  const auto trials = SampleTrials(spec);
  ASSERT_OK(trials.status());
  for (int t = 0; t < 5; ++t) {
    const TrialValues& values = (*trials)[t];
    const auto trial = TrialSpec(spec, values, t, "sweep-0123456789ab");
    ASSERT_OK(trial.status());
    EXPECT_EQ(trial->group(), "sweep-0123456789ab");
    const v1::Optimizer& optimizer = trial->optimizer();
    const std::string& chosen = values[0].string_value();
    const double rate = chosen == "sgd"    ? optimizer.sgd().learning_rate()
                        : chosen == "adam" ? optimizer.adam().learning_rate()
                                           : optimizer.rmsprop().learning_rate();
    EXPECT_DOUBLE_EQ(rate, values[1].number_value()) << chosen;
    EXPECT_EQ(trial->training().batch_size(), values[2].number_value());
    EXPECT_DOUBLE_EQ(trial->training().validation_fraction(), values[3].number_value());
  }
}

TEST(TrialSamplingTest, TrialSpecNamesTheTrialAndThePathOfAValueThatDoesNotFit) {
  const v1::SweepSpec spec = SweepFromJson(R"({
    "base": {"loss": "MEAN_SQUARED_ERROR", "training": {"validationFraction": 0.2}},
    "parameters": [{"path": "training.batchSize", "values": [32, "big"]}]
  })");
  const auto trials = SampleTrials(spec);
  ASSERT_OK(trials.status());
  EXPECT_OK(TrialSpec(spec, (*trials)[0], 0, "g").status());
  EXPECT_THAT(TrialSpec(spec, (*trials)[1], 1, "g").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("trial 1, parameters[0]: \"training.batchSize\"")));
}

}  // namespace
}  // namespace descent::server
