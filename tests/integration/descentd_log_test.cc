// What descentd says, on the real binary: a JSON log line per job event (submitted, started,
// finished with its state and verdict, cancelled, recovered and resumed after kill -9) and per
// refused call; a port already in use is one line naming the port and the flag; a bad flag
// is one line quoting it as typed with the form it expects.
#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
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
using ::testing::SizeIs;

const absl::Duration kPatience = absl::Seconds(60);

// The lines of a process's output.
std::vector<std::string> Lines(const std::string& output) {
  return absl::StrSplit(absl::StripSuffix(output, "\n"), '\n');
}

// Every line of `log`, parsed; a line that is not a JSON object fails the test.
std::vector<google::protobuf::Struct> JsonLines(const std::string& log) {
  std::vector<google::protobuf::Struct> lines;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    google::protobuf::Struct parsed;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(line), &parsed).ok())
        << "not a JSON line: " << line;
    lines.push_back(std::move(parsed));
  }
  return lines;
}

std::string Field(const google::protobuf::Struct& line, const std::string& key) {
  auto it = line.fields().find(key);
  return it == line.fields().end() ? "" : it->second.string_value();
}

// The events logged about `job_id`, in order.
std::vector<std::string> EventsOf(const std::vector<google::protobuf::Struct>& lines,
                                  const std::string& job_id) {
  std::vector<std::string> events;
  for (const google::protobuf::Struct& line : lines) {
    if (Field(line, "job_id") == job_id) events.push_back(Field(line, "event"));
  }
  return events;
}

// The first line of `event` about `job_id` (an empty Struct when there is none).
google::protobuf::Struct LineOf(const std::vector<google::protobuf::Struct>& lines,
                                const std::string& event, const std::string& job_id) {
  for (const google::protobuf::Struct& line : lines) {
    if (Field(line, "event") == event && Field(line, "job_id") == job_id) return line;
  }
  ADD_FAILURE() << "no " << event << " line for " << job_id;
  return {};
}

// 13-32-1 on 400 house_prices rows, batch 32: 13 steps an epoch.
v1::JobSpec Spec(const std::string& name, int epochs) {
  v1::JobSpec spec;
  spec.set_name(name);
  spec.mutable_dataset()->mutable_builtin()->set_name("house_prices");
  spec.mutable_dataset()->mutable_builtin()->set_samples(400);
  spec.mutable_model()->add_hidden_layers()->set_units(32);
  spec.set_loss(v1::MEAN_SQUARED_ERROR);
  spec.mutable_optimizer()->mutable_adam()->set_learning_rate(0.001);
  spec.mutable_training()->set_epochs(epochs);
  spec.mutable_training()->set_batch_size(32);
  spec.mutable_training()->set_seed(3);
  return spec;
}

