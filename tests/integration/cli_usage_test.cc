// The real descent CLI's first-contact behaviour: no or a mistyped command, a server named
// without a port, a job file with mistakes, and outputs that say which loss they show.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/integration/cli_runner.h"
#include "tests/integration/descentd_process.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace descent::integration {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kCliTimeout = absl::Seconds(120);

testing::ProcessResult Descent(std::vector<std::string> args,
                               std::vector<std::pair<std::string, std::string>> env = {}) {
  return RunDescent(std::move(args), kCliTimeout, std::move(env));
}

TEST(CliUsageTest, BareDescentPrintsTheHelpAndExitsTwo) {
  testing::ProcessResult bare = Descent({});
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_THAT(bare.out, HasSubstr("Usage:"));
  EXPECT_THAT(bare.out, HasSubstr("submit"));
  EXPECT_THAT(bare.out, HasSubstr("watch"));
  // Global options alone are still no command.
  EXPECT_EQ(Descent({"-o", "json"}).exit_code, 2);
}

TEST(CliUsageTest, AnUnknownCommandIsNamedWithTheNearestOne) {
  testing::ProcessResult typo = Descent({"sumbit", "examples/house-prices.json"});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_EQ(typo.err, "descent: unknown command 'sumbit'; did you mean 'submit'?\n");
  testing::ProcessResult far = Descent({"frobnicate"});
  EXPECT_EQ(far.exit_code, 2);
  EXPECT_THAT(far.err, HasSubstr("unknown command 'frobnicate'; the commands are submit, watch"));
  testing::ProcessResult extra = Descent({"get", "job-1", "job-2"});
  EXPECT_EQ(extra.exit_code, 2);
  EXPECT_THAT(extra.err, HasSubstr("unexpected argument job-2"));
}

// No test may bind descentd's fixed port, so these check the address the CLI dials, which
// every answer names: "cannot reach descentd at HOST:50051", or "HOST:50051: SERVING" should
// a descentd happen to listen there.
TEST(CliUsageTest, AServerWithoutAPortMeansPort50051) {
  for (const auto& [args, env, dialled] :
       std::vector<std::tuple<std::vector<std::string>,
                              std::vector<std::pair<std::string, std::string>>, std::string>>{
           {{"--server", "127.0.0.1"}, {}, "127.0.0.1:50051"},
           {{}, {{"DESCENT_SERVER", "127.0.0.1"}}, "127.0.0.1:50051"},
           {{"--server", "[::1]"}, {}, "[::1]:50051"},
           {{"--server", "::1"}, {}, "[::1]:50051"}}) {
    std::vector<std::string> argv = args;
    argv.insert(argv.end(), {"--timeout", "2", "health"});
    testing::ProcessResult result = Descent(argv, env);
    EXPECT_THAT(result.out + result.err, HasSubstr(dialled)) << result.err;
    EXPECT_THAT(result.err, Not(HasSubstr(":443")));
  }
}

TEST(CliUsageTest, AJobFileMistakeIsReportedWithItsLineColumnAndFix) {
  const std::string path = WriteTempFile("mse.json",
                                         "{\n"
                                         "  \"name\": \"x\",\n"
                                         "  \"model\": {\"hiddenLayer\": [{\"units\": 8}]},\n"
                                         "  \"loss\": \"MSE\"\n"
                                         "}\n");
  testing::ProcessResult result = Descent({"submit", path});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, absl::StrCat("descent: ", path,
                                     ":3:13: model.hiddenLayer: unknown field; did you mean "
                                     "hiddenLayers?\n"));
  const std::string enum_path = WriteTempFile("mse2.json", "{\"loss\": \"MSE\"}");
  result = Descent({"submit", enum_path});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, absl::StrCat("descent: ", enum_path,
                                     ":1:10: loss: \"MSE\" is not a loss; use one of "
                                     "MEAN_SQUARED_ERROR, BINARY_CROSS_ENTROPY, "
                                     "CATEGORICAL_CROSS_ENTROPY\n"));
}

class CliOutputTest : public SharedDescentdTest {
 protected:
  static testing::ProcessResult Cli(std::vector<std::string> args) {
    return RunCli(server_->address(), std::move(args), kCliTimeout);
  }

