// descentd: turns flags into ServerOptions, prepares the data directory, runs the Server
// until SIGTERM or SIGINT, then shuts it down cleanly and exits 0. SIGHUP re-reads
// --auth-token-file.
//
// Flags are spelled with dashes (--metrics-listen); absl's underscore spelling
// (--metrics_listen) is accepted too. Usage errors are one `descentd: ... (see --help)` line;
// everything after start-up goes to the log (log.h), as text or JSON (--log-format).
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/blas.h"
#include "server/security/bearer_tokens.h"
#include "server/command_line.h"
#include "server/observability/grpc_log.h"
#include "server/observability/log.h"
#include "server/server.h"
#include "server/security/server_tls.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051",
          "gRPC address, host:port. Port 0 picks a free port; the start-up log line names it.");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9464",
          "Prometheus /metrics address, host:port (port 0 picks one). Empty turns the endpoint "
          "off.");
ABSL_FLAG(std::string, data_dir, "./descent-data",
          "Directory for the server's state; created if missing and must be writable. It holds "
          "uploaded datasets (datasets/) and the job store (descent.db: jobs, every step's "
          "loss, checkpoints, trained models), so a restart on the same directory resumes "
          "unfinished jobs and serves finished ones. One descentd per directory.");
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
ABSL_FLAG(int64_t, checkpoint_every_steps, 10'000,
          "A running job writes a checkpoint (with the losses since the previous one) to the "
          "job store after this many steps, or --checkpoint-every-seconds, whichever comes "
          "first.");
ABSL_FLAG(double, checkpoint_every_seconds, 30,
          "See --checkpoint-every-steps. A crash loses at most one such interval of training, "
          "which the job does again (on the same trajectory) when it resumes.");
ABSL_FLAG(int64_t, retain_finished_jobs, 0,
          "Keep at most this many finished (succeeded, failed or cancelled) jobs: when one more "
          "ends, the one that ended first is deleted with its loss history, events, checkpoint "
          "and model, from the job store and from memory. Queued and running jobs are never "
          "deleted. 0 keeps every job.");
ABSL_FLAG(std::string, retain_finished_for, "0",
          "Delete finished jobs this long after they ended (checked at start, whenever a job "
          "ends, and every minute): a number with d, h, m or s, e.g. 30d or 12h. Works with "
          "--retain-finished-jobs (a job goes when either says so). 0 keeps jobs forever.");
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
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of the server; with --tls-key, gRPC is served over TLS only. "
          "Empty = plaintext gRPC.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert (unencrypted).");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM bundle of the CAs that sign client certificates; turns on mutual TLS: every "
          "client must present a certificate one of them signed. Needs --tls-cert and --tls-key.");
ABSL_FLAG(std::string, auth_token_file, "",
          "File of accepted bearer tokens, one per line (blank lines and lines starting with # "
          "are skipped). With it, every RPC but grpc.health.v1.Health needs `authorization: "
          "Bearer <token>` (the CLI sends DESCENT_TOKEN) and server reflection is off. SIGHUP "
          "re-reads the file. Use it with TLS: tokens are sent in the clear otherwise.");
ABSL_FLAG(std::string, log_format, "text",
          "How descentd logs to stderr, one line per event (start-up, each job submitted, "
          "started, resumed and finished, refused calls and connections, signals): text = "
          "`<time> <LEVEL> <event>: <message>`; json = one JSON object per line with time, "
          "level, event, the event's fields (job_id, job_name, state, verdict, error, ...) and "
          "message.");

