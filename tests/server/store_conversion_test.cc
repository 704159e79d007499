// The job manager's checkpoints and models in the store's messages and back: every bit of
// every float survives the trip through the stored bytes, which a resumed run needs to stay
// on its trajectory.
#include "server/jobs/store_conversion.h"

#include <bit>
#include <cstdint>
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

// Through the bytes the store writes, as a reopened store reads them.
template <typename Message>
Message ThroughBytes(const Message& message) {
  Message parsed;
  EXPECT_TRUE(parsed.ParseFromString(message.SerializeAsString()));
  return parsed;
}

TEST(StoreConversionTest, CheckpointRoundTripsBitExactly) {
  const TrainerCheckpoint original = SampleCheckpoint();
  absl::StatusOr<TrainerCheckpoint> decoded = FromStored(ThroughBytes(ToStored(original)));
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

TEST(StoreConversionTest, NonFiniteAndSignedZeroValuesKeepTheirBits) {
  TrainerCheckpoint original = SampleCheckpoint();
  const double nan_with_payload = std::bit_cast<double>(uint64_t{0x7ff8000000000abc});
  original.epoch_loss_sum = nan_with_payload;
  original.diagnosis.diverged_loss = -std::numeric_limits<double>::infinity();
  original.diagnosis.step_curve.pending_sum = -0.0;
  original.parameters[0].bias = {std::bit_cast<float>(uint32_t{0x7fc00123}), -0.0f};
  absl::StatusOr<TrainerCheckpoint> decoded = FromStored(ThroughBytes(ToStored(original)));
  ASSERT_OK(decoded);
  EXPECT_TRUE(SameBits(decoded->epoch_loss_sum, nan_with_payload));
  EXPECT_TRUE(SameBits(decoded->diagnosis.diverged_loss, original.diagnosis.diverged_loss));
  EXPECT_TRUE(SameBits(decoded->diagnosis.step_curve.pending_sum, -0.0));
  EXPECT_EQ(std::memcmp(decoded->parameters[0].bias.data(), original.parameters[0].bias.data(),
                        2 * sizeof(float)),
            0);
}

TEST(StoreConversionTest, LayersWhoseShapeAndWeightsDisagreeAreDataLoss) {
  store::v1::Checkpoint checkpoint = ToStored(SampleCheckpoint());
  checkpoint.mutable_parameters(0)->set_rows(3);  // 3 x 3 with 6 weights
  EXPECT_THAT(FromStored(checkpoint).status(),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("3 x 3 with 6 weights")));
  store::v1::Model model;
  model.add_activations(static_cast<store::v1::Activation>(42));
  EXPECT_THAT(FromStored(model).status(),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("unknown activation")));
}

TEST(StoreConversionTest, ModelRoundTrips) {
  TrainedModel model;
  model.inputs = 3;
  model.parameters = SampleCheckpoint().parameters;
  model.activations = {Activation::kTanh, Activation::kIdentity};
  model.loss.kind = LossKind::kCategoricalCrossEntropy;
  model.loss.class_weights = {1.0f, 2.0f};
  model.loss.label_smoothing = 0.1f;
  model.feature_names = {"a", "b", ""};
  model.class_names = {"cat", "dog"};
  absl::StatusOr<TrainedModel> decoded = FromStored(ThroughBytes(ToStored(model)));
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
