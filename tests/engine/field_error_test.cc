// Errors about a spec field carry its path as data, and the engine's spec checks use them.
#include "engine/field_error.h"

#include <limits>
#include <optional>
#include <string>

#include "engine/dataset.h"
#include "engine/loss.h"
#include "engine/train_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace descent {
namespace {

using ::descent::testing::StatusIs;
using ::testing::Optional;

TEST(FieldErrorTest, TheMessageIsThePathAndTheProblemAndThePathRidesAlong) {
  const absl::Status status = InvalidFieldError("optimizer.adam.beta1", " must be < 1 (got 1)");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               "optimizer.adam.beta1 must be < 1 (got 1)"));
  EXPECT_THAT(ErrorField(status), Optional(std::string("optimizer.adam.beta1")));
  EXPECT_EQ(FieldError(absl::StatusCode::kNotFound, "dataset.builtin.name", ": no").code(),
            absl::StatusCode::kNotFound);
}

TEST(FieldErrorTest, OtherStatusesNameNoField) {
  EXPECT_EQ(ErrorField(absl::OkStatus()), std::nullopt);
  // Starts like a field path, but is not a field error: nothing is read from the text.
  EXPECT_EQ(ErrorField(absl::InvalidArgumentError("optimizer state is for 2 tensors")),
            std::nullopt);
}

TEST(FieldErrorTest, SpecChecksNameTheirField) {
  TrainSpec spec;
  spec.optimizer.kind = OptimizerKind::kAdam;
  spec.optimizer.learning_rate = -0.1;
  EXPECT_THAT(ErrorField(Validate(spec)), Optional(std::string("optimizer.adam.learning_rate")));

  spec = TrainSpec{};
  spec.training.epochs = 0;
  EXPECT_THAT(ErrorField(Validate(spec)), Optional(std::string("training.epochs")));

  LossSpec loss;
  loss.kind = LossKind::kBinaryCrossEntropy;
  loss.pos_weight = {1.0f, 2.0f};
  EXPECT_THAT(ErrorField(MakeLoss(loss, 1).status()),
              Optional(std::string("loss_options.pos_weight")));
  // No field of the spec to blame: the caller names its context.
  EXPECT_EQ(ErrorField(MakeLoss(loss, 0).status()), std::nullopt);

  Dataset dataset;
  dataset.features = Matrix(2, 1, {1.0f, 2.0f});
  dataset.targets = Matrix(2, 1, {0.0f, std::numeric_limits<float>::quiet_NaN()});
  EXPECT_THAT(ErrorField(ValidateDataset(dataset)),
              Optional(std::string("dataset.inline.targets.values[1]")));

  EXPECT_THAT(ErrorField(MakeBuiltinDataset("mnist", BuiltinOptions{}).status()),
              Optional(std::string("dataset.builtin.name")));
}

}  // namespace
}  // namespace descent
