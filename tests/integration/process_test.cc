// The process harness the integration tests run the binaries through: a process that runs
// past its timeout is killed, and the error says what it printed before it stuck (a hung
// CLI or script is otherwise a bare "still running after 3m").
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace descent::integration {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(ProcessTest, AProcessPastItsTimeoutIsKilledAndTheErrorEndsWithWhatItPrinted) {
  const absl::StatusOr<testing::ProcessResult> result = testing::RunProcess(
      {"/bin/sh", "-c", "echo reached the wait; echo on stderr too >&2; exec sleep 60"},
      absl::Seconds(1));
  EXPECT_THAT(result, descent::testing::StatusIs(
                          absl::StatusCode::kDeadlineExceeded,
                          AllOf(HasSubstr("still running after 1s"), HasSubstr("reached the wait"),
                                HasSubstr("on stderr too"))));
}

TEST(ProcessTest, AProcessThatEndsInTimeGivesItsExitCodeAndOutput) {
  const absl::StatusOr<testing::ProcessResult> result =
      testing::RunProcess({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, absl::Seconds(30));
  ASSERT_OK(result);
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_EQ(result->out, "out\n");
  EXPECT_EQ(result->err, "err\n");
}

}  // namespace
}  // namespace descent::integration
