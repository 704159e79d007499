// descentd: turns flags into ServerOptions, prepares the data directory, runs the Server
// until SIGTERM or SIGINT, then shuts it down cleanly and exits 0.
//
// Flags are spelled with dashes (--metrics-listen); absl's underscore spelling
// (--metrics_listen) is accepted too.
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/blas.h"
#include "server/server.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051",
          "gRPC address, host:port. Port 0 picks a free port; the start-up log line names it.");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9464",
          "Prometheus /metrics address, host:port (port 0 picks one). Empty turns the endpoint "
          "off.");
ABSL_FLAG(std::string, data_dir, "./descent-data",
          "Directory for the server's state; created if missing and must be writable. It holds "
          "uploaded datasets (datasets/); jobs live in memory and are gone after a restart.");
ABSL_FLAG(int, workers, 0,
          "Jobs trained at the same time; 0 = one per available CPU core. OpenBLAS threads per "
          "job are cores / workers, so concurrent jobs never oversubscribe the cores.");
ABSL_FLAG(int, max_queued_jobs, 1000,
          "Jobs allowed to wait in the queue; SubmitJob beyond that fails with "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(5),
          "A WatchJob stream that sent nothing for this long gets a heartbeat, e.g. 5s or "
          "500ms.");
ABSL_FLAG(int, max_watchers_per_job, 64,
          "WatchJob streams open at once for one job (`descent watch`); one more fails with "
          "RESOURCE_EXHAUSTED until a stream ends.");
ABSL_FLAG(int, max_message_bytes, 64 << 20,
          "Largest gRPC message accepted or sent (a job with an inline dataset, a Predict "
          "batch); a larger request fails with RESOURCE_EXHAUSTED.");
ABSL_FLAG(int64_t, max_dataset_bytes, 256 << 20,
          "Largest dataset: a CSV upload (`descent upload`), enforced while it streams in, or "
          "a job's inline dataset (its size on the wire). Uploaded datasets are kept under "
          "<data-dir>/datasets.");
ABSL_FLAG(int64_t, max_model_parameters, 50'000'000,
          "Largest network a job may train, in weights and biases (4 bytes each, plus "
          "optimizer state); SubmitJob beyond it fails with INVALID_ARGUMENT.");
ABSL_FLAG(int64_t, max_steps_per_job, 10'000'000,
          "Most optimizer steps (epochs x batches per epoch) a job may ask for; every step's "
          "loss is kept for watchers. SubmitJob beyond it fails with INVALID_ARGUMENT.");

namespace {

// The flags --help documents, in this order.
constexpr const char* kFlagNames[] = {"listen",
                                      "metrics_listen",
                                      "data_dir",
                                      "workers",
                                      "max_queued_jobs",
                                      "heartbeat_interval",
                                      "max_watchers_per_job",
                                      "max_message_bytes",
                                      "max_dataset_bytes",
                                      "max_model_parameters",
                                      "max_steps_per_job"};

constexpr char kAbout[] =
    "descentd runs dense-network training jobs and serves them over gRPC\n"
    "(descent.v1.TrainingService, plus the standard grpc.health.v1.Health service and server\n"
    "reflection), streams every optimizer step's loss to watchers, and exports Prometheus\n"
    "metrics. Use the `descent` CLI to submit and watch jobs.\n";

constexpr char kSignals[] =
    "Signals: SIGTERM or SIGINT stops the server. It stops accepting jobs (SubmitJob answers\n"
    "UNAVAILABLE), cancels queued and running jobs (they end CANCELLED; running ones stop\n"
    "before their next step), ends every WatchJob stream with the job's terminal event,\n"
    "gives other in-flight calls up to 5s, and exits 0.\n"
    "Exit codes: 0 after a clean stop, --help or --version; 1 for a bad flag or a server that\n"
    "cannot start.\n";

std::string DashedName(absl::string_view name) { return absl::StrReplaceAll(name, {{"_", "-"}}); }

// "--metrics-listen=x" -> "--metrics_listen=x": absl flags are C++ identifiers.
void UnderscoreFlagNames(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* arg = argv[i];
    if (absl::string_view(arg) == "--") break;
    if (arg[0] != '-') continue;
    for (char* c = arg + 1; *c != '\0' && *c != '='; ++c) {
      if (*c == '-' && c != arg + 1) *c = '_';
    }
  }
}

// `text` word-wrapped to 92 columns, every line starting with `indent`.
std::string Wrapped(absl::string_view text, absl::string_view indent) {
  std::string out;
  std::string line(indent);
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (line.size() > indent.size() && line.size() + 1 + word.size() > 92) {
      absl::StrAppend(&out, line, "\n");
      line = std::string(indent);
    }
    absl::StrAppend(&line, line.size() > indent.size() ? " " : "", word);
  }
  absl::StrAppend(&out, line, "\n");
  return out;
}

void PrintHelp() {
  std::string text = absl::StrCat("Usage: descentd [flags]\n\n", kAbout, "\nFlags:\n");
  for (const char* name : kFlagNames) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) continue;
    absl::StrAppend(&text, "  --", DashedName(name), " (default \"", flag->DefaultValue(), "\")\n",
                    Wrapped(flag->Help(), "      "));
  }
  absl::StrAppend(&text, "  --version\n      Print the version and exit.\n\n", kSignals);
  std::fputs(text.c_str(), stdout);
}

