// Watch streams that go wrong, against the real descentd: `descent watch` processes killed
// with SIGKILL, a client that cancels its call, a watcher that never reads, one watcher too
// many, and a request over --max-message-bytes. The job keeps training, the other watchers
// see every step once, the server frees the stream's slot (descent_watchers_active on
// /metrics) and stays healthy. Waits end on what the server reports, never on elapsed time.
#include <signal.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "descent/v1/training.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/integration/cli_runner.h"
#include "tests/integration/descentd_process.h"
#include "tests/testing/http_get.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace descent::integration {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// Generous bound for anything the server should do soon; only a broken server reaches it.
constexpr absl::Duration kPatience = absl::Seconds(120);

// house_prices with 2000 samples in batches of 8: 250 steps an epoch. `units` wide hidden
// layers, `depth` of them.
v1::JobSpec HousePrices(int epochs, int units = 16, int depth = 1) {
  v1::JobSpec spec;
  spec.set_name("stream-faults");
  spec.mutable_dataset()->mutable_builtin()->set_name("house_prices");
  spec.mutable_dataset()->mutable_builtin()->set_samples(2000);
  for (int i = 0; i < depth; ++i) spec.mutable_model()->add_hidden_layers()->set_units(units);
  spec.set_loss(v1::MEAN_SQUARED_ERROR);
  spec.mutable_optimizer()->mutable_adam()->set_learning_rate(0.001);
  spec.mutable_training()->set_epochs(epochs);
  spec.mutable_training()->set_batch_size(8);
  spec.mutable_training()->set_stop_on_divergence(false);
  return spec;
}

// The value of an unlabelled sample in descentd's /metrics; -1 if absent or unreachable.
double Metric(const DescentdProcess& server, const std::string& name) {
  absl::StatusOr<testing::HttpResponse> response =
      testing::HttpGet(server.metrics_port(), "/metrics");
  if (!response.ok()) return -1;
  std::smatch match;
  if (!std::regex_search(response->body, match, std::regex("\n" + name + " ([0-9.e+]+)\n"))) {
    return -1;
  }
  double value = 0;
  return absl::SimpleAtod(match[1].str(), &value) ? value : -1;
}

// Polls /metrics until `name` equals `expected`, or kPatience passes; the last value seen.
double AwaitMetric(const DescentdProcess& server, const std::string& name, double expected) {
  const absl::Time give_up = absl::Now() + kPatience;
  double value = Metric(server, name);
  while (value != expected && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(50));
    value = Metric(server, name);
  }
  return value;
}

// Polls GetJob until the job is past `step`, or kPatience passes; the last step seen.
int64_t AwaitStepBeyond(client::DescentClient& client, const std::string& id, int64_t step) {
  const absl::Time give_up = absl::Now() + kPatience;
  int64_t now = -1;
  do {
    absl::StatusOr<v1::Job> job = client.GetJob(id);
    if (job.ok()) now = job->progress().step();
    if (now > step) break;
    absl::SleepFor(absl::Milliseconds(20));
  } while (absl::Now() < give_up);
  return now;
}

// A `descent watch -o json` process that has printed losses.
std::unique_ptr<testing::Subprocess> StartCliWatch(const DescentdProcess& server,
                                                   const std::string& id) {
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> cli = testing::Subprocess::Start(
      {DESCENT_CLI_PATH, "--server", server.address(), "-o", "json", "watch", id});
  EXPECT_OK(cli);
  if (!cli.ok()) return nullptr;
  EXPECT_TRUE((*cli)->WaitForOutput("\"losses\"", kPatience)) << (*cli)->Stderr();
  return *std::move(cli);
}

// Reads a whole stream, counting how often each step arrived.
struct StepTally {
  std::vector<int> counts;  // counts[s] = times step s arrived (grown as needed)
  int64_t last_step = 0;
  bool out_of_order = false;
  v1::JobState final_state = v1::JOB_STATE_UNSPECIFIED;
  absl::Status status;

  bool OnEvent(const v1::WatchJobResponse& event) {
    if (event.has_losses()) {
      const int64_t first = event.losses().first_step();
      if (first != last_step + 1) out_of_order = true;
      last_step = first + event.losses().losses_size() - 1;
      if (counts.size() <= static_cast<size_t>(last_step)) counts.resize(last_step + 1, 0);
      for (int64_t s = first; s <= last_step; ++s) ++counts[s];
    }
    if (event.has_state()) final_state = event.state().state();
    return true;
  }
  bool EachStepOnceUpTo(int64_t total) const {
    if (last_step != total) return false;
    for (int64_t s = 1; s <= total; ++s) {
      if (counts[s] != 1) return false;
    }
    return true;
  }
};

