#include "base/csv.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace descent::base {
namespace {

using ::descent::testing::IsOkAndHolds;
using ::descent::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::vector<CsvRecord> Records(absl::string_view bytes) {
  absl::StatusOr<std::vector<CsvRecord>> records = ReadCsvRecords(bytes);
  EXPECT_OK(records);
  return records.ok() ? *records : std::vector<CsvRecord>{};
}

TEST(CsvTest, SplitsRecordsAndFields) {
  EXPECT_THAT(Records("a,b,c\n1,2,3\n"),
              ElementsAre(ElementsAre("a", "b", "c"), ElementsAre("1", "2", "3")));
  EXPECT_THAT(Records("a,,c"), ElementsAre(ElementsAre("a", "", "c")));
  EXPECT_THAT(Records("x,\n"), ElementsAre(ElementsAre("x", "")));
}

TEST(CsvTest, QuotedFieldsKeepCommasQuotesAndLineBreaks) {
  EXPECT_THAT(Records("\"a, b\",\"say \"\"hi\"\"\",\"two\nlines\",\"\"\n"),
              ElementsAre(ElementsAre("a, b", "say \"hi\"", "two\nlines", "")));
  // Blanks inside quotes are data; outside they are ignored.
  EXPECT_THAT(Records("  \" x \"  , y \n"), ElementsAre(ElementsAre(" x ", "y")));
}

TEST(CsvTest, LineEndsAreLfCrlfOrCr) {
  const auto expected = ElementsAre(ElementsAre("a", "b"), ElementsAre("1", "2"));
  EXPECT_THAT(Records("a,b\n1,2\n"), expected);
  EXPECT_THAT(Records("a,b\r\n1,2\r\n"), expected);
  EXPECT_THAT(Records("a,b\r1,2"), expected);
  // A CRLF inside quotes is kept as written.
  EXPECT_THAT(Records("\"x\r\ny\"\r\n"), ElementsAre(ElementsAre("x\r\ny")));
}

TEST(CsvTest, SkipsBlankLinesAndTheByteOrderMark) {
  EXPECT_THAT(Records("\xEF\xBB\xBF"
                      "a\n\n\r\nb\n\n"),
              ElementsAre(ElementsAre("a"), ElementsAre("b")));
  EXPECT_THAT(Records(""), ElementsAre());
  // An empty quoted field is a record, not a blank line.
  EXPECT_THAT(Records("\"\"\n"), ElementsAre(ElementsAre("")));
}

TEST(CsvTest, TokenizerReportsTheLineEachRecordStartsOn) {
  CsvTokenizer tokenizer("a\n\n\"b\nc\",d\ne\n");
  CsvRecord fields;
  int64_t line = 0;
  std::vector<int64_t> lines;
  while (true) {
    absl::StatusOr<bool> more = tokenizer.Next(&fields, &line);
    ASSERT_OK(more);
    if (!*more) break;
    lines.push_back(line);
  }
  EXPECT_THAT(lines, ElementsAre(1, 3, 5));
}

TEST(CsvTest, UnclosedQuoteNamesWhereItOpened) {
  EXPECT_THAT(ReadCsvRecords("a,b\n1,\"2\n3,4\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(StartsWith("line 2, column 2: "), HasSubstr("never closed"))));
}

TEST(CsvTest, TextAfterAClosingQuoteIsAnError) {
  EXPECT_THAT(ReadCsvRecords("a,b\n1,\"2\"x\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(StartsWith("line 2, column 2: "), HasSubstr("'x'"),
                             HasSubstr("after a closing quote"))));
}

TEST(CsvTest, FieldOverTheLimitIsAnError) {
  CsvRecord fields;
  int64_t line = 0;
  CsvTokenizer unquoted("ok,toolong\n", /*max_field_bytes=*/4);
  EXPECT_THAT(unquoted.Next(&fields, &line),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(StartsWith("line 1, column 2: "), HasSubstr("longer than 4"))));
  CsvTokenizer quoted("\"toolong", /*max_field_bytes=*/4);
  EXPECT_THAT(quoted.Next(&fields, &line),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("line 1, column 1: ")));
  CsvTokenizer within("abcd,\"wxyz\"", /*max_field_bytes=*/4);
  EXPECT_THAT(within.Next(&fields, &line), IsOkAndHolds(true));
}

TEST(CsvTest, WrittenRecordsReadBackUnchanged) {
  const std::vector<CsvRecord> records = {
      {"plain", "with, comma", "say \"hi\"", "two\nlines", "cr\r\nlf"},
      {" padded ", "", "\ttab", "x"},
      {""},
  };
  std::string text;
  for (const CsvRecord& record : records) text += WriteCsvRecord(record) + "\n";
  EXPECT_EQ(Records(text), records);
  EXPECT_EQ(WriteCsvRecord({"a", "b c", "1.5"}), "a,b c,1.5");
}

}  // namespace
}  // namespace descent::base
