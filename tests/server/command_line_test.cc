// descentd's flag parsing: values in both spellings and forms, and errors that quote the
// argument as typed with the form the flag expects.
#include "server/command_line.h"

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

ABSL_FLAG(absl::Duration, test_interval, absl::Seconds(5), "a duration");
ABSL_FLAG(int, test_workers, 0, "an int");
ABSL_FLAG(int64_t, test_steps, 10'000, "an int64");
ABSL_FLAG(double, test_seconds, 30, "a double");
ABSL_FLAG(std::string, test_listen, "0.0.0.0:50051", "a string");
ABSL_FLAG(std::string, test_file, "", "a string without a default");

namespace descent::server {
namespace {

using ::descent::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kNames[] = {"test_interval", "test_workers", "test_steps",
                                  "test_seconds",  "test_listen",  "test_file"};

absl::Status Parse(std::vector<std::string> args) { return ParseFlags(args, kNames); }

TEST(CommandLineTest, SetsFlagsInEitherSpellingAndEitherForm) {
  ASSERT_OK(Parse({"--test-interval=250ms", "--test_workers", "3", "--test-steps=7",
                   "--test-seconds", "1.5", "-test-listen=127.0.0.1:0", "--test-file="}));
  EXPECT_EQ(absl::GetFlag(FLAGS_test_interval), absl::Milliseconds(250));
  EXPECT_EQ(absl::GetFlag(FLAGS_test_workers), 3);
  EXPECT_EQ(absl::GetFlag(FLAGS_test_steps), 7);
  EXPECT_EQ(absl::GetFlag(FLAGS_test_seconds), 1.5);
  EXPECT_EQ(absl::GetFlag(FLAGS_test_listen), "127.0.0.1:0");
  EXPECT_EQ(absl::GetFlag(FLAGS_test_file), "");
}

TEST(CommandLineTest, ABadValueIsQuotedAsTypedWithTheExpectedForm) {
  EXPECT_THAT(Parse({"--test-interval=5"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--test-interval=5: expected a duration with a unit"),
                             HasSubstr("5s"), Not(HasSubstr("test_interval")))));
  EXPECT_THAT(Parse({"--test_interval", "5"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--test_interval 5: expected a duration")));
  EXPECT_THAT(Parse({"--test-workers=two"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--test-workers=two: expected a whole number, e.g. 0")));
  EXPECT_THAT(Parse({"--test-steps=1e3"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--test-steps=1e3: expected a whole number, e.g. 10000")));
  EXPECT_THAT(Parse({"--test-seconds=soon"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--test-seconds=soon: expected a number, e.g. 30")));
}

TEST(CommandLineTest, UnknownFlagsSuggestTheNearestKnownOne) {
  EXPECT_THAT(Parse({"--test-intervall=5s"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("unknown flag --test-intervall"),
                             HasSubstr("did you mean --test-interval?"))));
  EXPECT_THAT(Parse({"--test-work", "2"}), StatusIs(absl::StatusCode::kInvalidArgument,
                                                    HasSubstr("did you mean --test-workers?")));
  EXPECT_THAT(Parse({"--verbose"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("unknown flag --verbose"), Not(HasSubstr("did you mean")))));
  // absl's own flags are not descentd's.
  EXPECT_THAT(Parse({"--flagfile=x"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown flag --flagfile")));
}

TEST(CommandLineTest, AMissingValueAndStrayArgumentsAreErrors) {
  EXPECT_THAT(Parse({"--test-workers"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--test-workers needs a value: a whole number")));
  // The next flag is not taken as the value of a string flag.
  EXPECT_THAT(Parse({"--test-listen", "--test-workers", "2"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--test-listen needs a value, e.g. --test-listen=0.0.0.0:50051")));
  EXPECT_THAT(Parse({"serve"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unexpected argument serve")));
  EXPECT_THAT(Parse({"--", "x"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unexpected argument x")));
  EXPECT_OK(Parse({"--"}));
}

TEST(CommandLineTest, ExpectedFormsByType) {
  EXPECT_THAT(ExpectedForm("test_interval"), HasSubstr("duration"));
  EXPECT_EQ(ExpectedForm("test_workers"), "a whole number, e.g. 0");
  EXPECT_EQ(ExpectedForm("test_seconds"), "a number, e.g. 30");
  EXPECT_EQ(ExpectedForm("test_listen"), "");
}

}  // namespace
}  // namespace descent::server
