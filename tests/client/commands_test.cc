#include "client/commands.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "client/predict_command.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/client/fake_training_server.h"
#include "tests/testing/process.h"

namespace descent::client {
namespace {

using ::descent::client::testing::FakeTrainingServer;
using ::descent::client::testing::FakeTrainingService;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

std::string TempFile(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << content;
  return path;
}

class CommandsTest : public ::testing::Test {
 protected:
  CommandsTest() {
    ctx_.client = client_.get();
    ctx_.server = server_.address();
    ctx_.out = &out_;
    ctx_.err = &err_;
    ctx_.watch.initial_backoff = absl::Milliseconds(1);
  }

  FakeTrainingServer server_;
  std::unique_ptr<DescentClient> client_ = DescentClient::Connect(server_.address());
  std::ostringstream out_, err_;
  CommandContext ctx_;
};

TEST_F(CommandsTest, SubmitPrintsTheJobAndExitsZero) {
  const std::string spec = TempFile("ok.json", R"({"name": "demo"})");
  EXPECT_EQ(RunSubmit(ctx_, spec, /*watch=*/false, ""), kExitOk);
  EXPECT_EQ(out_.str(), "submitted job job-1 (demo), QUEUED\n");
}

TEST_F(CommandsTest, SubmitWatchFollowsTheJobToItsOutcome) {
  const std::string spec = TempFile("ok.json", R"({"name": "demo"})");
  EXPECT_EQ(RunSubmit(ctx_, spec, /*watch=*/true, "key-1"), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("job job-1 SUCCEEDED after 4 steps"));
  EXPECT_THAT(out_.str(), HasSubstr("diagnosis: CONVERGED"));
  EXPECT_EQ(server_.service().submits()[0].request_id(), "key-1");
}

TEST_F(CommandsTest, ASpecTheServerRejectsIsAUsageErrorWithTheServersMessage) {
  const std::string spec =
      TempFile("bad.json", R"({"optimizer": {"adam": {"learningRate": -0.1}}})");
  EXPECT_EQ(RunSubmit(ctx_, spec, false, ""), kExitUsage);
  EXPECT_THAT(err_.str(),
              HasSubstr("optimizer.adam.learning_rate must be > 0 (got -0.1) (INVALID_ARGUMENT)"));
}

TEST_F(CommandsTest, AnInvalidSpecFileIsAUsageErrorBeforeAnyCall) {
  EXPECT_EQ(RunSubmit(ctx_, TempFile("typo.json", R"({"nmae": "x"})"), false, ""), kExitUsage);
  EXPECT_EQ(RunSubmit(ctx_, "/nonexistent.json", false, ""), kExitUsage);
  EXPECT_TRUE(server_.service().submits().empty());
  EXPECT_THAT(err_.str(), HasSubstr("nmae"));
}

TEST_F(CommandsTest, WatchPipedPrintsEpochLinesAndTheOutcome) {
  const std::string id = server_.service().AddJob({4, 3, 2, 1, 0.5, 0.25}, v1::SUCCEEDED, 2);
  EXPECT_EQ(RunWatch(ctx_, id), kExitOk);
  const std::vector<std::string> lines = absl::StrSplit(out_.str(), '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines[0], "epoch 1/3  step 2/6  train loss 3");
  EXPECT_EQ(lines[2], "epoch 3/3  step 6/6  train loss 0.25");
  EXPECT_EQ(lines[3], "job " + id + " SUCCEEDED after 6 steps");
  EXPECT_THAT(out_.str(), Not(HasSubstr("\x1b[K")));  // no live line when piped
}

TEST_F(CommandsTest, WatchOfAFailedOrCancelledJobExitsOne) {
  EXPECT_EQ(RunWatch(ctx_, server_.service().AddJob({1, 2}, v1::FAILED)), kExitJobFailed);
  EXPECT_EQ(RunWatch(ctx_, server_.service().AddJob({1, 2}, v1::CANCELLED)), kExitJobFailed);
}

TEST_F(CommandsTest, ASucceededJobWhoseVerdictFailOnNamesExitsFour) {
  FakeTrainingService& service = server_.service();
  const std::string diverged = service.AddJob({1, 2}, v1::SUCCEEDED);
  service.SetVerdict(diverged, v1::DIVERGED);
  EXPECT_EQ(RunWatch(ctx_, diverged), kExitVerdict);  // the default: diverged
  EXPECT_THAT(err_.str(), AllOf(HasSubstr("DIVERGED"), HasSubstr("--fail-on=none")));
  const std::string stalled = service.AddJob({1, 2}, v1::SUCCEEDED);
  service.SetVerdict(stalled, v1::STALLED);
  EXPECT_EQ(RunWatch(ctx_, stalled), kExitOk);
  ctx_.fail_on = {v1::DIVERGED, v1::STALLED};
  EXPECT_EQ(RunWatch(ctx_, stalled), kExitVerdict);
  ctx_.fail_on = {};  // --fail-on=none
  EXPECT_EQ(RunWatch(ctx_, diverged), kExitOk);
  // A failed job keeps exit 1, whatever its verdict.
  ctx_.fail_on = {v1::DIVERGED};
  const std::string failed = service.AddJob({1, 2}, v1::FAILED);
  service.SetVerdict(failed, v1::DIVERGED);
  EXPECT_EQ(RunWatch(ctx_, failed), kExitJobFailed);
}

TEST_F(CommandsTest, WatchOnATerminalDrawsTheLiveLineThenTheChart) {
  ctx_.interactive = true;
  const std::string id = server_.service().AddJob({4, 3, 2, 1}, v1::SUCCEEDED, 2);
  EXPECT_EQ(RunWatch(ctx_, id), kExitOk);
  const std::string out = out_.str();
  EXPECT_THAT(out, HasSubstr("\r\x1b[Kepoch"));
  EXPECT_THAT(out, HasSubstr("minibatch loss   last 1   min 1 at step 4"));
  EXPECT_THAT(out, HasSubstr("diagnosis: CONVERGED"));
  EXPECT_LT(out.find("minibatch loss   last"), out.find("diagnosis:"));
}

TEST_F(CommandsTest, WatchJsonIsOneParsableObjectPerLine) {
  ctx_.format = OutputFormat::kJson;
  const std::string id = server_.service().AddJob({4, 3, 2, 1}, v1::SUCCEEDED, 2);
  EXPECT_EQ(RunWatch(ctx_, id), kExitOk);
  const std::vector<std::string> lines = absl::StrSplit(out_.str(), '\n', absl::SkipEmpty());
  int64_t steps = 0;
  for (const std::string& line : lines) {
    v1::WatchJobResponse event;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &event).ok()) << line;
    steps += event.losses().losses_size();
  }
  EXPECT_EQ(steps, 4);
  v1::WatchJobResponse last;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(lines.back(), &last).ok());
  EXPECT_EQ(last.state().state(), v1::SUCCEEDED);
}

