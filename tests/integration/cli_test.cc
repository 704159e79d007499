// The real descent CLI against the real descentd: exit codes, text and JSON output, and
// every command once.
#include <signal.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kCliTimeout = absl::Seconds(120);

std::string Example(const std::string& name) {
  return absl::StrCat(DESCENT_SOURCE_DIR, "/examples/", name);
}

// A house-prices job with its learning rate and length set.
std::string HousePricesSpec(const std::string& optimizer, int epochs, int batch_size = 32) {
  return absl::StrCat(R"({"name": "it", "dataset": {"builtin": {"name": "house_prices", )",
                      R"("samples": 400, "seed": 3}}, "model": {"hiddenLayers": [{"units": 16}]},)",
                      R"( "loss": "MEAN_SQUARED_ERROR", "optimizer": )", optimizer,
                      R"(, "training": {"epochs": )", epochs, R"(, "batchSize": )", batch_size,
                      R"(, "seed": 1}})");
}

class CliTest : public SharedDescentdTest {
 protected:
  // Runs `descent --server <the server> args...` with DESCENT_SERVER unset.
  static testing::ProcessResult Cli(std::vector<std::string> args) {
    return RunCli(server_->address(), std::move(args), kCliTimeout);
  }

  // Submits through the CLI, follows the job to its end and returns it as first printed.
  static v1::Job SubmitAndWatch(const std::string& spec_path) {
    testing::ProcessResult result = Cli({"-o", "json", "submit", spec_path, "--watch"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    v1::Job job;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(
                    result.out.substr(0, result.out.find('\n')), &job)
                    .ok())
        << result.out;
    return job;
  }

  // Submits through the CLI and returns the new job's id.
  static std::string Submit(const std::string& spec_path) {
    testing::ProcessResult result = Cli({"-o", "json", "submit", spec_path});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    v1::Job job;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(result.out, &job).ok()) << result.out;
    return job.id();
  }
};