namespace {

// The flags --help documents, in this order.
constexpr const char* kFlagNames[] = {"listen",
                                      "metrics_listen",
                                      "data_dir",
                                      "workers",
                                      "max_queued_jobs",
                                      "heartbeat_interval",
                                      "max_watchers_per_job",
                                      "checkpoint_every_steps",
                                      "checkpoint_every_seconds",
                                      "retain_finished_jobs",
                                      "retain_finished_for",
                                      "max_message_bytes",
                                      "max_dataset_bytes",
                                      "max_model_parameters",
                                      "max_steps_per_job",
                                      "tls_cert",
                                      "tls_key",
                                      "tls_client_ca",
                                      "auth_token_file",
                                      "log_format"};

constexpr char kAbout[] =
    "descentd runs dense-network training jobs and serves them over gRPC\n"
    "(descent.v1.TrainingService, plus the standard grpc.health.v1.Health service and server\n"
    "reflection), streams every optimizer step's loss to watchers, and exports Prometheus\n"
    "metrics. Use the `descent` CLI to submit and watch jobs.\n";

constexpr char kSignals[] =
    "Signals: SIGTERM or SIGINT stops the server. It stops accepting jobs (SubmitJob answers\n"
    "UNAVAILABLE), checkpoints running jobs before their next step and leaves them and the\n"
    "queued ones to continue at the next start on the same --data-dir, ends their WatchJob\n"
    "streams with UNAVAILABLE (`descent watch` reconnects), gives other in-flight calls up to\n"
    "5s, and exits 0. After a crash (kill -9) running jobs resume from their last checkpoint.\n"
    "SIGHUP re-reads --auth-token-file: tokens added to it are accepted and removed ones\n"
    "rejected from then on; a file that cannot be read (or holds no token) is logged and the\n"
    "previous tokens stay in force.\n"
    "Exit codes: 0 after a clean stop, --help or --version; 1 for a bad flag or a server that\n"
    "cannot start.\n";

// "30d" -> 30 days; otherwise absl's duration syntax ("12h", "90m", "1h30m", "0").
std::optional<absl::Duration> ParseAge(absl::string_view text) {
  absl::Duration age;
  int64_t days = 0;
  if (absl::ConsumeSuffix(&text, "d")) {
    if (!absl::SimpleAtoi(text, &days) || days < 0) return std::nullopt;
    return absl::Hours(24) * days;
  }
  if (!absl::ParseDuration(text, &age) || age < absl::ZeroDuration()) return std::nullopt;
  return age;
}

std::string DashedName(absl::string_view name) { return absl::StrReplaceAll(name, {{"_", "-"}}); }

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

std::string TransportSummary(const std::optional<descent::server::ServerTls>& tls) {
  if (!tls.has_value()) return "plaintext gRPC (no TLS)";
  return tls->client_ca_pem.empty() ? "TLS" : "mutual TLS (client certificates required)";
}

// SIGHUP: swaps in the tokens of `path`. A file that cannot be read or holds no token keeps
// the current tokens; either way one log line, which never contains a token.
void ReloadTokens(const std::string& path, descent::server::Server& server) {
  using descent::server::Log;
  using descent::server::LogLevel;
  if (path.empty()) {
    Log(LogLevel::kWarning, "sighup_ignored", "SIGHUP ignored: no --auth-token-file to re-read");
    return;
  }
  absl::StatusOr<std::vector<std::string>> tokens = descent::server::ReadTokenFile(path);
  absl::Status replaced = tokens.ok() ? server.ReplaceBearerTokens(*tokens) : tokens.status();
  if (!replaced.ok()) {
    Log(LogLevel::kError, "tokens_kept",
        absl::StrCat("SIGHUP: keeping the previous tokens: ", replaced.message()),
        {{"file", path}, {"error", replaced.message()}});
    return;
  }
  Log(LogLevel::kInfo, "tokens_reloaded",
      absl::StrCat("SIGHUP: ", tokens->size(), " bearer token(s) loaded from ", path,
                   "; streams opened with a token no longer listed end at their next message"),
      {{"file", path}, {"tokens", static_cast<int64_t>(tokens->size())}});
}

// A start-up failure after the flags were accepted: one log line, exit code 1.
int StartFailed(absl::string_view message) {
  descent::server::Log(descent::server::LogLevel::kError, "start_failed", message);
  return 1;
}

int AvailableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

int main(int argc, char** argv) {
  if (HasArg(argc, argv, {"--help", "-h", "-help"})) {
    PrintHelp();
    return 0;
  }
  if (HasArg(argc, argv, {"--version"})) {
    std::printf("descentd %s (commit %s)\n", DESCENT_VERSION, DESCENT_GIT_COMMIT);
    return 0;
  }
  if (absl::Status parsed =
          descent::server::ParseFlags(std::vector<std::string>(argv + 1, argv + argc), kFlagNames);
      !parsed.ok()) {
    return UsageError(std::string(parsed.message()));
  }
  const std::string log_format = absl::GetFlag(FLAGS_log_format);
  const std::optional<descent::server::LogFormat> format =
      descent::server::ParseLogFormat(log_format);
  if (!format) {
    return UsageError(absl::StrCat("--log-format=", log_format, ": expected text or json"));
  }
  descent::server::SetLogFormat(*format);
  descent::server::RouteGrpcLogToLog();
  using descent::server::Log;
  using descent::server::LogLevel;

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
  if (data_dir.empty()) return UsageError("--data-dir must be set");
  if (!PrepareDataDir(data_dir, &error)) return StartFailed(error);

  options.dataset_dir = (std::filesystem::path(data_dir) / "datasets").string();
  options.job_store_path = (std::filesystem::path(data_dir) / "descent.db").string();
  options.jobs.checkpoint_every_steps = absl::GetFlag(FLAGS_checkpoint_every_steps);
  if (options.jobs.checkpoint_every_steps < 1) {
    return UsageError(absl::StrCat("--checkpoint-every-steps must be >= 1 (got ",
                                   options.jobs.checkpoint_every_steps, ")"));
  }
  const double checkpoint_seconds = absl::GetFlag(FLAGS_checkpoint_every_seconds);
  if (!(checkpoint_seconds > 0)) {
    return UsageError(absl::StrCat("--checkpoint-every-seconds must be > 0 (got ",
                                   checkpoint_seconds, ")"));
  }
  options.jobs.checkpoint_every = absl::Seconds(checkpoint_seconds);
  options.jobs.retain_finished_jobs = absl::GetFlag(FLAGS_retain_finished_jobs);
  if (options.jobs.retain_finished_jobs < 0) {
    return UsageError(absl::StrCat("--retain-finished-jobs must be >= 0 (got ",
                                   options.jobs.retain_finished_jobs, "); 0 keeps every job"));
  }
  const std::string retain_for = absl::GetFlag(FLAGS_retain_finished_for);
  const std::optional<absl::Duration> age = ParseAge(retain_for);
  if (!age) {
    return UsageError(absl::StrCat("--retain-finished-for=", retain_for,
                                   " is not an age: use a number with d, h, m or s, such as 30d "
                                   "or 12h (0 keeps jobs forever)"));
  }
  options.jobs.retain_finished_for = *age;

  const descent::server::ServerTlsFiles tls_files = {absl::GetFlag(FLAGS_tls_cert),
                                                     absl::GetFlag(FLAGS_tls_key),
                                                     absl::GetFlag(FLAGS_tls_client_ca)};
  if (absl::Status paired = descent::server::CheckServerTlsFlags(tls_files); !paired.ok()) {
    return UsageError(std::string(paired.message()));
  }
  absl::StatusOr<std::optional<descent::server::ServerTls>> tls =
      descent::server::LoadServerTls(tls_files);
  if (!tls.ok()) return StartFailed(tls.status().message());
  options.tls = *std::move(tls);
  const std::string token_file = absl::GetFlag(FLAGS_auth_token_file);
  if (!token_file.empty()) {
    absl::StatusOr<std::vector<std::string>> tokens = descent::server::ReadTokenFile(token_file);
    if (!tokens.ok()) return StartFailed(tokens.status().message());
    options.bearer_tokens = *std::move(tokens);
  }

  // Block the handled signals in every thread (threads inherit the mask), so they are only
  // ever received by the sigwait below, never in the middle of gRPC or training code.
  sigset_t handled_signals;
  sigemptyset(&handled_signals);
  sigaddset(&handled_signals, SIGTERM);
  sigaddset(&handled_signals, SIGINT);
  sigaddset(&handled_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &handled_signals, nullptr);

  absl::StatusOr<std::unique_ptr<descent::server::Server>> server =
      descent::server::Server::Start(options);
  if (!server.ok()) return StartFailed(server.status().message());
  const std::string metrics = (*server)->metrics_address().empty()
                                  ? std::string("metrics off")
                                  : absl::StrCat("metrics on ", (*server)->metrics_address(),
                                                 " (port ", (*server)->metrics_port(), ")");
  Log(LogLevel::kInfo, "started",
      absl::StrCat("descentd ", DESCENT_VERSION, ": serving gRPC on ", (*server)->address(),
                   " (port ", (*server)->port(), "), ", metrics, ", data dir ", data_dir, ", ",
                   options.jobs.workers, " workers, up to ", options.jobs.max_queued_jobs,
                   " queued jobs, ", (*server)->recovered_jobs(), " stored jobs resumed or queued"),
      {{"version", DESCENT_VERSION},
       {"grpc_address", (*server)->address()},
       {"grpc_port", (*server)->port()},
       {"metrics_address", (*server)->metrics_address()},
       {"metrics_port", (*server)->metrics_port()},
       {"data_dir", data_dir},
       {"workers", options.jobs.workers},
       {"max_queued_jobs", options.jobs.max_queued_jobs},
       {"recovered_jobs", (*server)->recovered_jobs()}});
  if (const std::string warning = descent::BlasKernelWarning(); !warning.empty()) {
    Log(LogLevel::kWarning, "blas_warning", warning);
  }
  const std::string authentication =
      options.bearer_tokens.has_value()
          ? absl::StrCat(options.bearer_tokens->size(), " bearer token(s) from ", token_file,
                         " (reflection off)")
          : "no authentication";
  Log(LogLevel::kInfo, "security",
      absl::StrCat(TransportSummary(options.tls), "; ", authentication),
      {{"transport", TransportSummary(options.tls)}, {"authentication", authentication}});
  if (options.bearer_tokens.has_value() && !options.tls.has_value()) {
    Log(LogLevel::kWarning, "tokens_without_tls",
        "--auth-token-file without --tls-cert: tokens cross the network in plaintext");
  }

  int signal_number = 0;
  while (sigwait(&handled_signals, &signal_number) == 0 && signal_number == SIGHUP) {
    ReloadTokens(token_file, **server);
  }
  const char* signal_name = signal_number == SIGTERM ? "SIGTERM" : "SIGINT";
  Log(LogLevel::kInfo, "stopping",
      absl::StrCat(signal_name, " received; checkpointing jobs and stopping"),
      {{"signal", signal_name}});
  (*server)->Shutdown();
  server->reset();
  Log(LogLevel::kInfo, "stopped", "stopped");
  return 0;
}
