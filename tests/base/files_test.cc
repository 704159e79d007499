#include "base/files.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"

namespace descent::base {
namespace {

using ::descent::testing::IsOkAndHolds;
using ::descent::testing::ScratchDir;
using ::descent::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ReadFileTest, ReturnsTheBytesAsStored) {
  // NUL, CR and a byte that is not UTF-8: binary files come back unchanged.
  const std::string bytes("a\0b\r\n\xff", 6);
  const std::string path = descent::testing::WriteTempFile("bytes.bin", bytes);
  absl::StatusOr<std::string> read = ReadFile(path);
  ASSERT_OK(read);
  EXPECT_EQ(*read, bytes);
}

TEST(ReadFileTest, ReadsEmptyAndLargeFiles) {
  ASSERT_THAT(ReadFile(descent::testing::WriteTempFile("empty.txt", "")),
              IsOkAndHolds(std::string()));
  // Several times the read buffer, not a multiple of it.
  std::string large(200'003, 'x');
  for (size_t i = 0; i < large.size(); i += 7) large[i] = static_cast<char>('a' + i % 26);
  absl::StatusOr<std::string> read = ReadFile(descent::testing::WriteTempFile("large.txt", large));
  ASSERT_OK(read);
  EXPECT_EQ(*read, large);
}

TEST(ReadFileTest, MissingFileIsNotFoundNamingTheSettingAndPath) {
  EXPECT_THAT(ReadFile("/nonexistent/ca.pem", "--tls-ca"),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(StartsWith("cannot open --tls-ca /nonexistent/ca.pem: "),
                             HasSubstr("No such file"))));
  EXPECT_THAT(
      ReadFile("/nonexistent/spec.json"),
      StatusIs(absl::StatusCode::kNotFound, StartsWith("cannot open /nonexistent/spec.json: ")));
}

TEST(ReadFileTest, DirectoryIsNotFoundSayingSo) {
  ScratchDir dir("read_file_dir");
  EXPECT_THAT(ReadFile(dir.path(), "--token-file"),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(StartsWith("cannot open --token-file " + dir.path()),
                             HasSubstr("directory"))));
}

}  // namespace
}  // namespace descent::base