TEST_F(CliTest, SubmitWatchTrainsTheHousePricesExampleAndExitsZero) {
  testing::ProcessResult result = Cli({"submit", Example("house-prices.json"), "--watch"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  // Piped: plain lines, one per epoch, then the outcome and the diagnosis.
  EXPECT_THAT(result.out, HasSubstr("submitted job "));
  EXPECT_THAT(result.out, HasSubstr("epoch 1/30  step 50"));
  EXPECT_THAT(result.out, HasSubstr("epoch 30/30  step 1500/1500"));
  EXPECT_THAT(result.out, HasSubstr(" SUCCEEDED after 1500 steps"));
  EXPECT_THAT(result.out, HasSubstr("validation loss "));
  EXPECT_THAT(result.out, HasSubstr("diagnosis: "));
  EXPECT_THAT(result.out, Not(HasSubstr("\x1b[")));  // no live line when piped
}

TEST_F(CliTest, AllExamplesAreAcceptedAsWritten) {
  for (const char* name : {"house-prices.json", "spam.json", "cat-dog-bird.json",
                           "lr-too-high.json", "lr-too-low.json", "lr-just-right.json"}) {
    EXPECT_FALSE(Submit(Example(name)).empty()) << name;
  }
}

// examples/README.md promises what the three curves show; the diagnosis must agree, and the
// exit status tells a run that finished with a verdict --fail-on names (default: diverged).
TEST_F(CliTest, TheLearningRateTrioIsDiagnosedAsDocumentedAndFailsOnItsVerdict) {
  struct Case {
    std::string file, verdict;
    int exit_code;  // with the default --fail-on=diverged
  };
  for (const Case& c : std::vector<Case>{{"lr-too-high.json", "DIVERGED", 4},
                                         {"lr-too-low.json", "STALLED", 0},
                                         {"lr-just-right.json", "LEARNING", 0}}) {
    testing::ProcessResult result = Cli({"submit", Example(c.file), "--watch"});
    EXPECT_EQ(result.exit_code, c.exit_code) << c.file << result.err;
    EXPECT_THAT(result.out, HasSubstr(" SUCCEEDED after 1500 steps")) << c.file;  // trained to the end
    EXPECT_THAT(result.out, HasSubstr("diagnosis: " + c.verdict)) << c.file;
    if (c.exit_code == 4) {
      EXPECT_THAT(result.err, HasSubstr("--fail-on")) << c.file;
    }
  }
}

TEST_F(CliTest, FailOnChoosesWhichVerdictsOfAFinishedJobExitFour) {
  const std::string too_high = Submit(Example("lr-too-high.json"));
  const std::string too_low = Submit(Example("lr-too-low.json"));
  // watch exits as submit --watch does, for a running or an already finished job alike.
  EXPECT_EQ(Cli({"watch", too_high}).exit_code, 4);
  EXPECT_EQ(Cli({"watch", too_high, "--fail-on=none"}).exit_code, 0);
  EXPECT_EQ(Cli({"watch", too_high, "--fail-on", "stalled"}).exit_code, 0);
  EXPECT_EQ(Cli({"watch", too_low}).exit_code, 0);
  EXPECT_EQ(Cli({"watch", too_low, "--fail-on=diverged,stalled"}).exit_code, 4);
  EXPECT_EQ(Cli({"watch", too_high, "--fail-on=DIVERGED,Stalled"}).exit_code, 4);
  testing::ProcessResult bad = Cli({"watch", too_high, "--fail-on=exploded"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--fail-on takes verdicts"));
}

TEST_F(CliTest, AFailedJobExitsOne) {
  // Plain SGD at rate 1 explodes within steps; descentd stops it as diverged.
  const std::string spec =
      WriteTempFile("diverges.json", HousePricesSpec(R"({"sgd": {"learningRate": 1.0}})", 5));
  testing::ProcessResult result = Cli({"submit", spec, "--watch"});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_THAT(result.out, HasSubstr(" FAILED after "));
  EXPECT_THAT(result.out, HasSubstr("diagnosis: DIVERGED"));
}

TEST_F(CliTest, ACancelledJobExitsOneAndCancelReportsIt) {
  const std::string id =
      Submit(WriteTempFile("long.json", HousePricesSpec(R"({"adam": {}})", 10000, /*batch_size=*/1)));
  testing::ProcessResult cancel = Cli({"cancel", id});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_THAT(cancel.out, HasSubstr("job " + id));
  testing::ProcessResult watch = Cli({"watch", id});
  EXPECT_EQ(watch.exit_code, 1) << watch.err;
  EXPECT_THAT(watch.out, HasSubstr(" CANCELLED after "));
  // Cancelling again is refused: the job already ended.
  testing::ProcessResult again = Cli({"cancel", id});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("FAILED_PRECONDITION"));
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  testing::ProcessResult unknown_command = Cli({"frobnicate"});
  EXPECT_EQ(unknown_command.exit_code, 2);
  testing::ProcessResult missing_argument = Cli({"get"});
  EXPECT_EQ(missing_argument.exit_code, 2);
  EXPECT_THAT(missing_argument.err, HasSubstr("JOB"));
  testing::ProcessResult missing_file = Cli({"submit", "/nonexistent/spec.json"});
  EXPECT_EQ(missing_file.exit_code, 2);
  EXPECT_THAT(missing_file.err, HasSubstr("cannot open /nonexistent/spec.json"));
  testing::ProcessResult bad_json = Cli({"submit", WriteTempFile("typo.json", R"({"nmae": 1})")});
  EXPECT_EQ(bad_json.exit_code, 2);
  EXPECT_THAT(bad_json.err, HasSubstr("nmae"));
  testing::ProcessResult unknown_job = Cli({"get", "no-such-job"});
  EXPECT_EQ(unknown_job.exit_code, 2);
  EXPECT_THAT(unknown_job.err, HasSubstr("NOT_FOUND"));
}

TEST_F(CliTest, ASpecTheServerRejectsExitsTwoWithTheFieldPath) {
  const std::string spec =
      WriteTempFile("negative-lr.json", HousePricesSpec(R"({"adam": {"learningRate": -0.1}})", 1));
  testing::ProcessResult result = Cli({"submit", spec});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("optimizer.adam.learning_rate"));
  EXPECT_THAT(result.err, HasSubstr("-0.1"));
  EXPECT_THAT(result.err, HasSubstr("INVALID_ARGUMENT"));
}

TEST_F(CliTest, AnUnreachableServerExitsThree) {
  const std::string nowhere = absl::StrCat("127.0.0.1:", testing::PickFreePort());
  for (std::vector<std::string> args : {std::vector<std::string>{"health"},
                                        {"list"},
                                        {"watch", "x"},
                                        {"submit", Example("house-prices.json"), "--watch"}}) {
    std::vector<std::string> argv = {DESCENT_CLI_PATH, "--server", nowhere};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<testing::ProcessResult> result = testing::RunProcess(argv, kCliTimeout);
    ASSERT_OK(result);
    EXPECT_EQ(result->exit_code, 3) << args[0] << ": " << result->err;
    EXPECT_THAT(result->err, HasSubstr("cannot reach descentd at " + nowhere));
  }
}

TEST_F(CliTest, DescentServerEnvironmentVariableSelectsTheServer) {
  testing::ProcessOptions options;
  options.env = {{"DESCENT_SERVER", server_->address()}};
  absl::StatusOr<testing::ProcessResult> result =
      testing::RunProcess({DESCENT_CLI_PATH, "health"}, kCliTimeout, options);
  ASSERT_OK(result);
  EXPECT_EQ(result->exit_code, 0) << result->err;
  EXPECT_EQ(result->out, server_->address() + ": SERVING\n");
}

TEST_F(CliTest, JsonWatchIsOneMessagePerLineWithEveryStepOnce) {
  const std::string spec =
      WriteTempFile("json.json", HousePricesSpec(R"({"adam": {"learningRate": 0.01}})", 20, 8));
  testing::ProcessResult result = Cli({"-o", "json", "submit", spec, "--watch"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::vector<std::string> lines = absl::StrSplit(result.out, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 3u);
  v1::Job submitted;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(lines[0], &submitted).ok()) << lines[0];
  int64_t next_step = 1;
  int epochs = 0;
  v1::WatchJobResponse event;
  for (size_t i = 1; i < lines.size(); ++i) {
    event.Clear();
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(lines[i], &event).ok()) << lines[i];
    if (event.has_losses()) {
      ASSERT_EQ(event.losses().first_step(), next_step);
      next_step += event.losses().losses_size();
    }
    if (event.has_epoch()) ++epochs;
  }
  EXPECT_EQ(event.state().state(), v1::SUCCEEDED);  // the last line
  EXPECT_EQ(next_step - 1, event.state().job().progress().step());
  EXPECT_EQ(next_step - 1, 20 * 50);  // 400 samples / batch 8 = 50 steps an epoch
  EXPECT_EQ(epochs, 20);

  testing::ProcessResult get = Cli({"-o", "json", "get", submitted.id()});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(std::count(get.out.begin(), get.out.end(), '\n'), 1) << get.out;
  v1::Job got;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(get.out, &got).ok()) << get.out;
  // A listing is one object per line, one line per job (as `datasets -o json`).
  testing::ProcessResult list = Cli({"-o", "json", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  bool listed = false;
  for (absl::string_view line : absl::StrSplit(list.out, '\n', absl::SkipEmpty())) {
    v1::Job job;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(line), &job).ok())
        << line;
    listed = listed || job.id() == submitted.id();
  }
  EXPECT_TRUE(listed) << list.out;
}

// -o is the output format in every command; export writes a file only with --output.
TEST_F(CliTest, ExportDashOJsonPrintsTheModelInsteadOfWritingAFile) {
  const v1::Job job = SubmitAndWatch(
      WriteTempFile("export-json.json", HousePricesSpec(R"({"adam": {"learningRate": 0.01}})", 2)));
  ASSERT_FALSE(job.id().empty());
  ASSERT_FALSE(std::filesystem::exists("json"));
  testing::ProcessResult exported = Cli({"export", job.id(), "-o", "json"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_FALSE(std::filesystem::exists("json"));
  EXPECT_EQ(std::count(exported.out.begin(), exported.out.end(), '\n'), 1);
  v1::ExportModelResponse model;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(exported.out, &model).ok())
      << exported.out;
  EXPECT_EQ(model.job_id(), job.id());
  EXPECT_EQ(model.feature_names_size(), 13);
}

// `submit -` reads the job file from standard input.
TEST_F(CliTest, SubmitDashReadsTheSpecFromStandardInput) {
  const std::string spec =
      WriteTempFile("stdin-spec.json", HousePricesSpec(R"({"sgd": {"learningRate": 0.01}})", 1));
  testing::ProcessResult submit =
      RunCli(server_->address(), {"-o", "json", "submit", "-"}, kCliTimeout, {}, spec);
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  v1::Job job;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(submit.out, &job).ok()) << submit.out;
  EXPECT_EQ(job.spec().dataset().builtin().name(), "house_prices");
  testing::ProcessResult bad =
      RunCli(server_->address(), {"submit", "-"}, kCliTimeout, {}, WriteTempFile("x.txt", "{"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("standard input:1:"));
}

// Columns are matched to the builtin dataset's feature names wherever they stand; anything
// else is refused by name, with exit code 2.
TEST_F(CliTest, PredictMatchesColumnsByNameAndRefusesWhatDoesNotMatch) {
  const v1::Job job = SubmitAndWatch(
      WriteTempFile("by-name.json", HousePricesSpec(R"({"adam": {"learningRate": 0.01}})", 5)));
  ASSERT_FALSE(job.id().empty());
  const std::string id = job.id();
  testing::ProcessResult exported = Cli({"-o", "json", "export", id});
  v1::ExportModelResponse model;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(exported.out, &model).ok());
  const std::vector<std::string> names(model.feature_names().begin(), model.feature_names().end());
  ASSERT_EQ(names.size(), 13u);

  // Three houses, each feature with its own value so a swap would show (multiples of 1/8,
  // exact in float whichever way they are parsed).
  std::vector<std::vector<std::string>> houses;
  for (int r = 0; r < 3; ++r) {
    std::vector<std::string> house;
    for (int c = 0; c < 13; ++c) house.push_back(absl::StrCat(0.125 * (c + 1) * (r + 1)));
    houses.push_back(house);
  }
  // The model's order, and the reverse.
  auto write_csv = [&](const std::string& file, bool reversed, bool header) {
    std::vector<int> order;
    for (int c = 0; c < 13; ++c) order.push_back(reversed ? 12 - c : c);
    std::string csv;
    if (header) {
      for (int c : order) absl::StrAppend(&csv, c == order[0] ? "" : ",", names[c]);
      csv += "\n";
    }
    for (const auto& house : houses) {
      for (int c : order) absl::StrAppend(&csv, c == order[0] ? "" : ",", house[c]);
      csv += "\n";
    }
    return WriteTempFile(file, csv);
  };
  auto predictions = [&](std::vector<std::string> args, const std::string& stdin_file = "") {
    std::vector<std::string> argv = {"-o", "json", "predict", id};
    argv.insert(argv.end(), args.begin(), args.end());
    testing::ProcessResult result = RunCli(server_->address(), argv, kCliTimeout, {}, stdin_file);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    v1::PredictResponse response;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(result.out, &response).ok())
        << result.out;
    return std::vector<float>(response.outputs().values().begin(),
                              response.outputs().values().end());
  };
  const std::vector<float> expected =
      predictions({"--input", write_csv("in-order.csv", false, true)});
  ASSERT_EQ(expected.size(), 3u);
  EXPECT_EQ(predictions({"--input", write_csv("reversed.csv", true, true)}), expected);
  EXPECT_EQ(predictions({"--input", "-"}, write_csv("stdin.csv", true, true)), expected);
  EXPECT_EQ(predictions({"--no-header", "--input", write_csv("bare.csv", false, false)}),
            expected);
  std::string objects = "[";
  for (size_t r = 0; r < houses.size(); ++r) {
    absl::StrAppend(&objects, r == 0 ? "{" : ", {");
    for (int c = 12; c >= 0; --c) {
      absl::StrAppend(&objects, c == 12 ? "" : ", ", "\"", names[c], "\": ", houses[r][c]);
    }
    objects += "}";
  }
  objects += "]";
  EXPECT_EQ(predictions({"--input", WriteTempFile("objects.json", objects)}), expected);

  // Refused: an unknown name (with the feature it was meant to be missing), a name used twice,
  // a headerless file without --no-header.
  std::string renamed = ReadWholeFile(write_csv("renamed.csv", false, true));
  renamed.replace(0, names[0].size(), "living_area");
  testing::ProcessResult unknown =
      Cli({"predict", id, "--input", WriteTempFile("renamed.csv", renamed)});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, AllOf(HasSubstr("renamed.csv: column_names do not match"),
                                 HasSubstr("unknown \"living_area\""),
                                 HasSubstr("missing \"living_area_1000sqft\""),
                                 HasSubstr("(INVALID_ARGUMENT)")));
  std::string twice = ReadWholeFile(write_csv("twice.csv", false, true));
  twice.replace(0, names[0].size(), names[1]);
  testing::ProcessResult repeated =
      Cli({"predict", id, "--input", WriteTempFile("twice.csv", twice)});
  EXPECT_EQ(repeated.exit_code, 2);
  EXPECT_THAT(repeated.err, HasSubstr("named twice \"bedrooms\""));
  testing::ProcessResult headerless =
      Cli({"predict", id, "--input", write_csv("headerless.csv", false, false)});
  EXPECT_EQ(headerless.exit_code, 2);
  EXPECT_THAT(headerless.err, HasSubstr("--no-header"));
}

