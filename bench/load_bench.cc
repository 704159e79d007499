// Load: N concurrent clients against a running descentd, each in a loop of submitting a tiny
// job and watching it to its end, for a bounded time. Every client has its own connections.
// Given several replicas sharing one database (--target=A,B,C), client i submits to the
// i-th replica (round robin) and watches each job on the next one, which need not train it.
// Checks what users rely on under load: every step's loss arrives exactly once (none lost,
// none duplicated), no RPC fails, every job succeeds. Prints one JSON line with the counts,
// SubmitJob latency percentiles and the server's RSS before and after (from /proc, so the
// server must run on this machine: pass its pid). A benchmark, not a test: run by
// bench/load.sh (which starts descentd on loopback), never by ctest.
//
// Exit code: 0 when nothing was lost, duplicated or failed; 1 otherwise; 2 for bad flags.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "descent/v1/training.grpc.pb.h"

ABSL_FLAG(std::string, target, "",
          "descentd's gRPC address, e.g. 127.0.0.1:50051, or several replicas' separated by commas");
ABSL_FLAG(int, server_pid, 0, "descentd's pid, for its RSS (0: not reported)");
ABSL_FLAG(int, clients, 50, "concurrent clients, each with its own connection");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(30),
          "how long clients keep submitting; jobs in flight are then watched to their end");
ABSL_FLAG(absl::Duration, watch_timeout, absl::Seconds(120),
          "deadline of one WatchJob stream (a job not finished by then is an error)");
ABSL_FLAG(int, epochs, 4, "epochs of each tiny job (256 samples, batch 32: 8 steps an epoch)");

namespace {

namespace v1 = descent::v1;

// The tiny job: house_prices 13-16-1, Adam, 8 steps an epoch.
v1::SubmitJobRequest TinyJob(const std::string& request_id, int epochs) {
  v1::SubmitJobRequest request;
  request.set_request_id(request_id);
  v1::JobSpec& spec = *request.mutable_spec();
  spec.set_name("load");
  v1::BuiltinDataset& data = *spec.mutable_dataset()->mutable_builtin();
  data.set_name("house_prices");
  data.set_samples(256);
  data.set_seed(1);
  spec.mutable_model()->add_hidden_layers()->set_units(16);
  spec.set_loss(v1::MEAN_SQUARED_ERROR);
  spec.mutable_optimizer()->mutable_adam()->set_learning_rate(0.01);
  spec.mutable_training()->set_epochs(epochs);
  spec.mutable_training()->set_batch_size(32);
  return request;
}

// Resident set size of `pid` in KiB (VmRSS), or -1 when it cannot be read.
int64_t RssKib(int pid) {
  if (pid <= 0) return -1;
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      int64_t kib = -1;
      status >> kib;
      return kib;
    }
    status.ignore(1 << 20, '\n');
  }
  return -1;
}

struct Totals {
  int64_t submits = 0;
  int64_t jobs_succeeded = 0;
  int64_t steps_seen = 0;   // distinct steps received, over all jobs
  int64_t lost = 0;         // steps a job completed that its watcher never received
  int64_t duplicated = 0;   // steps received more than once
  int64_t errors = 0;       // failed RPCs, streams without a terminal state, failed jobs
  std::vector<double> submit_ms;
  std::vector<std::string> first_errors;  // a few, for the report

  void Add(const Totals& other) {
    submits += other.submits;
    jobs_succeeded += other.jobs_succeeded;
    steps_seen += other.steps_seen;
    lost += other.lost;
    duplicated += other.duplicated;
    errors += other.errors;
    submit_ms.insert(submit_ms.end(), other.submit_ms.begin(), other.submit_ms.end());
    for (const std::string& error : other.first_errors) {
      if (first_errors.size() < 5) first_errors.push_back(error);
    }
  }
  void Error(std::string what) {
    ++errors;
    if (first_errors.size() < 5) first_errors.push_back(std::move(what));
  }
};