TEST_F(CommandsTest, UnknownJobIsAUsageError) {
  EXPECT_EQ(RunGet(ctx_, "nope"), kExitUsage);
  EXPECT_EQ(RunWatch(ctx_, "nope"), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("job nope not found (NOT_FOUND)"));
}

TEST_F(CommandsTest, ListFiltersByStateAndRejectsUnknownStates) {
  server_.service().AddJob({1}, v1::SUCCEEDED);
  server_.service().AddJob({1}, v1::FAILED);
  EXPECT_EQ(RunList(ctx_, "failed"), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("job-2"));
  EXPECT_THAT(out_.str(), Not(HasSubstr("job-1")));
  EXPECT_EQ(RunList(ctx_, "done"), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("--state must be one of"));
}

TEST_F(CommandsTest, CancelAFinishedJobIsRefused) {
  const std::string id = server_.service().AddJob({1}, v1::SUCCEEDED);
  EXPECT_EQ(RunCancel(ctx_, id), kExitJobFailed);
  EXPECT_THAT(err_.str(), HasSubstr("already finished (FAILED_PRECONDITION)"));
}

TEST_F(CommandsTest, ExportWritesTheModelAsJson) {
  const std::string id = server_.service().AddJob({1}, v1::SUCCEEDED);
  const std::string path = ::testing::TempDir() + "/model.json";
  EXPECT_EQ(RunExport(ctx_, id, /*onnx=*/false, path), kExitOk);
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  v1::ExportModelResponse model;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(content.str(), &model).ok());
  EXPECT_EQ(model.job_id(), id);
  EXPECT_EQ(model.parameters().layers(0).weight().values_size(), 2);
}

