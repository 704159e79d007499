#include "client/input_files.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace descent::client {
namespace {

using ::descent::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(JobSpecTest, TheHousePricesExampleParsesAsWritten) {
  absl::StatusOr<v1::JobSpec> spec =
      ReadJobSpec(std::string(DESCENT_SOURCE_DIR) + "/examples/house-prices.json");
  ASSERT_OK(spec);
  EXPECT_EQ(spec->name(), "house-prices");
  EXPECT_EQ(spec->dataset().builtin().name(), "house_prices");
  EXPECT_EQ(spec->dataset().builtin().samples(), 2000);
  EXPECT_EQ(spec->model().hidden_layers(0).units(), 64);
  EXPECT_EQ(spec->model().hidden_layers(0).activation(), v1::RELU);
  EXPECT_EQ(spec->loss(), v1::MEAN_SQUARED_ERROR);
  EXPECT_TRUE(spec->optimizer().adam().has_learning_rate());
  EXPECT_DOUBLE_EQ(spec->optimizer().adam().learning_rate(), 0.001);
  EXPECT_FALSE(spec->optimizer().adam().has_beta1());  // unset: PyTorch's default
  EXPECT_EQ(spec->training().epochs(), 30);
  EXPECT_DOUBLE_EQ(spec->training().validation_fraction(), 0.2);
}

TEST(JobSpecTest, SnakeCaseNamesWorkToo) {
  ASSERT_OK(ParseJobSpec(R"({"training": {"batch_size": 8}})", "inline"));
}

TEST(JobSpecTest, AnUnknownFieldIsAnErrorNamingTheFile) {
  EXPECT_THAT(ParseJobSpec(R"({"optimizer": {"adam": {"learningRat": 0.1}}})", "typo.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("typo.json"), HasSubstr("learningRat"))));
}

TEST(JobSpecTest, AMissingFileIsNotFound) {
  EXPECT_THAT(ReadJobSpec("/nonexistent/spec.json"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/spec.json")));
}

TEST(RowsTest, CsvWithAHeaderAndBlankLines) {
  absl::StatusOr<v1::Matrix> rows = ParseRows("a, b\n1, 2\n\n3.5,-4\n", "in.csv");
  ASSERT_OK(rows);
  EXPECT_EQ(rows->rows(), 2);
  EXPECT_EQ(rows->cols(), 2);
  EXPECT_THAT(rows->values(), ElementsAre(1.0f, 2.0f, 3.5f, -4.0f));
}

TEST(RowsTest, CsvWithoutAHeader) {
  absl::StatusOr<v1::Matrix> rows = ParseRows("1,2,3\n", "in.csv");
  ASSERT_OK(rows);
  EXPECT_EQ(rows->rows(), 1);
  EXPECT_EQ(rows->cols(), 3);
}

TEST(RowsTest, CsvNonNumberAfterTheFirstLineIsAnErrorWithItsPosition) {
  EXPECT_THAT(ParseRows("1,2\n3,x\n", "in.csv"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("in.csv:2: column 2 ('x')")));
}

TEST(RowsTest, RaggedRowsAreAnError) {
  EXPECT_THAT(ParseRows("1,2\n3\n", "in.csv"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("row 2 has 1 values")));
  EXPECT_THAT(ParseRows("[[1,2],[3]]", "in.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("row 2 has 1 values")));
}

TEST(RowsTest, JsonListOfRows) {
  absl::StatusOr<v1::Matrix> rows = ParseRows(" [[1, 2], [3, 4]]", "in.json");
  ASSERT_OK(rows);
  EXPECT_EQ(rows->rows(), 2);
  EXPECT_THAT(rows->values(), ElementsAre(1.0f, 2.0f, 3.0f, 4.0f));
}

TEST(RowsTest, JsonObjectWithRows) {
  absl::StatusOr<v1::Matrix> rows = ParseRows(R"({"rows": [[5, 6, 7]]})", "in.json");
  ASSERT_OK(rows);
  EXPECT_EQ(rows->cols(), 3);
}

TEST(RowsTest, JsonMatrix) {
  absl::StatusOr<v1::Matrix> rows =
      ParseRows(R"({"rows": 2, "cols": 1, "values": [0.5, 1.5]})", "in.json");
  ASSERT_OK(rows);
  EXPECT_EQ(rows->rows(), 2);
  EXPECT_THAT(rows->values(), ElementsAre(0.5f, 1.5f));
  EXPECT_THAT(ParseRows(R"({"rows": 2, "cols": 2, "values": [1]})", "in.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rows * cols = 4")));
}

TEST(RowsTest, JsonErrors) {
  EXPECT_THAT(ParseRows("[[1, \"a\"]]", "in.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[0][1] must be a number")));
  EXPECT_THAT(ParseRows("{\"x\": 1}", "in.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected [[...], ...]")));
  EXPECT_THAT(ParseRows("[[1,", "in.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not valid JSON")));
  EXPECT_THAT(ParseRows("  \n", "in.csv"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
}

}  // namespace
}  // namespace descent::client
