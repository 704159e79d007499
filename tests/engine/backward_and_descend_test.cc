// Network::BackwardAndDescend (backward and a plain SGD step in one, the update folded into
// the large weight-gradient products) against Backward followed by the SGD optimizer's Step,
// and the trainer that takes it for plain SGD.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "engine/blas.h"
#include "engine/network.h"
#include "engine/optimizer.h"
#include "engine/trainer.h"
#include "gtest/gtest.h"

namespace descent {
namespace {

constexpr double kLearningRate = 0.05;

Matrix RandomMatrix(int rows, int cols, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  Matrix m(rows, cols);
  for (float& v : m.span()) v = uniform(engine);
  return m;
}

Network MakeNetwork(int inputs, int hidden, int outputs) {
  ModelSpec model;
  model.hidden_layers = {{.units = hidden, .activation = Activation::kRelu}};
  return Network::Create(inputs, outputs, model, 3).value();
}

std::unique_ptr<Optimizer> PlainSgd(Network& network) {
  OptimizerSpec spec;
  spec.kind = OptimizerKind::kSgd;
  spec.learning_rate = kLearningRate;
  return MakeOptimizer(spec, network.Parameters());
}

std::vector<float> Flatten(Network& network) {
  std::vector<float> values;
  values.reserve(static_cast<size_t>(network.ParameterCount()));
  for (const ParameterRef& param : network.Parameters()) {
    values.insert(values.end(), param.value.begin(), param.value.end());
  }
  return values;
}

// `steps` steps on the same batch both ways; returns (separate, in one) parameters.
std::pair<std::vector<float>, std::vector<float>> StepBothWays(int inputs, int hidden, int outputs,
                                                               int batch, int steps) {
  Network separate = MakeNetwork(inputs, hidden, outputs);
  Network together = MakeNetwork(inputs, hidden, outputs);
  std::unique_ptr<Optimizer> sgd = PlainSgd(separate);
  EXPECT_TRUE(sgd->IsPlainDescent());
  const Matrix x = RandomMatrix(batch, inputs, 1);
  const Matrix upstream = RandomMatrix(batch, outputs, 2);
  for (int step = 0; step < steps; ++step) {
    separate.Forward(x);
    separate.Backward(x, upstream);
    sgd->Step(separate.Parameters(), kLearningRate);
    together.Forward(x);
    together.BackwardAndDescend(x, upstream, kLearningRate);
  }
  return {Flatten(separate), Flatten(together)};
}

// Small products keep their libraries' kernels and a separate update: the SGD optimizer's
// bits exactly.
TEST(BackwardAndDescendTest, SmallLayersGiveTheOptimizersBits) {
  ASSERT_FALSE(SgemmFoldsScaledAccumulation(Transpose::kYes, Transpose::kNo, 64, 13, 32));
  const auto [separate, together] = StepBothWays(13, 64, 1, 32, 3);
  EXPECT_EQ(together, separate);
}

// Weight-gradient products large enough for OpenBLAS take the update in the product: one
// fused multiply-add per weight instead of a multiply and an add, so after one step a weight
// may differ in its last bit. The second layer's input gradient must still see its weights
// before their update.
TEST(BackwardAndDescendTest, LargeLayersFoldTheUpdateIntoTheProduct) {
  constexpr int kInputs = 256, kHidden = 1024, kOutputs = 1024, kBatch = 136;
  ASSERT_TRUE(
      SgemmFoldsScaledAccumulation(Transpose::kYes, Transpose::kNo, kHidden, kInputs, kBatch));
  ASSERT_TRUE(
      SgemmFoldsScaledAccumulation(Transpose::kYes, Transpose::kNo, kOutputs, kHidden, kBatch));
  Network initial = MakeNetwork(kInputs, kHidden, kOutputs);
  const std::vector<float> before = Flatten(initial);
  const auto [separate, together] = StepBothWays(kInputs, kHidden, kOutputs, kBatch, 1);
  ASSERT_EQ(together.size(), separate.size());
  double worst = 0;         // largest difference, relative to 1 + |parameter|
  double largest_step = 0;  // largest change in the step
  for (size_t i = 0; i < separate.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(together[i]) - separate[i]) /
                                (1 + std::abs(separate[i])));
    largest_step = std::max(largest_step, static_cast<double>(std::abs(separate[i] - before[i])));
  }
  EXPECT_LT(worst, 3e-7);  // a few float ulps
  EXPECT_GT(largest_step, 1e-2);  // the steps moved the parameters far beyond the tolerance
}

// The trainer folds plain SGD unless gradients are clipped (clipping needs them all before
// any update): a clip too large to ever scale gives the unfolded trajectory to compare with.
TEST(BackwardAndDescendTest, TrainerFoldsPlainSgdOnTheSameTrajectory) {
  constexpr int kSamples = 80, kInputs = 512;
  Dataset data;
  data.features = RandomMatrix(kSamples, kInputs, 5);
  data.targets = RandomMatrix(kSamples, 1, 6);
  TrainSpec spec;
  spec.model.hidden_layers = {{.units = 2048, .activation = Activation::kRelu}};
  spec.loss.kind = LossKind::kMeanSquaredError;
  spec.optimizer.kind = OptimizerKind::kSgd;
  spec.optimizer.learning_rate = 0.01;
  spec.training.epochs = 2;
  spec.training.batch_size = 40;
  spec.training.seed = 7;
  ASSERT_TRUE(SgemmFoldsScaledAccumulation(Transpose::kYes, Transpose::kNo, 2048, kInputs, 40));

  auto run = [&](double clip, int64_t* optimizer_steps) {
    TrainSpec run_spec = spec;
    run_spec.training.clip_grad_norm = clip;
    std::unique_ptr<Trainer> trainer = Trainer::Create(run_spec, data).value();
    const TrainResult result = trainer->Run(nullptr);
    EXPECT_EQ(result.steps, 4);
    *optimizer_steps = trainer->Checkpoint().optimizer.steps;
    std::vector<double> losses;
    for (const EpochSummary& epoch : result.epochs) losses.push_back(epoch.train.loss);
    return losses;
  };
  int64_t folded_steps = 0, separate_steps = 0;
  const std::vector<double> folded = run(0, &folded_steps);
  const std::vector<double> separate = run(1e30, &separate_steps);
  ASSERT_EQ(folded.size(), 2u);
  ASSERT_EQ(separate.size(), 2u);
  EXPECT_NE(separate[1], separate[0]);  // it trained
  for (size_t i = 0; i < folded.size(); ++i) {
    EXPECT_NEAR(folded[i], separate[i], 1e-5 * std::abs(separate[i])) << "epoch " << i + 1;
  }
  // The optimizer counted the folded steps as its own (checkpoints resume from them).
  EXPECT_EQ(folded_steps, 4);
  EXPECT_EQ(separate_steps, 4);
}

}  // namespace
}  // namespace descent
