#include "client/prediction_input.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace descent::client {
namespace {

using ::descent::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

absl::StatusOr<PredictionInput> Parse(const std::string& text,
                                      PredictionInputOptions options = {}) {
  return ParsePredictionInput(text, "in", options);
}

TEST(PredictionCsvTest, TheHeaderNamesTheColumnsInTheirFileOrder) {
  absl::StatusOr<PredictionInput> input = Parse("b, a\n1, 2\n\n3.5,-4\n");
  ASSERT_OK(input);
  EXPECT_TRUE(input->csv);
  EXPECT_TRUE(input->has_header);
  EXPECT_THAT(input->column_names, ElementsAre("b", "a"));
  EXPECT_EQ(input->inputs.rows(), 2);
  EXPECT_EQ(input->inputs.cols(), 2);
  EXPECT_THAT(input->inputs.values(), ElementsAre(1.0f, 2.0f, 3.5f, -4.0f));
  EXPECT_EQ(input->records.size(), 3u);  // printed back, header first
}

TEST(PredictionCsvTest, KeptColumnsStayInTheRecordsButAreNotSent) {
  PredictionInputOptions options;
  options.kept_columns = {"species"};
  absl::StatusOr<PredictionInput> input =
      Parse("species,petal_cm\r\n\"setosa, small\",1.5\r\nvirginica,5\r\n", options);
  ASSERT_OK(input);
  EXPECT_THAT(input->column_names, ElementsAre("petal_cm"));
  EXPECT_THAT(input->inputs.values(), ElementsAre(1.5f, 5.0f));
  EXPECT_EQ(input->records[1][0], "setosa, small");
  EXPECT_THAT(Parse("species\nsetosa\n", options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no feature columns")));
}

TEST(PredictionCsvTest, ANumericFirstLineNeedsNoHeader) {
  EXPECT_THAT(Parse("1,2,3\n4,5,6\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("in: the first line holds only numbers"),
                             HasSubstr("--no-header"))));
  PredictionInputOptions options;
  options.header = false;
  options.kept_columns = {"a"};  // no names, nothing to keep
  absl::StatusOr<PredictionInput> input = Parse("1,2,3\n4,5,6\n", options);
  ASSERT_OK(input);
  EXPECT_FALSE(input->has_header);
  EXPECT_THAT(input->column_names, IsEmpty());
  EXPECT_EQ(input->inputs.rows(), 2);
  EXPECT_EQ(input->inputs.cols(), 3);
  EXPECT_THAT(Parse("a,b\n1,2\n", options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("row 1, column 1: \"a\" is not a number"),
                             HasSubstr("drop --no-header"))));
}

TEST(PredictionCsvTest, ErrorsNameTheRowAndTheColumn) {
  EXPECT_THAT(Parse("a,b\n1,2\n3,x\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("in: row 3, column 2 (b): \"x\" is not a number")));
  EXPECT_THAT(Parse("a,b\n1,2\n3\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("row 3 has 1 fields but the header has 2")));
  EXPECT_THAT(Parse("a,b\n"), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("no rows to predict, only a header")));
  EXPECT_THAT(Parse("  \n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("the input is empty")));
}

TEST(PredictionJsonTest, ListsAreInTheModelsOrder) {
  absl::StatusOr<PredictionInput> input = Parse(" [[1, 2], [3, 4]]");
  ASSERT_OK(input);
  EXPECT_FALSE(input->csv);
  EXPECT_THAT(input->column_names, IsEmpty());
  EXPECT_EQ(input->inputs.rows(), 2);
  EXPECT_THAT(input->inputs.values(), ElementsAre(1.0f, 2.0f, 3.0f, 4.0f));
  absl::StatusOr<PredictionInput> wrapped = Parse(R"({"rows": [[5, 6, 7]]})");
  ASSERT_OK(wrapped);
  EXPECT_EQ(wrapped->inputs.cols(), 3);
}

TEST(PredictionJsonTest, ObjectsAreKeyedByFeatureName) {
  PredictionInputOptions options;
  options.kept_columns = {"species"};
  absl::StatusOr<PredictionInput> input =
      Parse(R"({"rows": [{"y": 2, "x": 1, "species": "setosa"}, {"x": 3, "y": 4}]})", options);
  ASSERT_OK(input);
  EXPECT_THAT(input->column_names, ElementsAre("x", "y"));  // sorted: a stable request
  EXPECT_THAT(input->inputs.values(), ElementsAre(1.0f, 2.0f, 3.0f, 4.0f));
}

TEST(PredictionJsonTest, ObjectRowsNeedTheSameNumericKeys) {
  EXPECT_THAT(Parse(R"([{"x": 1, "y": 2}, {"x": 3}])"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("in: [1] has no \"y\"")));
  EXPECT_THAT(Parse(R"([{"x": 1}, {"x": 3, "z": 5}])"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[1] has \"z\"")));
  EXPECT_THAT(Parse(R"([{"x": "big"}])"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[0].x must be a number")));
  EXPECT_THAT(Parse(R"([{"x": 1}, [2]])"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("[1] must be an object like the first row")));
}

TEST(PredictionJsonTest, Matrix) {
  absl::StatusOr<PredictionInput> input = Parse(R"({"rows": 2, "cols": 1, "values": [0.5, 1.5]})");
  ASSERT_OK(input);
  EXPECT_EQ(input->inputs.rows(), 2);
  EXPECT_THAT(input->inputs.values(), ElementsAre(0.5f, 1.5f));
  EXPECT_THAT(Parse(R"({"rows": 2, "cols": 2, "values": [1]})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rows * cols = 4")));
}

TEST(PredictionJsonTest, Errors) {
  EXPECT_THAT(Parse("[[1, \"a\"]]"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[0][1] must be a number")));
  EXPECT_THAT(Parse("[[1,2],[3]]"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[1] has 1 values")));
  EXPECT_THAT(Parse("{\"x\": 1}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected [[...], ...]")));
  EXPECT_THAT(Parse("[[1,"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not valid JSON")));
  EXPECT_THAT(Parse("[]"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no rows")));
  EXPECT_THAT(Parse(R"([{"x": 1e300}])"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[0].x is 1e+300, beyond")));
}

}  // namespace
}  // namespace descent::client
