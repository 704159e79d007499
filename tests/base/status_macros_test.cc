#include "base/status_macros.h"

#include <memory>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace descent {
namespace {

using ::descent::testing::IsOkAndHolds;
using ::descent::testing::StatusIs;

absl::Status Step(bool fail, int* calls) {
  ++*calls;
  return fail ? absl::NotFoundError("step failed") : absl::OkStatus();
}

absl::Status TwoSteps(bool first_fails, int* calls) {
  RETURN_IF_ERROR(Step(first_fails, calls));
  RETURN_IF_ERROR(Step(false, calls));
  return absl::OkStatus();
}

TEST(StatusMacrosTest, ReturnIfErrorStopsAtTheFirstError) {
  int calls = 0;
  EXPECT_THAT(TwoSteps(true, &calls), StatusIs(absl::StatusCode::kNotFound, "step failed"));
  EXPECT_EQ(calls, 1);
  calls = 0;
  EXPECT_OK(TwoSteps(false, &calls));
  EXPECT_EQ(calls, 2);
}

absl::StatusOr<std::unique_ptr<int>> MakeInt(int value) {
  if (value < 0) return absl::InvalidArgumentError("value must be >= 0");
  return std::make_unique<int>(value);
}

// Two ASSIGN_OR_RETURNs in one scope, one into a declaration and one into an existing
// variable, with a move-only value.
absl::StatusOr<int> Sum(int a, int b) {
  ASSIGN_OR_RETURN(std::unique_ptr<int> first, MakeInt(a));
  std::unique_ptr<int> second;
  ASSIGN_OR_RETURN(second, MakeInt(b));
  return *first + *second;
}

TEST(StatusMacrosTest, AssignOrReturnMovesTheValueOrReturnsTheError) {
  EXPECT_THAT(Sum(2, 3), IsOkAndHolds(5));
  EXPECT_THAT(Sum(2, -1), StatusIs(absl::StatusCode::kInvalidArgument, "value must be >= 0"));
}

TEST(StatusMacrosDeathTest, CheckNamesTheConditionAndLocation) {
  const int value = 1;
  EXPECT_DEATH(DESCENT_CHECK(value == 2), "status_macros_test.cc:[0-9]+: check failed: value == 2");
}

}  // namespace
}  // namespace descent