TEST_F(CliTest, GetListExportPredictPlotAndHealthOnAFinishedJob) {
  const v1::Job job = SubmitAndWatch(
      WriteTempFile("small.json", HousePricesSpec(R"({"adam": {"learningRate": 0.01}})", 10)));
  ASSERT_FALSE(job.id().empty());
  const std::string id = job.id();

  testing::ProcessResult get = Cli({"get", id});
  EXPECT_EQ(get.exit_code, 0);
  EXPECT_THAT(get.out, ::testing::ContainsRegex("state: +SUCCEEDED"));
  EXPECT_THAT(get.out, HasSubstr("step 130/130"));  // 400 samples / 32 = 13 steps an epoch

  testing::ProcessResult list = Cli({"list", "--state", "succeeded"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_THAT(list.out, HasSubstr(id));
  EXPECT_THAT(list.out, ::testing::StartsWith("ID "));

  const std::string model_path = absl::StrCat(::testing::TempDir(), "/", getpid(), "-model.json");
  testing::ProcessResult exported = Cli({"export", id, "--output", model_path});
  EXPECT_EQ(exported.exit_code, 0) << exported.err;
  v1::ExportModelResponse model;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(ReadWholeFile(model_path), &model).ok());
  EXPECT_EQ(model.inputs(), 13);
  ASSERT_EQ(model.parameters().layers_size(), 2);
  EXPECT_EQ(model.parameters().layers(0).weight().rows(), 16);  // [out, in]
  EXPECT_EQ(model.parameters().layers(0).weight().cols(), 13);

  std::string csv = absl::StrCat(absl::StrJoin(model.feature_names(), ","), "\n");
  for (int r = 0; r < 3; ++r) csv += "1,1,1,1,1,1,1,1,1,1,1,1,1\n";
  testing::ProcessResult predict = Cli({"predict", id, "--input", WriteTempFile("rows.csv", csv)});
  EXPECT_EQ(predict.exit_code, 0) << predict.err;
  EXPECT_EQ(std::count(predict.out.begin(), predict.out.end(), '\n'), 4) << predict.out;
  testing::ProcessResult wrong_width =
      Cli({"predict", id, "--input", WriteTempFile("narrow.json", "[[1, 2]]")});
  EXPECT_EQ(wrong_width.exit_code, 2);
  EXPECT_THAT(wrong_width.err, HasSubstr("inputs"));

  testing::ProcessResult plot = Cli({"plot", id});
  EXPECT_EQ(plot.exit_code, 0) << plot.err;
  EXPECT_THAT(plot.out, HasSubstr("130\n"));  // the x axis ends at the last step
  EXPECT_THAT(plot.out, HasSubstr("diagnosis: "));
  testing::ProcessResult plot_json = Cli({"-o", "json", "plot", id});
  v1::LossPoints points;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(plot_json.out, &points).ok());
  EXPECT_EQ(points.losses_size(), 130);

  testing::ProcessResult health = Cli({"health"});
  EXPECT_EQ(health.exit_code, 0);
  EXPECT_THAT(health.out, HasSubstr("SERVING"));
}

}  // namespace
}  // namespace descent::integration
