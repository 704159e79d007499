// Engine errors become request errors by the field path they carry, never by their text.
#include "server/conversion/spec_errors.h"

#include "absl/status/status.h"
#include "engine/field_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::testing::StatusIs;

TEST(AsSpecErrorTest, AFieldErrorNamesTheFieldUnderSpec) {
  EXPECT_THAT(AsSpecError(InvalidFieldError("optimizer.adam.beta1", " must be in [0, 1) (got 1)"),
                          "spec"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "spec.optimizer.adam.beta1 must be in [0, 1) (got 1)"));
}

TEST(AsSpecErrorTest, AnyCodeTheEngineChoseForASpecIsInvalidArgument) {
  EXPECT_THAT(AsSpecError(FieldError(absl::StatusCode::kNotFound, "dataset.builtin.name",
                                     " \"mnist\" is not a builtin dataset"),
                          "spec.dataset.builtin"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "spec.dataset.builtin.name \"mnist\" is not a builtin dataset"));
}

TEST(AsSpecErrorTest, AnErrorWithoutAFieldGetsTheContextEvenIfItReadsLikeAPath) {
  EXPECT_THAT(AsSpecError(absl::InvalidArgumentError("CATEGORICAL_CROSS_ENTROPY needs 2 classes"),
                          "spec.dataset.inline.targets"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "spec.dataset.inline.targets: CATEGORICAL_CROSS_ENTROPY needs 2 classes"));
  EXPECT_THAT(AsSpecError(absl::InvalidArgumentError("optimizer state is for 2 tensors"),
                          "spec.optimizer"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "spec.optimizer: optimizer state is for 2 tensors"));
}

TEST(AsSpecErrorTest, OtherCodesAndOkPassThrough) {
  EXPECT_THAT(AsSpecError(absl::InternalError("disk"), "spec"),
              StatusIs(absl::StatusCode::kInternal, "disk"));
  EXPECT_OK(AsSpecError(absl::OkStatus(), "spec"));
}

}  // namespace
}  // namespace descent::server