TEST_F(CommandsTest, PredictSendsTheCsvHeaderAsColumnNamesAndPrintsTheRowsBack) {
  const std::string id = server_.service().AddJob({1}, v1::SUCCEEDED);
  EXPECT_EQ(RunPredict(ctx_, id, {.input = TempFile("predict-named.csv", "x1,x0\n1,2\n0,0\n")}),
            kExitOk)
      << err_.str();
  ASSERT_EQ(server_.service().predicts().size(), 1u);
  const v1::PredictRequest sent = server_.service().predicts()[0];
  EXPECT_THAT(sent.column_names(), ::testing::ElementsAre("x1", "x0"));
  EXPECT_THAT(sent.inputs().values(), ::testing::ElementsAre(1.0f, 2.0f, 0.0f, 0.0f));
  // The fake takes columns as they come: 0.5 * 1 - 1.5 * 2 + 0.25.
  EXPECT_EQ(out_.str(), "x1,x0,prediction\n1,2,-2.25\n0,0,0.25\n");
}

TEST_F(CommandsTest, PredictWithoutAHeaderNeedsTheFlag) {
  const std::string id = server_.service().AddJob({1}, v1::SUCCEEDED);
  const std::string headerless = TempFile("predict-bare.csv", "2,1\n");
  EXPECT_EQ(RunPredict(ctx_, id, {.input = headerless}), kExitUsage);
  EXPECT_THAT(err_.str(), AllOf(HasSubstr("predict-bare.csv: the first line holds only numbers"),
                                HasSubstr("--no-header")));
  EXPECT_TRUE(server_.service().predicts().empty());
  EXPECT_EQ(RunPredict(ctx_, id, {.input = headerless, .header = false}), kExitOk);
  EXPECT_EQ(out_.str(), "2,1,-0.25\n");
  EXPECT_TRUE(server_.service().predicts()[0].column_names().empty());
}

TEST_F(CommandsTest, PredictReadsJsonObjectsFromStandardInput) {
  const std::string id = server_.service().AddJob({1}, v1::SUCCEEDED);
  std::istringstream rows(R"([{"x1": 1, "x0": 2}, {"x0": 0, "x1": 0}])");
  std::streambuf* saved = std::cin.rdbuf(rows.rdbuf());
  const int code = RunPredict(ctx_, id, {.input = "-"});
  std::cin.rdbuf(saved);
  EXPECT_EQ(code, kExitOk) << err_.str();
  ASSERT_EQ(server_.service().predicts().size(), 1u);
  EXPECT_THAT(server_.service().predicts()[0].column_names(), ::testing::ElementsAre("x0", "x1"));
  EXPECT_EQ(out_.str(), "ROW  OUTPUT\n0    -0.25\n1    0.25\n");
}

TEST_F(CommandsTest, PredictErrorsNameTheInput) {
  const std::string id = server_.service().AddJob({1}, v1::SUCCEEDED);
  EXPECT_EQ(RunPredict(ctx_, id, {.input = TempFile("predict-wide.csv", "a,b,c\n1,2,3\n")}),
            kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("predict-wide.csv: inputs.cols must be 2"));
  EXPECT_EQ(RunPredict(ctx_, id, {.input = "/nonexistent/rows.csv"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("cannot open /nonexistent/rows.csv"));
}

TEST_F(CommandsTest, PredictJsonOutputIsThePredictResponse) {
  const std::string id = server_.service().AddJob({1}, v1::SUCCEEDED);
  ctx_.format = OutputFormat::kJson;
  EXPECT_EQ(RunPredict(ctx_, id, {.input = TempFile("predict-rows.json", "[[2, 1], [0, 0]]")}),
            kExitOk);
  v1::PredictResponse response;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out_.str(), &response).ok())
      << out_.str();
  EXPECT_THAT(response.outputs().values(), ::testing::ElementsAre(-0.25f, 0.25f));
}