TEST(StreamFaultsTest, KilledAndCancelledWatchersFreeTheirSlotsWhileTrainingGoesOn) {
  absl::StatusOr<std::unique_ptr<DescentdProcess>> started = DescentdProcess::Start(
      {"--workers", "1", "--max-watchers-per-job", "3", "--heartbeat-interval", "100ms"});
  ASSERT_OK(started);
  DescentdProcess& server = **started;
  ASSERT_GT(server.metrics_port(), 0);
  auto client = server.NewClient();
  // 5M steps of a 13-256-256-1 network: runs until cancelled.
  absl::StatusOr<v1::Job> job = client->SubmitJob(HousePrices(20'000, 256, 2), "");
  ASSERT_OK(job);
  const std::string id = job->id();

  // A reading watcher for the whole test; it must not notice anything.
  StepTally steady;
  std::thread steady_thread([&] {
    steady.status = server.NewClient()->WatchJob(
        id, 0, kPatience, [&](const v1::WatchJobResponse& event) { return steady.OnEvent(event); });
  });
  std::unique_ptr<testing::Subprocess> first = StartCliWatch(server, id);
  std::unique_ptr<testing::Subprocess> second = StartCliWatch(server, id);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(AwaitMetric(server, "descent_watchers_active", 3), 3);

  // A fourth is refused...
  const absl::Status refused =
      client->WatchJob(id, 0, kPatience, [](const v1::WatchJobResponse&) { return true; });
  EXPECT_THAT(refused,
              descent::testing::StatusIs(
                  absl::StatusCode::kResourceExhausted,
                  HasSubstr("already has the most watchers --max-watchers-per-job allows (3)")));
  // ...and `descent watch` says so and keeps retrying until a slot frees up.
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> waiting = testing::Subprocess::Start(
      {DESCENT_CLI_PATH, "--server", server.address(), "-o", "json", "watch", id});
  ASSERT_OK(waiting);
  EXPECT_TRUE((*waiting)->WaitForOutput("--max-watchers-per-job allows (3)", kPatience, true))
      << (*waiting)->Stderr();

  // SIGKILL one `descent watch`: the server notices at its next send and frees the slot,
  // which the waiting one takes.
  const int64_t before_kill = client->GetJob(id)->progress().step();
  first->Signal(SIGKILL);
  ASSERT_OK(first->Wait(absl::Seconds(10)));
  EXPECT_TRUE((*waiting)->WaitForOutput("\"losses\"", kPatience)) << (*waiting)->Stderr();
  EXPECT_EQ(AwaitMetric(server, "descent_watchers_active", 3), 3);
  for (testing::Subprocess* cli : {second.get(), waiting->get()}) {
    cli->Signal(SIGKILL);
    ASSERT_OK(cli->Wait(absl::Seconds(10)));
  }
  EXPECT_EQ(AwaitMetric(server, "descent_watchers_active", 1), 1);

  // A raw client that cancels its call after the first losses.
  int cancelled_after = 0;
  const absl::Status cancelled =
      client->WatchJob(id, 0, kPatience, [&](const v1::WatchJobResponse& event) {
        return !event.has_losses() || ++cancelled_after < 1;
      });
  EXPECT_EQ(cancelled.code(), absl::StatusCode::kCancelled) << cancelled;
  EXPECT_EQ(AwaitMetric(server, "descent_watchers_active", 1), 1);

  // Training went on through all of it, and the server answers health checks.
  EXPECT_GT(AwaitStepBeyond(*client, id, before_kill + 500), before_kill + 500);
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> health =
      client->CheckHealth();
  ASSERT_OK(health);
  EXPECT_EQ(*health, grpc::health::v1::HealthCheckResponse::SERVING);

  ASSERT_OK(client->CancelJob(id));
  steady_thread.join();
  EXPECT_OK(steady.status);
  EXPECT_EQ(steady.final_state, v1::CANCELLED);
  EXPECT_FALSE(steady.out_of_order);
  absl::StatusOr<v1::Job> ended = client->GetJob(id);
  ASSERT_OK(ended);
  EXPECT_TRUE(steady.EachStepOnceUpTo(ended->progress().step()))
      << "last step " << steady.last_step << " of " << ended->progress().step();
  EXPECT_EQ(AwaitMetric(server, "descent_watchers_active", 0), 0);
}

TEST(StreamFaultsTest, AWatcherThatNeverReadsDoesNotHoldTheJobBack) {
  absl::StatusOr<std::unique_ptr<DescentdProcess>> started =
      DescentdProcess::Start({"--workers", "1", "--heartbeat-interval", "100ms"});
  ASSERT_OK(started);
  DescentdProcess& server = **started;
  auto client = server.NewClient();
  const double resident_before = Metric(server, "process_resident_memory_bytes");
  ASSERT_GT(resident_before, 0);

  // 200 epochs: 50,000 steps, far more than a small flow-control window holds.
  constexpr int64_t kTotalSteps = 200 * 250;
  absl::StatusOr<v1::Job> job = client->SubmitJob(HousePrices(200), "");
  ASSERT_OK(job);

  // A raw stream with a 1 KiB receive window that is never read: the server's writes to it
  // block as soon as the window is full.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  auto stalled_channel =
      grpc::CreateCustomChannel(server.address(), grpc::InsecureChannelCredentials(), args);
  auto stalled_stub = v1::TrainingService::NewStub(stalled_channel);
  grpc::ClientContext stalled_context;
  v1::WatchJobRequest request;
  request.set_job_id(job->id());
  std::unique_ptr<grpc::ClientReader<v1::WatchJobResponse>> stalled =
      stalled_stub->WatchJob(&stalled_context, request);
  EXPECT_EQ(AwaitMetric(server, "descent_watchers_active", 1), 1);

  // A reading watcher alongside it sees the job through to the end.
  StepTally reader;
  reader.status = client->WatchJob(
      job->id(), 0, kPatience, [&](const v1::WatchJobResponse& e) { return reader.OnEvent(e); });
  EXPECT_OK(reader.status);
  EXPECT_EQ(reader.final_state, v1::SUCCEEDED);
  EXPECT_TRUE(reader.EachStepOnceUpTo(kTotalSteps)) << "last step " << reader.last_step;
  absl::StatusOr<v1::Job> done = client->GetJob(job->id());
  ASSERT_OK(done);
  EXPECT_EQ(done->state(), v1::SUCCEEDED);
  EXPECT_EQ(done->progress().step(), kTotalSteps);

  // The stalled stream is still open (its server thread is blocked in a write), and nothing
  // was queued for it beyond the window: resident memory stays far below a copy per step
  // of every message.
  EXPECT_EQ(Metric(server, "descent_watchers_active"), 1);
  const double resident_after = Metric(server, "process_resident_memory_bytes");
  EXPECT_LT(resident_after - resident_before, 64 << 20)
      << "resident " << resident_before << " -> " << resident_after;

  // Abandoning it frees the slot; the server stays healthy.
  stalled_context.TryCancel();
  EXPECT_EQ(stalled->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(AwaitMetric(server, "descent_watchers_active", 0), 0);
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> health =
      client->CheckHealth();
  ASSERT_OK(health);
  EXPECT_EQ(*health, grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST(StreamFaultsTest, AJobFileOverMaxMessageBytesIsRefusedNamingTheFlag) {
  absl::StatusOr<std::unique_ptr<DescentdProcess>> started =
      DescentdProcess::Start({"--max-message-bytes", "65536"});
  ASSERT_OK(started);
  // 20,000 inline rows: about 200 KB on the wire.
  v1::JobSpec spec = HousePrices(1);
  spec.mutable_dataset()->clear_builtin();
  v1::InlineDataset& data = *spec.mutable_dataset()->mutable_inline_();
  data.mutable_features()->set_rows(20'000);
  data.mutable_features()->set_cols(1);
  data.mutable_targets()->set_rows(20'000);
  data.mutable_targets()->set_cols(1);
  for (int i = 0; i < 20'000; ++i) {
    data.mutable_features()->add_values(0.001f * static_cast<float>(i));
    data.mutable_targets()->add_values(0.002f * static_cast<float>(i));
  }
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(spec, &json).ok());
  const std::string path = WriteTempFile("too-large.json", json);

  const testing::ProcessResult submitted =
      RunCli((*started)->address(), {"submit", path}, kPatience);
  EXPECT_EQ(submitted.exit_code, 1) << submitted.err;
  EXPECT_THAT(submitted.err, AllOf(HasSubstr("larger than max"), HasSubstr("RESOURCE_EXHAUSTED"),
                                   HasSubstr("--max-message-bytes")));
}

}  // namespace
}  // namespace descent::integration
