// gMock matchers for absl::Status / absl::StatusOr (Abseil 20220623 ships none).
//   EXPECT_THAT(status, IsOk());
//   EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("learning_rate")));
//   EXPECT_THAT(result, IsOkAndHolds(Eq(5)));
#ifndef DESCENT_TESTS_TESTING_STATUS_MATCHERS_H_
#define DESCENT_TESTS_TESTING_STATUS_MATCHERS_H_

#include <ostream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace descent::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& result) {
  return result.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  if (!status.ok()) *result_listener << "status is " << status;
  return status.ok();
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has code " + std::string(absl::StatusCodeToString(code)) + " and a matching message") {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code &&
         ::testing::Matches(message_matcher)(std::string(status.message()));
}

// An OK absl::StatusOr whose value matches `value_matcher`.
MATCHER_P(IsOkAndHolds, value_matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace descent::testing

#define ASSERT_OK(expr) ASSERT_THAT((expr), ::descent::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT((expr), ::descent::testing::IsOk())

#endif  // DESCENT_TESTS_TESTING_STATUS_MATCHERS_H_