// Waits (bounded) until the job has passed `step`.
void AwaitStep(client::DescentClient& client, const std::string& id, int64_t step) {
  const absl::Time give_up = absl::Now() + kPatience;
  while (absl::Now() < give_up) {
    absl::StatusOr<v1::Job> job = client.GetJob(id);
    if (job.ok() && job->progress().step() > step) return;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ADD_FAILURE() << "job " << id << " never passed step " << step;
}

// Waits (bounded) until the job has ended.
v1::Job AwaitEnd(client::DescentClient& client, const std::string& id) {
  const absl::Time give_up = absl::Now() + kPatience;
  while (absl::Now() < give_up) {
    absl::StatusOr<v1::Job> job = client.GetJob(id);
    if (job.ok() && (job->state() == v1::SUCCEEDED || job->state() == v1::FAILED ||
                     job->state() == v1::CANCELLED)) {
      return *job;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  ADD_FAILURE() << "job " << id << " never ended";
  return {};
}

TEST(DescentdLogTest, JsonLinesForEveryJobEventAndRefusedCall) {
  const std::string tokens = WriteTempFile("log-tokens", "tok-log-41c9e2\n");
  client::ClientOptions with_token;
  with_token.channel.bearer_token = "tok-log-41c9e2";
  absl::StatusOr<std::unique_ptr<DescentdProcess>> server = DescentdProcess::Start(
      {"--log-format=json", "--workers", "1", "--auth-token-file", tokens}, with_token);
  ASSERT_OK(server);
  std::unique_ptr<client::DescentClient> client = (*server)->NewClient();
  absl::StatusOr<v1::Job> done = client->SubmitJob(Spec("finishes", 3), "");
  ASSERT_OK(done);
  const v1::Job ended = AwaitEnd(*client, done->id());
  ASSERT_EQ(ended.state(), v1::SUCCEEDED);
  absl::StatusOr<v1::Job> long_job = client->SubmitJob(Spec("cancelled", 100000), "");
  ASSERT_OK(long_job);
  AwaitStep(*client, long_job->id(), 1);
  ASSERT_OK(client->CancelJob(long_job->id()));
  ASSERT_EQ(AwaitEnd(*client, long_job->id()).state(), v1::CANCELLED);
  EXPECT_EQ(RunCli((*server)->address(), {"list"}, kPatience).exit_code, 2);  // no token
  ASSERT_TRUE((*server)->process().WaitForOutput("\"event\":\"call_refused\"", kPatience, true));
  ASSERT_TRUE((*server)->process().WaitForOutput("\"event\":\"job_cancelled\"", kPatience, true));

  const std::vector<google::protobuf::Struct> lines = JsonLines((*server)->process().Stderr());
  EXPECT_THAT(EventsOf(lines, done->id()),
              ::testing::ElementsAre("job_submitted", "job_started", "job_succeeded"));
  const google::protobuf::Struct succeeded = LineOf(lines, "job_succeeded", done->id());
  EXPECT_EQ(Field(succeeded, "state"), "SUCCEEDED");
  EXPECT_EQ(Field(succeeded, "job_name"), "finishes");
  EXPECT_EQ(Field(succeeded, "verdict"), v1::Verdict_Name(ended.diagnosis().verdict()));
  EXPECT_EQ(succeeded.fields().at("steps").number_value(), ended.progress().step());
  EXPECT_FALSE(Field(succeeded, "time").empty());
  EXPECT_EQ(Field(succeeded, "level"), "info");
  EXPECT_THAT(EventsOf(lines, long_job->id()),
              ::testing::ElementsAre("job_submitted", "job_started", "job_cancelled"));
  bool refused = false;
  for (const google::protobuf::Struct& line : lines) {
    if (Field(line, "event") != "call_refused") continue;
    refused = true;
    EXPECT_EQ(Field(line, "method"), "/descent.v1.TrainingService/ListJobs");
    EXPECT_THAT(Field(line, "peer"), HasSubstr("127.0.0.1"));
    EXPECT_EQ(Field(line, "code"), "UNAUTHENTICATED");
  }
  EXPECT_TRUE(refused);
  EXPECT_THAT((*server)->process().Stderr(), Not(HasSubstr("tok-log-41c9e2")));
}

TEST(DescentdLogTest, AJobRunningAtAKillIsLoggedRecoveredAndResumedAtTheNextStart) {
  const std::string data_dir = DescentdProcess::NewDataDir();
  std::string id;
  {
    absl::StatusOr<std::unique_ptr<DescentdProcess>> first = DescentdProcess::StartWith(
        data_dir, "127.0.0.1:0", {"--workers", "1", "--checkpoint-every-steps", "50"});
    ASSERT_OK(first);
    std::unique_ptr<client::DescentClient> client = (*first)->NewClient();
    absl::StatusOr<v1::Job> job = client->SubmitJob(Spec("survivor", 100000), "");
    ASSERT_OK(job);
    id = job->id();
    AwaitStep(*client, id, 200);  // past a few checkpoints
    (*first)->Kill();
  }
  absl::StatusOr<std::unique_ptr<DescentdProcess>> second =
      DescentdProcess::StartWith(data_dir, "127.0.0.1:0", {"--log-format=json", "--workers", "1"});
  ASSERT_OK(second);
  ASSERT_TRUE((*second)->process().WaitForOutput("\"event\":\"job_resumed\"", kPatience, true))
      << (*second)->process().Stderr();
  std::unique_ptr<client::DescentClient> client = (*second)->NewClient();
  ASSERT_OK(client->CancelJob(id));
  ASSERT_EQ(AwaitEnd(*client, id).state(), v1::CANCELLED);
  ASSERT_TRUE((*second)->process().WaitForOutput("\"event\":\"job_cancelled\"", kPatience, true));

  const std::vector<google::protobuf::Struct> lines = JsonLines((*second)->process().Stderr());
  EXPECT_THAT(EventsOf(lines, id),
              ::testing::ElementsAre("job_recovered", "job_resumed", "job_cancelled"));
  EXPECT_EQ(Field(LineOf(lines, "job_recovered", id), "state"), "RUNNING");
  EXPECT_GE(LineOf(lines, "job_resumed", id).fields().at("step").number_value(), 50);
  for (const google::protobuf::Struct& line : lines) {
    if (Field(line, "event") == "started") {
      EXPECT_EQ(line.fields().at("recovered_jobs").number_value(), 1);
    }
  }
}

// Two servers on one port: the second's whole output is one line that names the port and
// the flag, not gRPC's error blob.
TEST(DescentdLogTest, APortInUseIsOneLineNamingThePortAndTheFlag) {
  absl::StatusOr<std::unique_ptr<DescentdProcess>> first = DescentdProcess::Start();
  ASSERT_OK(first);
  const std::string busy_grpc = (*first)->address();
  absl::StatusOr<testing::ProcessResult> grpc_taken = testing::RunProcess(
      {DESCENTD_PATH, "--listen", busy_grpc, "--metrics-listen", "", "--data-dir",
       DescentdProcess::NewDataDir()},
      kPatience);
  ASSERT_OK(grpc_taken);
  EXPECT_EQ(grpc_taken->exit_code, 1);
  EXPECT_THAT(Lines(grpc_taken->err), SizeIs(1))
      << grpc_taken->err;
  EXPECT_THAT(grpc_taken->err,
              AllOf(HasSubstr(absl::StrCat("--listen ", busy_grpc)),
                    HasSubstr(absl::StrCat("port ", (*first)->port(), " is already in use")),
                    Not(HasSubstr("chttp2")), Not(HasSubstr("{"))));

  ASSERT_GT((*first)->metrics_port(), 0);
  const std::string busy_metrics = absl::StrCat("127.0.0.1:", (*first)->metrics_port());
  absl::StatusOr<testing::ProcessResult> metrics_taken = testing::RunProcess(
      {DESCENTD_PATH, "--listen", "127.0.0.1:0", "--metrics-listen", busy_metrics, "--data-dir",
       DescentdProcess::NewDataDir()},
      kPatience);
  ASSERT_OK(metrics_taken);
  EXPECT_EQ(metrics_taken->exit_code, 1);
  EXPECT_THAT(Lines(metrics_taken->err), SizeIs(1))
      << metrics_taken->err;
  EXPECT_THAT(metrics_taken->err, AllOf(HasSubstr("--metrics-listen"), HasSubstr(busy_metrics)));
}

// Every flag that takes a number or a duration, and the other usage errors: one line that
// quotes the argument as it was typed and says what is expected, exit code 1.
TEST(DescentdLogTest, FlagErrorsQuoteTheFlagAsTypedWithTheExpectedForm) {
  const std::string data_dir = DescentdProcess::NewDataDir();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--heartbeat-interval=5"},
       "--heartbeat-interval=5: expected a duration with a unit, e.g. 5s"},
      {{"--heartbeat_interval", "5"}, "--heartbeat_interval 5: expected a duration"},
      {{"--heartbeat-interval=0s"}, "--heartbeat-interval must be > 0"},
      {{"--workers", "two"}, "--workers two: expected a whole number"},
      {{"--workers=-1"}, "--workers must be >= 0 (got -1)"},
      {{"--max-queued-jobs=many"}, "--max-queued-jobs=many: expected a whole number"},
      {{"--max-queued-jobs=0"}, "--max-queued-jobs must be >= 1"},
      {{"--max-watchers-per-job=1.5"}, "--max-watchers-per-job=1.5: expected a whole number"},
      {{"--max-watchers-per-job=0"}, "--max-watchers-per-job must be > 0"},
      {{"--max-message-bytes=64MiB"}, "--max-message-bytes=64MiB: expected a whole number"},
      {{"--max-message-bytes=0"}, "--max-message-bytes must be > 0"},
      {{"--checkpoint-every-steps=1e4"}, "--checkpoint-every-steps=1e4: expected a whole number"},
      {{"--checkpoint-every-steps=0"}, "--checkpoint-every-steps must be >= 1"},
      {{"--checkpoint-every-seconds=30s"}, "--checkpoint-every-seconds=30s: expected a number"},
      {{"--checkpoint-every-seconds=0"}, "--checkpoint-every-seconds must be > 0"},
      {{"--max-dataset-bytes=1G"}, "--max-dataset-bytes=1G: expected a whole number"},
      {{"--max-dataset-bytes=-1"}, "--max-dataset-bytes must be > 0"},
      {{"--max-model-parameters=5e7"}, "--max-model-parameters=5e7: expected a whole number"},
      {{"--max-steps-per-job=lots"}, "--max-steps-per-job=lots: expected a whole number"},
      {{"--log-format=xml"}, "--log-format=xml: expected text or json"},
      {{"--heartbeat-intervall=5s"}, "unknown flag --heartbeat-intervall; did you mean "
                                     "--heartbeat-interval?"},
      {{"--listen"}, "--listen needs a value, e.g. --listen=0.0.0.0:50051"},
      {{"--tls-key", "k.pem"}, "--tls-key"},
      {{"serve"}, "unexpected argument serve"},
  };
  for (const auto& [flags, expected] : cases) {
    std::vector<std::string> argv = {DESCENTD_PATH, "--data-dir", data_dir, "--listen",
                                     "127.0.0.1:0", "--metrics-listen", ""};
    argv.insert(argv.end(), flags.begin(), flags.end());
    absl::StatusOr<testing::ProcessResult> result = testing::RunProcess(argv, kPatience);
    ASSERT_OK(result);
    EXPECT_EQ(result->exit_code, 1) << flags[0];
    EXPECT_THAT(result->err, AllOf(HasSubstr(expected), HasSubstr("(see --help)"),
                                   Not(HasSubstr("ERROR: Illegal value"))))
        << flags[0];
    EXPECT_THAT(Lines(result->err), SizeIs(1))
        << result->err;
  }
}

}  // namespace
}  // namespace descent::integration