TEST_F(CommandsTest, PlotOfAFinishedJobDrawsItsWholeHistory) {
  std::vector<double> losses;
  for (int i = 0; i < 1000; ++i) losses.push_back(100.0 / (1 + i));
  const std::string id = server_.service().AddJob(losses, v1::SUCCEEDED);
  PlotOptions options;
  EXPECT_EQ(RunPlot(ctx_, id, options), kExitOk);
  EXPECT_THAT(out_.str(),
              HasSubstr("minibatch loss (log scale)   last 0.1   min 0.1 at step 1000"));
  EXPECT_THAT(out_.str(), HasSubstr("1000\n"));
}

TEST_F(CommandsTest, PlotOfARunningJobShowsTheStepsSoFar) {
  const std::string id = server_.service().AddJob({5, 4, 3, 2, 1}, v1::SUCCEEDED);
  server_.service().SetVisibleState(id, v1::RUNNING);
  server_.service().set_points_per_message(1);
  // GetJob reports step 5 of 5 here; the fake's history stands in for a live job's.
  ctx_.format = OutputFormat::kJson;
  EXPECT_EQ(RunPlot(ctx_, id, {}), kExitOk);
  v1::LossPoints points;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out_.str(), &points).ok());
  EXPECT_EQ(points.first_step(), 1);
  EXPECT_EQ(points.losses_size(), 5);
}

TEST_F(CommandsTest, HealthSaysServing) {
  EXPECT_EQ(RunHealth(ctx_), kExitOk);
  EXPECT_EQ(out_.str(), server_.address() + ": SERVING\n");
}

TEST(CommandsUnreachableTest, EveryCommandExitsThreeWithAHint) {
  const std::string address = "127.0.0.1:" + std::to_string(descent::testing::PickFreePort());
  auto client = DescentClient::Connect(address);
  std::ostringstream out, err;
  CommandContext ctx;
  ctx.client = client.get();
  ctx.server = address;
  ctx.out = &out;
  ctx.err = &err;
  EXPECT_EQ(RunHealth(ctx), kExitUnreachable);
  EXPECT_EQ(RunWatch(ctx, "j"), kExitUnreachable);
  EXPECT_EQ(RunList(ctx, ""), kExitUnreachable);
  EXPECT_EQ(RunSubmit(ctx, TempFile("ok.json", "{}"), true, ""), kExitUnreachable);
  EXPECT_THAT(err.str(), HasSubstr("cannot reach descentd at " + address));
  EXPECT_THAT(err.str(), HasSubstr("DESCENT_SERVER"));
}

TEST(ExitCodeForTest, MapsStatusCodes) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), kExitOk);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("")), kExitUnreachable);
  EXPECT_EQ(ExitCodeFor(absl::DeadlineExceededError("")), kExitUnreachable);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("")), kExitUsage);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("")), kExitUsage);
  EXPECT_EQ(ExitCodeFor(absl::AlreadyExistsError("")), kExitUsage);
  EXPECT_EQ(ExitCodeFor(absl::UnauthenticatedError("")), kExitUsage);
  EXPECT_EQ(ExitCodeFor(absl::ResourceExhaustedError("")), kExitJobFailed);
  EXPECT_EQ(ExitCodeFor(absl::FailedPreconditionError("")), kExitJobFailed);
}

TEST(ReportErrorTest, AnUnreachableServerGetsTheTlsHintThatFitsTheChannel) {
  std::ostringstream err;
  CommandContext ctx;
  ctx.server = "db:50051";
  ctx.err = &err;
  EXPECT_EQ(ReportError(ctx, absl::UnavailableError("Socket closed")), kExitUnreachable);
  EXPECT_THAT(err.str(), AllOf(HasSubstr("cannot reach descentd at db:50051: Socket closed"),
                               HasSubstr("If descentd serves TLS, pass --tls-ca")));
  err.str("");
  ctx.tls = true;
  EXPECT_EQ(ReportError(ctx, absl::UnavailableError("Ssl handshake failed")), kExitUnreachable);
  EXPECT_THAT(err.str(), AllOf(HasSubstr("TLS is on"), HasSubstr("--tls-server-name"),
                               HasSubstr("--tls-cert/--tls-key")));
}

}  // namespace
}  // namespace descent::client
