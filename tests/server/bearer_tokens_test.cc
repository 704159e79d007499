// The token file format and the token check, without a server.
#include "server/security/bearer_tokens.h"

#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::string TokenFile(const std::string& name, const std::string& content) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", getpid(), "-", name);
  std::ofstream(path) << content;
  return path;
}

TEST(ReadTokenFileTest, OneTokenPerLineTrimmedSkippingBlankLinesAndComments) {
  const std::string path =
      TokenFile("tokens", "# ci runners\n  alpha  \n\n\tbeta\r\n   # indented comment\ngamma");
  absl::StatusOr<std::vector<std::string>> tokens = ReadTokenFile(path);
  ASSERT_OK(tokens);
  EXPECT_THAT(*tokens, ElementsAre("alpha", "beta", "gamma"));
}

TEST(ReadTokenFileTest, AMissingFileIsNotFoundNamingTheFlagAndThePath) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/no-such-token-file");
  EXPECT_THAT(ReadTokenFile(path),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("--auth-token-file"), HasSubstr(path))));
}

TEST(ReadTokenFileTest, AFileWithoutTokensIsRejected) {
  const std::string path = TokenFile("comments-only", "# nothing yet\n\n   \n");
  EXPECT_THAT(ReadTokenFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("holds no token")));
}

TEST(BearerTokensTest, AcceptsListedTokensOnly) {
  BearerTokens tokens({"alpha", "beta"});
  EXPECT_OK(tokens.Check("Bearer alpha"));
  EXPECT_OK(tokens.Check("Bearer beta"));
  EXPECT_OK(tokens.Check("bearer beta"));  // the scheme is case-insensitive (RFC 7235)
  EXPECT_THAT(tokens.Check("Bearer alph"),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("invalid bearer token")));
  EXPECT_THAT(tokens.Check("Bearer alphaa"),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("invalid")));
  EXPECT_THAT(tokens.Check("Bearer "),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("invalid")));
}

TEST(BearerTokensTest, MissingAndMalformedHeadersSayWhatToDo) {
  BearerTokens tokens({"alpha"});
  EXPECT_THAT(tokens.Check(std::nullopt),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       AllOf(HasSubstr("missing bearer token"), HasSubstr("DESCENT_TOKEN"))));
  EXPECT_THAT(tokens.Check("Basic YWxwaGE="),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       AllOf(HasSubstr("Bearer <token>"), HasSubstr("DESCENT_TOKEN"))));
}

TEST(BearerTokensTest, MessagesNeverContainThePresentedToken) {
  BearerTokens tokens({"alpha"});
  const absl::Status status = tokens.Check("Bearer s3cr3t-guess");
  EXPECT_THAT(status.message(), Not(HasSubstr("s3cr3t-guess")));
}

TEST(BearerTokensTest, ReplaceAddsAndRevokes) {
  BearerTokens tokens({"alpha", "beta"});
  tokens.Replace({"beta", "gamma"});
  EXPECT_THAT(tokens.Check("Bearer alpha"),
              StatusIs(absl::StatusCode::kUnauthenticated, ::testing::_));
  EXPECT_OK(tokens.Check("Bearer beta"));
  EXPECT_OK(tokens.Check("Bearer gamma"));
}

}  // namespace
}  // namespace descent::server
