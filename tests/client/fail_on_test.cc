#include "client/fail_on.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace descent::client {
namespace {

using ::descent::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(FailOnTest, TheDefaultFailsOnDivergedOnly) {
  absl::StatusOr<std::vector<v1::Verdict>> verdicts = ParseFailOn(kDefaultFailOn);
  ASSERT_OK(verdicts.status());
  EXPECT_THAT(*verdicts, ElementsAre(v1::DIVERGED));
  EXPECT_TRUE(FailsOn(*verdicts, v1::DIVERGED));
  EXPECT_FALSE(FailsOn(*verdicts, v1::STALLED));
  EXPECT_FALSE(FailsOn(*verdicts, v1::VERDICT_UNSPECIFIED));
}

TEST(FailOnTest, ListsInAnyCaseAndNone) {
  absl::StatusOr<std::vector<v1::Verdict>> verdicts =
      ParseFailOn("Diverged,STALLED,stalled,learning");
  ASSERT_OK(verdicts.status());
  EXPECT_THAT(*verdicts, ElementsAre(v1::DIVERGED, v1::STALLED, v1::LEARNING));
  for (const char* none : {"none", "NONE"}) {
    verdicts = ParseFailOn(none);
    ASSERT_OK(verdicts.status());
    EXPECT_THAT(*verdicts, IsEmpty()) << none;
  }
}

TEST(FailOnTest, UnknownOrEmptyNamesAreRefusedNamingTheFlag) {
  for (const char* flag : {"exploded", "", "diverged,", "none,diverged", "verdict_unspecified"}) {
    EXPECT_THAT(ParseFailOn(flag), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("--fail-on takes verdicts")))
        << flag;
  }
}

}  // namespace
}  // namespace descent::client