  // A short house-prices job trained to its end; its id.
  static std::string FinishedJob() {
    const std::string spec = WriteTempFile(
        "short.json",
        R"({"name": "short", "dataset": {"builtin": {"name": "house_prices", "samples": 400,
            "seed": 3}}, "model": {"hiddenLayers": [{"units": 16}]},
            "loss": "MEAN_SQUARED_ERROR", "optimizer": {"adam": {"learningRate": 0.01}},
            "training": {"epochs": 10, "batchSize": 32, "seed": 1}})");
    testing::ProcessResult submit = Cli({"-o", "json", "submit", spec, "--watch"});
    EXPECT_EQ(submit.exit_code, 0) << submit.err;
    v1::Job job;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(
                    submit.out.substr(0, submit.out.find('\n')), &job)
                    .ok());
    return job.id();
  }

  static v1::Job GetJson(const std::string& id) {
    testing::ProcessResult get = Cli({"-o", "json", "get", id});
    v1::Job job;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(get.out, &job).ok()) << get.out;
    return job;
  }
};

TEST_F(CliOutputTest, AnUnknownJobPointsAtDescentListNotAnRpc) {
  testing::ProcessResult result = Cli({"get", "no-such-job"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("`descent list` shows the jobs"));
  EXPECT_THAT(result.err, Not(HasSubstr("ListJobs")));
}

TEST_F(CliOutputTest, ListShowsTheEpochMeanAndGetAndPlotSayWhichLossIsWhich) {
  const std::string id = FinishedJob();
  const v1::Job job = GetJson(id);
  ASSERT_TRUE(job.has_train_metrics());
  ASSERT_TRUE(job.has_train_loss());
  const std::string epoch_mean = absl::StrFormat("%.4g", job.train_metrics().loss());
  const std::string minibatch = absl::StrFormat("%.4g", job.train_loss());
  ASSERT_NE(epoch_mean, minibatch);  // distinct figures, so the test tells them apart

  testing::ProcessResult list = Cli({"list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  const std::vector<std::string> lines = absl::StrSplit(list.out, '\n', absl::SkipEmpty());
  const size_t column = lines[0].find("EPOCH_LOSS");
  ASSERT_NE(column, std::string::npos) << list.out;
  const auto row = std::find_if(lines.begin(), lines.end(),
                                [&](const std::string& line) { return line.rfind(id, 0) == 0; });
  ASSERT_NE(row, lines.end()) << list.out;
  EXPECT_EQ(row->substr(column, epoch_mean.size()), epoch_mean) << list.out;

  testing::ProcessResult get = Cli({"get", id});
  EXPECT_THAT(get.out, ContainsRegex("minibatch loss: +" + minibatch + " \\(step 130\\)"));
  // The replica that ran it: the address this descentd listens on (no --advertise).
  EXPECT_THAT(get.out, ContainsRegex("runner: +127\\.0\\.0\\.1:[1-9][0-9]*\n"));
  EXPECT_THAT(get.out, ContainsRegex("train, epoch mean: +loss " + epoch_mean));

  testing::ProcessResult plot = Cli({"plot", id});
  EXPECT_THAT(plot.out, HasSubstr("last epoch: train mean loss " + epoch_mean));
  EXPECT_THAT(plot.out, ContainsRegex("minibatch loss( \\(log scale\\))?   last"));
  // The legend: 130 steps over as many columns as the width allows.
  EXPECT_THAT(plot.out, ContainsRegex("(steps in each column|one step's minibatch loss per "
                                      "column)\n"));
}

// On a terminal (a pty from script(1)), a watch of a finished job replays its whole history
// in a moment: that is not the job's pace, so no steps/s or ETA may appear.
TEST_F(CliOutputTest, WatchOnATerminalShowsNoRateForReplayedHistory) {
  const std::string id = FinishedJob();
  const std::string command =
      absl::StrCat("'", DESCENT_CLI_PATH, "' --server ", server_->address(), " watch ", id);
  absl::StatusOr<testing::ProcessResult> result =
      testing::RunProcess({"/usr/bin/script", "-qec", command, "/dev/null"}, kCliTimeout,
                          CliProcessOptions({{"COLUMNS", "120"}}));
  ASSERT_OK(result);
  EXPECT_EQ(result->exit_code, 0) << result->out;
  EXPECT_THAT(result->out, HasSubstr("\x1b[Kepoch"));  // the live line was drawn
  EXPECT_THAT(result->out,
              ContainsRegex("minibatch loss( \\(log scale\\))?   last"));  // then the chart
  EXPECT_THAT(result->out, Not(HasSubstr("steps/s")));
  EXPECT_THAT(result->out, Not(HasSubstr("ETA")));
}

}  // namespace
}  // namespace descent::integration
