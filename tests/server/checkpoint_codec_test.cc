#include "server/store/checkpoint_codec.h"

#include <cstring>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::testing::StatusIs;
using ::testing::ElementsAre;

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

TrainerCheckpoint SampleCheckpoint() {
  TrainerCheckpoint checkpoint;
  checkpoint.step = 37;
  checkpoint.epoch = 2;
  LayerParameters layer;
  layer.weight = Matrix(2, 3, {1.5f, -2.25f, 0.1f, std::numeric_limits<float>::denorm_min(),
                               -0.0f, 3e30f});
  layer.bias = {0.5f, -0.125f};
  checkpoint.parameters = {layer};
  checkpoint.optimizer.steps = 37;
  checkpoint.optimizer.buffers = {{0.1f, 0.2f}, {}, {7.0f}};
  EpochSummary first;
  first.epoch = 1;
  first.last_step = 18;
  first.train.loss = 0.1 + 0.2;
  first.train.accuracy = 0.75;
  EpochSummary second = first;
  second.epoch = 2;
  second.last_step = 36;
  EvalMetrics validation;
  validation.loss = 0.4;
  validation.mae = 0.3;
  validation.rmse = 0.5;
  validation.r2 = -1.0;
  second.validation = validation;
  checkpoint.epochs = {first, second};
  checkpoint.epoch_loss_sum = 1.0 / 3.0;
  checkpoint.epoch_metric_sums = {1, 2, 3};
  checkpoint.diagnosis.steps = 37;
  checkpoint.diagnosis.first_loss = 2.0;
  checkpoint.diagnosis.step_curve.means = {2.0, 1.0};
  checkpoint.diagnosis.step_curve.last_steps = {16, 32};
  checkpoint.diagnosis.step_curve.bucket_width = 16;
  checkpoint.diagnosis.epoch_curve.pending_count = 1;
  return checkpoint;
}

TEST(CheckpointCodecTest, CheckpointRoundTripsBitExactly) {
  const TrainerCheckpoint original = SampleCheckpoint();
  absl::StatusOr<TrainerCheckpoint> decoded = DecodeCheckpoint(EncodeCheckpoint(original));
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->step, 37);
  EXPECT_EQ(decoded->epoch, 2);
  ASSERT_EQ(decoded->parameters.size(), 1u);
  EXPECT_EQ(decoded->parameters[0].weight.rows(), 2);
  EXPECT_EQ(decoded->parameters[0].weight.cols(), 3);
  EXPECT_EQ(std::memcmp(decoded->parameters[0].weight.data(), original.parameters[0].weight.data(),
                        6 * sizeof(float)),
            0);
  EXPECT_THAT(decoded->parameters[0].bias, ElementsAre(0.5f, -0.125f));
  EXPECT_EQ(decoded->optimizer.steps, 37);
  EXPECT_EQ(decoded->optimizer.buffers, original.optimizer.buffers);
  // Epoch summaries are stored as events, not in the checkpoint.
  EXPECT_TRUE(decoded->epochs.empty());
  EXPECT_TRUE(SameBits(decoded->epoch_loss_sum, 1.0 / 3.0));
  EXPECT_THAT(decoded->epoch_metric_sums, ElementsAre(1, 2, 3));
  EXPECT_EQ(decoded->diagnosis.step_curve.means, original.diagnosis.step_curve.means);
  EXPECT_EQ(decoded->diagnosis.step_curve.last_steps, original.diagnosis.step_curve.last_steps);
  EXPECT_EQ(decoded->diagnosis.step_curve.bucket_width, 16);
  EXPECT_EQ(decoded->diagnosis.epoch_curve.pending_count, 1);
  EXPECT_EQ(decoded->diagnosis.first_loss, 2.0);
}

TEST(CheckpointCodecTest, TruncatedOrForeignBytesAreDataLoss) {
  const std::string bytes = EncodeCheckpoint(SampleCheckpoint());
  for (size_t length : {size_t{0}, size_t{5}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_THAT(DecodeCheckpoint(bytes.substr(0, length)).status(),
                StatusIs(absl::StatusCode::kDataLoss, ::testing::_))
        << length;
  }
  EXPECT_THAT(DecodeCheckpoint(bytes + "x").status(),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("corrupt")));
  TrainedModel model;
  EXPECT_THAT(DecodeCheckpoint(EncodeModel(model)).status(),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("format")));
}

TEST(CheckpointCodecTest, ModelRoundTrips) {
  TrainedModel model;
  model.inputs = 3;
  model.parameters = SampleCheckpoint().parameters;
  model.activations = {Activation::kTanh, Activation::kIdentity};
  model.loss.kind = LossKind::kCategoricalCrossEntropy;
  model.loss.class_weights = {1.0f, 2.0f};
  model.loss.label_smoothing = 0.1f;
  model.feature_names = {"a", "b", ""};
  model.class_names = {"cat", "dog"};
  absl::StatusOr<TrainedModel> decoded = DecodeModel(EncodeModel(model));
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->inputs, 3);
  EXPECT_THAT(decoded->activations, ElementsAre(Activation::kTanh, Activation::kIdentity));
  EXPECT_EQ(decoded->loss.kind, LossKind::kCategoricalCrossEntropy);
  EXPECT_THAT(decoded->loss.class_weights, ElementsAre(1.0f, 2.0f));
  EXPECT_EQ(decoded->loss.label_smoothing, 0.1f);
  EXPECT_THAT(decoded->feature_names, ElementsAre("a", "b", ""));
  EXPECT_THAT(decoded->class_names, ElementsAre("cat", "dog"));
  ASSERT_EQ(decoded->parameters.size(), 1u);
  EXPECT_THAT(decoded->parameters[0].bias, ElementsAre(0.5f, -0.125f));
}

}  // namespace
}  // namespace descent::server
