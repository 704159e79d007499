// `make demo` as a user runs it: scripts/demo.sh against this build trains the house-prices
// example through a real descentd, exits 0, and leaves no server behind; on a terminal it
// ends with the loss chart. Each run gets its own data dir: one descentd per data dir, and
// ctest runs these tests at once.
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/descent_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace descent::integration {
namespace {

using ::testing::HasSubstr;

TEST(DemoTest, TrainsTheHousePricesExampleAndStopsTheServer) {
  testing::ProcessOptions options;
  options.working_dir = DESCENT_SOURCE_DIR;
  options.unset_env = {"DESCENT_SERVER"};
  const testing::ScratchDir data_dir("demo-data");
  options.env = {{"DESCENT_DEMO_DATA_DIR", data_dir.path()}};
  absl::StatusOr<testing::ProcessResult> demo = testing::RunProcess(
      {"/bin/bash", "scripts/demo.sh", DESCENT_BINARY_DIR}, absl::Seconds(180), options);
  ASSERT_OK(demo);
  EXPECT_EQ(demo->exit_code, 0) << demo->out << demo->err;
  EXPECT_THAT(demo->out, HasSubstr("$ descent submit examples/house-prices.json --watch"));
  EXPECT_THAT(demo->out, HasSubstr(" SUCCEEDED after 1500 steps"));
  EXPECT_THAT(demo->out, HasSubstr("diagnosis: "));

  // The server the script started is gone.
  std::smatch match;
  ASSERT_TRUE(std::regex_search(demo->out, match, std::regex(R"(serving on (127\.0\.0\.1:\d+))")))
      << demo->out;
  auto client = client::DescentClient::Connect(match[1].str());
  EXPECT_THAT(client->CheckHealth(),
              descent::testing::StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
}

// On a terminal (a pty from script(1)) the watch draws its live line and ends with the loss
// chart, its legend and the diagnosis.
TEST(DemoTest, OnATerminalItEndsWithTheLossChart) {
  testing::ProcessOptions options;
  options.working_dir = DESCENT_SOURCE_DIR;
  options.unset_env = {"DESCENT_SERVER"};
  const testing::ScratchDir data_dir("demo-data");
  options.env = {{"COLUMNS", "100"}, {"DESCENT_DEMO_DATA_DIR", data_dir.path()}};
  absl::StatusOr<testing::ProcessResult> demo = testing::RunProcess(
      {"/usr/bin/script", "-qec", absl::StrCat("bash scripts/demo.sh '", DESCENT_BINARY_DIR, "'"),
       "/dev/null"},
      absl::Seconds(180), options);
  ASSERT_OK(demo);
  EXPECT_EQ(demo->exit_code, 0) << demo->out;
  const std::string& out = demo->out;
  const size_t live = out.find("\x1b[Kepoch");
  const size_t chart = out.find("\x1b[Kminibatch loss");  // the chart follows the live line
  const size_t legend = out.find("steps in each column");
  const size_t outcome = out.find(" SUCCEEDED after 1500 steps");
  const size_t diagnosis = out.find("diagnosis: ");
  ASSERT_NE(live, std::string::npos) << out;
  ASSERT_NE(chart, std::string::npos) << out;
  ASSERT_NE(legend, std::string::npos) << out;
  ASSERT_NE(outcome, std::string::npos) << out;
  ASSERT_NE(diagnosis, std::string::npos) << out;
  EXPECT_LT(live, chart);
  EXPECT_LT(chart, legend);
  EXPECT_LT(legend, outcome);
  EXPECT_LT(outcome, diagnosis);
}

TEST(DemoTest, AMissingBuildIsAUsageError) {
  testing::ProcessOptions options;
  options.working_dir = DESCENT_SOURCE_DIR;
  absl::StatusOr<testing::ProcessResult> demo = testing::RunProcess(
      {"/bin/bash", "scripts/demo.sh", "/nonexistent-build"}, absl::Seconds(30), options);
  ASSERT_OK(demo);
  EXPECT_EQ(demo->exit_code, 2);
  EXPECT_THAT(demo->err, HasSubstr("/nonexistent-build/server/descentd is missing"));
}

}  // namespace
}  // namespace descent::integration