// Watches `job_id` from its first step to its terminal state, accounting every loss point.
void WatchToEnd(v1::TrainingService::Stub& stub, const std::string& job_id, Totals& totals) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_watch_timeout)));
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  std::unique_ptr<grpc::ClientReader<v1::WatchJobResponse>> reader =
      stub.WatchJob(&context, request);
  int64_t last_step = 0;  // highest step received
  bool terminal = false;
  v1::WatchJobResponse response;
  while (reader->Read(&response)) {
    if (response.has_losses()) {
      const int64_t first = response.losses().first_step();
      const int64_t end = first + response.losses().losses_size();  // one past the last
      if (first > last_step + 1) totals.lost += first - last_step - 1;
      totals.duplicated += std::max<int64_t>(0, std::min(end, last_step + 1) - first);
      if (end - 1 > last_step) {
        totals.steps_seen += end - 1 - std::max(last_step, first - 1);
        last_step = end - 1;
      }
    } else if (response.has_state()) {
      const v1::Job& job = response.state().job();
      const v1::JobState state = response.state().state();
      if (state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED) {
        terminal = true;
        // Steps the job completed but the stream never delivered.
        totals.lost += std::max<int64_t>(0, job.progress().step() - last_step);
        if (state == v1::SUCCEEDED) {
          ++totals.jobs_succeeded;
        } else {
          totals.Error(absl::StrCat("job ", job_id, " ended ", v1::JobState_Name(state), ": ",
                                    job.error()));
        }
      }
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) {
    totals.Error(absl::StrCat("WatchJob ", job_id, ": ", status.error_message()));
  } else if (!terminal) {
    totals.Error(absl::StrCat("WatchJob ", job_id, " ended without a terminal state"));
  }
}

// A stub on a connection of its own to `target`.
std::unique_ptr<v1::TrainingService::Stub> Connect(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return v1::TrainingService::NewStub(
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
}

void RunClient(const std::vector<std::string>& targets, int client, absl::Time stop,
               Totals& totals) {
  const size_t first = static_cast<size_t>(client) % targets.size();
  std::unique_ptr<v1::TrainingService::Stub> stub = Connect(targets[first]);
  std::unique_ptr<v1::TrainingService::Stub> watcher =
      targets.size() > 1 ? Connect(targets[(first + 1) % targets.size()]) : nullptr;
  const int epochs = absl::GetFlag(FLAGS_epochs);
  for (int64_t i = 0; absl::Now() < stop; ++i) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::Job job;
    const absl::Time start = absl::Now();
    grpc::Status status =
        stub->SubmitJob(&context, TinyJob(absl::StrCat("load-", client, "-", i), epochs), &job);
    totals.submit_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    ++totals.submits;
    if (!status.ok()) {
      totals.Error(absl::StrCat("SubmitJob: ", status.error_message()));
      continue;
    }
    WatchToEnd(watcher != nullptr ? *watcher : *stub, job.id(), totals);
  }
}

double Percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index = static_cast<size_t>(fraction * static_cast<double>(values.size() - 1));
  return values[index];
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::vector<std::string> targets =
      absl::StrSplit(absl::GetFlag(FLAGS_target), ',', absl::SkipEmpty());
  const int clients = absl::GetFlag(FLAGS_clients);
  if (targets.empty() || clients < 1 || absl::GetFlag(FLAGS_epochs) < 1) {
    std::fprintf(stderr, "load_bench: --target is required; --clients and --epochs >= 1\n");
    return 2;
  }
  const int pid = absl::GetFlag(FLAGS_server_pid);
  const int64_t rss_before = RssKib(pid);

  std::vector<Totals> per_client(clients);
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  const absl::Time stop = start + absl::GetFlag(FLAGS_duration);
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back(RunClient, std::cref(targets), i, stop, std::ref(per_client[i]));
  }
  for (std::thread& thread : threads) thread.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const int64_t rss_after = RssKib(pid);

  Totals totals;
  for (const Totals& client : per_client) totals.Add(client);
  std::string errors_json;
  for (const std::string& error : totals.first_errors) {
    absl::StrAppend(&errors_json, errors_json.empty() ? "" : ",", "\"",
                    absl::StrReplaceAll(error, {{"\\", "\\\\"}, {"\"", "\\\""}}), "\"");
  }
  std::printf(
      "{\"bench\":\"load\",\"replicas\":%zu,\"clients\":%d,\"seconds\":%.1f,\"steps_per_job\":%d,"
      "\"submits\":%ld,\"jobs_succeeded\":%ld,\"steps_seen\":%ld,\"lost\":%ld,"
      "\"duplicated\":%ld,\"errors\":%ld,\"submit_latency_ms\":{\"p50\":%.2f,\"p99\":%.2f,"
      "\"max\":%.2f},\"server_rss_kib\":{\"before\":%ld,\"after\":%ld},\"first_errors\":[%s]}\n",
      targets.size(), clients, seconds, absl::GetFlag(FLAGS_epochs) * 8, totals.submits, totals.jobs_succeeded,
      totals.steps_seen, totals.lost, totals.duplicated, totals.errors,
      Percentile(totals.submit_ms, 0.50), Percentile(totals.submit_ms, 0.99),
      Percentile(totals.submit_ms, 1.0), rss_before, rss_after, errors_json.c_str());
  return totals.lost == 0 && totals.duplicated == 0 && totals.errors == 0 ? 0 : 1;
}
