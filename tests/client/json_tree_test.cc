#include "client/json_tree.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace descent::client {
namespace {

using ::descent::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Kind = JsonValue::Kind;

TEST(JsonTreeTest, EveryValueAndKeyKnowsItsLineAndColumn) {
  absl::StatusOr<JsonValue> tree = ParseJsonTree(
      "{\n"
      "  \"name\": \"demo\",\n"
      "  \"model\": {\"hiddenLayers\": [ {\"units\": 8}, true, null ]}\n"
      "}\n");
  ASSERT_OK(tree);
  ASSERT_EQ(tree->kind, Kind::kObject);
  ASSERT_EQ(tree->members.size(), 2u);
  const JsonMember& name = tree->members[0];
  EXPECT_EQ(name.key, "name");
  EXPECT_EQ(name.key_position.line, 2);
  EXPECT_EQ(name.key_position.column, 3);
  EXPECT_EQ(name.value.kind, Kind::kString);
  EXPECT_EQ(name.value.text, "demo");
  EXPECT_EQ(name.value.position.column, 11);
  const JsonValue& layers = tree->members[1].value.members[0].value;
  ASSERT_EQ(layers.kind, Kind::kArray);
  ASSERT_EQ(layers.items.size(), 3u);
  EXPECT_EQ(layers.position.line, 3);
  EXPECT_EQ(layers.position.column, 29);
  EXPECT_EQ(layers.items[0].members[0].value.text, "8");
  EXPECT_EQ(layers.items[0].members[0].value.position.column, 41);
  EXPECT_EQ(layers.items[1].kind, Kind::kBool);
  EXPECT_EQ(layers.items[2].kind, Kind::kNull);
}

TEST(JsonTreeTest, ColumnsCountCharactersNotBytes) {
  absl::StatusOr<JsonValue> tree = ParseJsonTree("{\"n\": \"\u00e9t\u00e9\", \"x\": 1}");
  ASSERT_OK(tree);
  EXPECT_EQ(tree->members[0].value.text, "\u00e9t\u00e9");
  EXPECT_EQ(tree->members[1].key_position.column, 14);
}

TEST(JsonTreeTest, NumbersKeepTheirLiteralAndStringsAreUnescaped) {
  absl::StatusOr<JsonValue> tree = ParseJsonTree(R"([-0.5e-3, 12, "a\"b\\c\n\u00e9\ud83d\ude00"])");
  ASSERT_OK(tree);
  EXPECT_EQ(tree->items[0].text, "-0.5e-3");
  EXPECT_EQ(tree->items[1].text, "12");
  EXPECT_EQ(tree->items[2].text, "a\"b\\c\n\u00e9\U0001F600");
}

TEST(JsonTreeTest, SyntaxErrorsSayWhereAndWhat) {
  EXPECT_THAT(ParseJsonTree("{\n  \"a\": 1\n  \"b\": 2\n}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("3:3: expected ',' or '}' after a field, found '\"'")));
  EXPECT_THAT(ParseJsonTree("{\"a\": 1,}"),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("1:9: a trailing comma")));
  EXPECT_THAT(ParseJsonTree("{'a': 1}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("1:2: expected a field name in double quotes")));
  EXPECT_THAT(ParseJsonTree("{\"a\": 'x'}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("double quotes")));
  EXPECT_THAT(ParseJsonTree("[1, 2"),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("1:6: expected ',' or ']'")));
  EXPECT_THAT(ParseJsonTree("{\"a\": \"open\n}"),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("1:12: unterminated")));
  EXPECT_THAT(ParseJsonTree("{} {}"),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("1:4: unexpected text")));
  EXPECT_THAT(ParseJsonTree("01"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("leading zero")));
  EXPECT_THAT(ParseJsonTree("tru"),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("1:1: expected a value")));
  EXPECT_THAT(ParseJsonTree(""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("found the end of the file")));
  EXPECT_THAT(ParseJsonTree(R"("\ud800")"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("surrogate")));
}

TEST(JsonTreeTest, DeepNestingIsRefusedNotAStackOverflow) {
  EXPECT_THAT(ParseJsonTree(std::string(100000, '[')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nested deeper than 128")));
  ASSERT_OK(ParseJsonTree(std::string(100, '[') + std::string(100, ']')));
}

TEST(JsonTreeTest, AByteOrderMarkIsSkipped) {
  absl::StatusOr<JsonValue> tree = ParseJsonTree("\xEF\xBB\xBF{\"a\": 1}");
  ASSERT_OK(tree);
  EXPECT_EQ(tree->members[0].key, "a");
}

}  // namespace
}  // namespace descent::client
