// Each loss learns a small builtin problem to a useful quality on held-out data: the
// validation split, which the trainer never trains on.
#include <memory>
#include <utility>
#include <vector>

#include "engine/dataset.h"
#include "engine/trainer.h"
#include "gtest/gtest.h"

namespace descent {
namespace {

struct Problem {
  const char* dataset;
  int samples;
  LossKind loss;
  std::vector<LayerSpec> hidden;
  double learning_rate;
  int epochs;
};

EpochSummary TrainAndValidate(const Problem& problem) {
  absl::StatusOr<Dataset> data =
      MakeBuiltinDataset(problem.dataset, {.samples = problem.samples, .seed = 7});
  EXPECT_TRUE(data.ok()) << data.status();
  TrainSpec spec;
  spec.model.hidden_layers = problem.hidden;
  spec.loss.kind = problem.loss;
  spec.optimizer.kind = OptimizerKind::kAdam;
  spec.optimizer.learning_rate = problem.learning_rate;
  spec.training.epochs = problem.epochs;
  spec.training.batch_size = 32;
  spec.training.seed = 11;
  spec.training.validation_fraction = 0.2;
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(spec, *std::move(data));
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  const TrainResult result = (*trainer)->Run(nullptr);
  EXPECT_EQ(result.reason, StopReason::kCompleted);
  EXPECT_FALSE(result.epochs.empty());
  EXPECT_TRUE(result.epochs.back().validation.has_value());
  return result.epochs.back();
}

LayerSpec Relu(int units) { return {.units = units, .activation = Activation::kRelu}; }
LayerSpec Tanh(int units) { return {.units = units, .activation = Activation::kTanh}; }

TEST(ConvergenceTest, MeanSquaredErrorFitsHousePrices) {
  const EpochSummary last = TrainAndValidate(
      {"house_prices", 1000, LossKind::kMeanSquaredError, {Relu(32), Relu(16)}, 0.01, 40});
  ASSERT_TRUE(last.validation->r2.has_value());
  EXPECT_GT(*last.validation->r2, 0.8);
}

TEST(ConvergenceTest, BinaryCrossEntropySeparatesSpam) {
  const EpochSummary last =
      TrainAndValidate({"spam", 1000, LossKind::kBinaryCrossEntropy, {Relu(16)}, 0.01, 20});
  ASSERT_TRUE(last.validation->accuracy.has_value());
  EXPECT_GT(*last.validation->accuracy, 0.9);
}

TEST(ConvergenceTest, BinaryCrossEntropySeparatesMoons) {
  const EpochSummary last = TrainAndValidate(
      {"moons", 600, LossKind::kBinaryCrossEntropy, {Tanh(16), Tanh(16)}, 0.02, 40});
  ASSERT_TRUE(last.validation->accuracy.has_value());
  EXPECT_GT(*last.validation->accuracy, 0.9);
}

TEST(ConvergenceTest, CrossEntropyTellsCatsDogsAndBirdsApart) {
  const EpochSummary last = TrainAndValidate(
      {"cat_dog_bird", 900, LossKind::kCategoricalCrossEntropy, {Relu(16)}, 0.01, 20});
  ASSERT_TRUE(last.validation->accuracy.has_value());
  EXPECT_GT(*last.validation->accuracy, 0.85);
}

TEST(ConvergenceTest, CrossEntropyUnwindsSpirals) {
  const EpochSummary last = TrainAndValidate(
      {"spirals", 600, LossKind::kCategoricalCrossEntropy, {Relu(32), Relu(32)}, 0.03, 40});
  ASSERT_TRUE(last.validation->accuracy.has_value());
  EXPECT_GT(*last.validation->accuracy, 0.85);
}

}  // namespace
}  // namespace descent
