#include "server/datasets/csv_parser.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(CsvParserTest, NumericAndTextColumnsWithSortedCategories) {
  absl::StatusOr<CsvTable> table = ParseCsv(
      "size,rooms,kind\n"
      "120.5,3,house\n"
      "80,2,flat\n"
      "-1e2,1,house\n");
  ASSERT_OK(table);
  ASSERT_EQ(table->rows, 3);
  ASSERT_EQ(table->columns.size(), 3u);
  EXPECT_EQ(table->columns[0].name, "size");
  EXPECT_TRUE(table->columns[0].numeric);
  EXPECT_THAT(table->columns[0].numbers, ElementsAre(120.5, 80, -100));
  EXPECT_THAT(table->columns[1].numbers, ElementsAre(3, 2, 1));
  const CsvColumn& kind = table->columns[2];
  EXPECT_FALSE(kind.numeric);
  EXPECT_THAT(kind.categories, ElementsAre("flat", "house"));
  EXPECT_THAT(kind.codes, ElementsAre(1, 0, 1));
  EXPECT_EQ(kind.first_text_line, 2);
  EXPECT_EQ(kind.first_text, "house");
}

TEST(CsvParserTest, QuotesCommasCrlfBomAndBlankLines) {
  absl::StatusOr<CsvTable> table = ParseCsv(
      "\xEF\xBB\xBF\"x\", label \r\n"
      " 1 ,\"a, b\"\r\n"
      "\r\n"
      "2,\"say \"\"hi\"\"\"\r\n"
      "3,\"two\nlines\"\r\n"
      "\r\n\r\n");
  ASSERT_OK(table);
  EXPECT_EQ(table->rows, 3);
  EXPECT_EQ(table->columns[0].name, "x");
  EXPECT_EQ(table->columns[1].name, "label");
  EXPECT_THAT(table->columns[0].numbers, ElementsAre(1, 2, 3));
  EXPECT_THAT(table->columns[1].categories, ElementsAre("a, b", "say \"hi\"", "two\nlines"));
}

TEST(CsvParserTest, LineNumbersCountLinesInsideQuotedFields) {
  // The quoted field spans lines 2-3, so the bad row is on line 4.
  EXPECT_THAT(ParseCsv("a,b\n1,\"x\ny\"\n2\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("line 4, column 2:")));
}

TEST(CsvParserTest, RaggedRowsNameLineAndColumn) {
  EXPECT_THAT(ParseCsv("a,b,c\n1,2,3\n4,5\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(StartsWith("line 3, column 3:"), HasSubstr("has 2 fields"),
                             HasSubstr("header has 3"))));
  EXPECT_THAT(ParseCsv("a,b\n1,2,3\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("line 2, column 3:")));
}

TEST(CsvParserTest, MissingValuesAreErrors) {
  for (const char* cell : {"", "NA", "nan", "?", "null"}) {
    SCOPED_TRACE(cell);
    EXPECT_THAT(ParseCsv(std::string("a,b\n1,2\n3,") + cell + "\n"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(StartsWith("line 3, column 2 (b): missing value"),
                               HasSubstr("fill it in"))));
  }
}

TEST(CsvParserTest, NonFiniteNumbersAreErrors) {
  EXPECT_THAT(ParseCsv("a\n1\ninf\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("line 3, column 1 (a): \"inf\" is not a finite number")));
  EXPECT_THAT(ParseCsv("a\n1e999\n"), StatusIs(absl::StatusCode::kInvalidArgument,
                                               HasSubstr("not a finite number")));
}

TEST(CsvParserTest, QuotingErrors) {
  EXPECT_THAT(ParseCsv("a,b\n1,\"open\n2,3\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(StartsWith("line 2, column 2:"), HasSubstr("never closed"))));
  EXPECT_THAT(ParseCsv("a,b\n1,\"x\"y\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(StartsWith("line 2, column 2:"), HasSubstr("after a closing quote"))));
}

TEST(CsvParserTest, HeaderErrors) {
  EXPECT_THAT(ParseCsv(""), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(ParseCsv("\n\n"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(ParseCsv("a,b\n"), StatusIs(absl::StatusCode::kInvalidArgument,
                                          StartsWith("line 2: the file has a header but no")));
  EXPECT_THAT(ParseCsv("a,,c\n1,2,3\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(StartsWith("line 1, column 2:"), HasSubstr("name"))));
  EXPECT_THAT(ParseCsv("a,b,a\n1,2,3\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(StartsWith("line 1, column 3:"), HasSubstr("appears twice"))));
  // sklearn's data files start with a count line instead of a header.
  EXPECT_THAT(ParseCsv("150,4\n5.1,3.5\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("header row")));
}

TEST(CsvParserTest, OversizedFieldIsAnError) {
  std::string csv = "a\n\"";
  csv.append(kMaxCsvFieldBytes + 1, 'x');
  EXPECT_THAT(ParseCsv(csv), StatusIs(absl::StatusCode::kInvalidArgument,
                                      AllOf(StartsWith("line 2, column 1:"), HasSubstr("longer"))));
}

TEST(CsvParserTest, NoTrailingNewlineAndSingleColumn) {
  absl::StatusOr<CsvTable> table = ParseCsv("y\n1\n2");
  ASSERT_OK(table);
  EXPECT_THAT(table->columns[0].numbers, ElementsAre(1, 2));
}

TEST(CsvParserTest, ArbitraryBytesNeverCrash) {
  // Every prefix of a tricky file either parses or fails with INVALID_ARGUMENT.
  const std::string file = "\"a\",b\r\n\"1\"\"\",x\n,\"\n\"\r2,\"3\"\n\xff\x00,\n";
  for (size_t n = 0; n <= file.size(); ++n) {
    absl::StatusOr<CsvTable> table = ParseCsv(absl::string_view(file.data(), n));
    if (!table.ok()) {
      EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument) << n;
      EXPECT_THAT(std::string(table.status().message()), StartsWith("line ")) << n;
    }
  }
}

}  // namespace
}  // namespace descent::server