bool HasArg(int argc, char** argv, std::initializer_list<absl::string_view> names) {
  for (int i = 1; i < argc; ++i) {
    if (absl::string_view(argv[i]) == "--") return false;
    if (std::find(names.begin(), names.end(), absl::string_view(argv[i])) != names.end()) {
      return true;
    }
  }
  return false;
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "descentd: %s (see --help)\n", message.c_str());
  return 1;
}

// Creates the directory if needed and proves it writable with a probe file, so a
// misconfigured volume fails at start rather than at the first write.
bool PrepareDataDir(const std::string& path, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec || !std::filesystem::is_directory(path)) {
    *error = absl::StrCat("cannot create --data-dir ", path, ": ",
                          ec ? ec.message() : "not a directory");
    return false;
  }
  const std::filesystem::path probe = std::filesystem::path(path) / ".descentd-write-check";
  {
    std::ofstream out(probe);
    out << "ok\n";
    if (!out.good()) {
      *error = absl::StrCat("--data-dir ", path, " is not writable");
      return false;
    }
  }
  std::filesystem::remove(probe, ec);
  return true;
}

int AvailableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

int main(int argc, char** argv) {
  UnderscoreFlagNames(argc, argv);
  if (HasArg(argc, argv, {"--help", "-h", "-help"})) {
    PrintHelp();
    return 0;
  }
  if (HasArg(argc, argv, {"--version"})) {
    std::printf("descentd %s (commit %s)\n", DESCENT_VERSION, DESCENT_GIT_COMMIT);
    return 0;
  }
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    return UsageError(absl::StrCat("unexpected argument ", positional[1]));
  }

  descent::server::ServerOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.metrics_listen_address = absl::GetFlag(FLAGS_metrics_listen);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  const int workers = absl::GetFlag(FLAGS_workers);
  if (workers < 0) return UsageError(absl::StrCat("--workers must be >= 0 (got ", workers, ")"));
  options.jobs.workers = workers == 0 ? AvailableCores() : workers;
  options.jobs.max_queued_jobs = absl::GetFlag(FLAGS_max_queued_jobs);
  if (options.jobs.max_queued_jobs < 1) {
    return UsageError(
        absl::StrCat("--max-queued-jobs must be >= 1 (got ", options.jobs.max_queued_jobs, ")"));
  }
  options.jobs.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  if (options.jobs.heartbeat_interval <= absl::ZeroDuration()) {
    return UsageError(absl::StrCat("--heartbeat-interval must be > 0 (got ",
                                   absl::FormatDuration(options.jobs.heartbeat_interval), ")"));
  }
  if (options.max_message_bytes <= 0) {
    return UsageError(
        absl::StrCat("--max-message-bytes must be > 0 (got ", options.max_message_bytes, ")"));
  }
  options.jobs.max_watchers_per_job = absl::GetFlag(FLAGS_max_watchers_per_job);
  options.limits.max_dataset_bytes = absl::GetFlag(FLAGS_max_dataset_bytes);
  options.limits.max_model_parameters = absl::GetFlag(FLAGS_max_model_parameters);
  options.limits.max_steps_per_job = absl::GetFlag(FLAGS_max_steps_per_job);
  for (const auto& [flag, value] :
       {std::pair<const char*, int64_t>{"max-watchers-per-job", options.jobs.max_watchers_per_job},
        {"max-dataset-bytes", options.limits.max_dataset_bytes},
        {"max-model-parameters", options.limits.max_model_parameters},
        {"max-steps-per-job", options.limits.max_steps_per_job}}) {
    if (value <= 0) return UsageError(absl::StrCat("--", flag, " must be > 0 (got ", value, ")"));
  }
  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  std::string error;
  if (data_dir.empty() || !PrepareDataDir(data_dir, &error)) {
    std::fprintf(stderr, "descentd: %s\n",
                 data_dir.empty() ? "--data-dir must be set" : error.c_str());
    return 1;
  }

  options.dataset_dir = (std::filesystem::path(data_dir) / "datasets").string();

  // Block the stop signals in every thread (threads inherit the mask), so they are only
  // ever received by the sigwait below, never in the middle of gRPC or training code.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<descent::server::Server>> server =
      descent::server::Server::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "descentd: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  const std::string metrics = (*server)->metrics_address().empty()
                                  ? std::string("metrics off")
                                  : absl::StrCat("metrics on ", (*server)->metrics_address(),
                                                 " (port ", (*server)->metrics_port(), ")");
  std::fprintf(stderr,
               "descentd %s: serving gRPC on %s (port %d), %s, data dir %s, "
               "%d workers, up to %d queued jobs\n",
               DESCENT_VERSION, (*server)->address().c_str(), (*server)->port(), metrics.c_str(),
               data_dir.c_str(), options.jobs.workers, options.jobs.max_queued_jobs);
  if (const std::string warning = descent::BlasKernelWarning(); !warning.empty()) {
    std::fprintf(stderr, "descentd: warning: %s\n", warning.c_str());
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::fprintf(stderr, "descentd: %s received; cancelling jobs and stopping\n",
               signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->Shutdown();
  server->reset();
  std::fprintf(stderr, "descentd: stopped\n");
  return 0;
}
