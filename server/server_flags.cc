#include "server/server_flags.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "base/cores.h"
#include "base/status_macros.h"
#include "server/command_line.h"
#include "server/security/bearer_tokens.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051",
          "gRPC address, host:port. Port 0 picks a free port; the start-up log line names it.");
ABSL_FLAG(std::string, advertise, "",
          "host:port clients reach this descentd at, shown as the runner of the jobs it runs "
          "(`descent get`, `descent list`); replicas sharing a --store tell each other apart by "
          "it. Empty = the --listen address (a wildcard host such as 0.0.0.0 replaced by this "
          "machine's hostname).");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9464",
          "Prometheus /metrics address, host:port (port 0 picks one). Empty turns the endpoint "
          "off.");
ABSL_FLAG(std::string, data_dir, "./descent-data",
          "Directory for the server's state; created if missing and must be writable. It holds "
          "uploaded datasets (datasets/) and the job store (descent.db: jobs, every step's "
          "loss, checkpoints, trained models), so a restart on the same directory resumes "
          "unfinished jobs and serves finished ones. One descentd per directory. With a "
          "PostgreSQL --store both live in the database instead.");
ABSL_FLAG(std::string, store, "",
          "Where jobs are kept: empty = SQLite in --data-dir (descent.db); "
          "postgresql://USER@HOST:PORT/DB = that PostgreSQL database, which descentd creates "
          "its tables in (and migrates) and several descentd may share. A password goes in "
          "PGPASSWORD or ~/.pgpass rather than the URL. Uploaded datasets are kept in that "
          "database too, so every descentd sharing it serves them.");
ABSL_FLAG(absl::Duration, lease_timeout, absl::Seconds(30),
          "With a PostgreSQL --store shared by several descentd: a replica holds a lease on each "
          "job it trains and renews it every third of this; a replica that dies (kill -9, a lost "
          "machine or network) loses its jobs to the others this long after its last renewal, "
          "and they resume them from the last checkpoint. It is also how long a replica "
          "reconnects and retries when the database is away before it gives its jobs up. "
          "E.g. 30s or 10s.");
ABSL_FLAG(int, workers, 0,
          "Jobs trained at the same time; 0 = one per available CPU core. The cores are divided "
          "among the jobs running at the moment (one job alone uses them all through OpenBLAS's "
          "threads, as many jobs as cores one each), so jobs never oversubscribe the cores.");
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

namespace descent::server {
namespace {

// The flags --help documents, in this order.
constexpr const char* kFlagNames[] = {"listen",
                                      "advertise",
                                      "metrics_listen",
                                      "data_dir",
                                      "store",
                                      "lease_timeout",
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

}  // namespace

absl::StatusOr<DescentdConfig> ParseDescentdFlags(const std::vector<std::string>& args) {
  RETURN_IF_ERROR(ParseFlags(args, kFlagNames));
  DescentdConfig config;
  const std::string log_format = absl::GetFlag(FLAGS_log_format);
  const std::optional<LogFormat> format = ParseLogFormat(log_format);
  if (!format) {
    return absl::InvalidArgumentError(
        absl::StrCat("--log-format=", log_format, ": expected text or json"));
  }
  config.log_format = *format;
  config.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (config.data_dir.empty()) return absl::InvalidArgumentError("--data-dir must be set");
  const std::string retain_for = absl::GetFlag(FLAGS_retain_finished_for);
  const std::optional<absl::Duration> age = ParseAge(retain_for);
  if (!age) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--retain-finished-for=", retain_for,
        " is not an age: use a number with d, h, m or s, such as 30d or 12h (0 keeps jobs "
        "forever)"));
  }
  config.tls_files = {absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key),
                      absl::GetFlag(FLAGS_tls_client_ca)};
  RETURN_IF_ERROR(CheckServerTlsFlags(config.tls_files));
  config.auth_token_file = absl::GetFlag(FLAGS_auth_token_file);

  ServerOptions& options = config.options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.advertise_address = absl::GetFlag(FLAGS_advertise);
  options.metrics_listen_address = absl::GetFlag(FLAGS_metrics_listen);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.job_store_url = absl::GetFlag(FLAGS_store);
  // With --store, jobs and datasets are in the database and the data dir holds neither.
  if (options.job_store_url.empty()) {
    options.job_store_path = (std::filesystem::path(config.data_dir) / "descent.db").string();
    options.dataset_dir = (std::filesystem::path(config.data_dir) / "datasets").string();
  }
  options.limits.max_dataset_bytes = absl::GetFlag(FLAGS_max_dataset_bytes);
  options.limits.max_model_parameters = absl::GetFlag(FLAGS_max_model_parameters);
  options.limits.max_steps_per_job = absl::GetFlag(FLAGS_max_steps_per_job);
  JobManagerOptions& jobs = options.jobs;
  const int workers = absl::GetFlag(FLAGS_workers);
  jobs.workers = workers == 0 ? base::AvailableCores() : workers;
  jobs.max_queued_jobs = absl::GetFlag(FLAGS_max_queued_jobs);
  jobs.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  jobs.lease_timeout = absl::GetFlag(FLAGS_lease_timeout);
  jobs.max_watchers_per_job = absl::GetFlag(FLAGS_max_watchers_per_job);
  jobs.checkpoint_every_steps = absl::GetFlag(FLAGS_checkpoint_every_steps);
  // NaN is no interval either (absl would make it an infinite one).
  const double checkpoint_seconds = absl::GetFlag(FLAGS_checkpoint_every_seconds);
  jobs.checkpoint_every =
      checkpoint_seconds == checkpoint_seconds ? absl::Seconds(checkpoint_seconds)
                                               : absl::ZeroDuration();
  jobs.retain_finished_jobs = absl::GetFlag(FLAGS_retain_finished_jobs);
  jobs.retain_finished_for = *age;
  RETURN_IF_ERROR(ValidateServerOptions(options));
  return config;
}

absl::Status LoadServerSecrets(DescentdConfig* config) {
  ASSIGN_OR_RETURN(config->options.tls, LoadServerTls(config->tls_files));
  if (!config->auth_token_file.empty()) {
    ASSIGN_OR_RETURN(config->options.bearer_tokens, ReadTokenFile(config->auth_token_file));
  }
  return absl::OkStatus();
}

std::string DescentdHelp() {
  std::string text = absl::StrCat("Usage: descentd [flags]\n\n", kAbout, "\nFlags:\n");
  for (const char* name : kFlagNames) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    DESCENT_CHECK(flag != nullptr);
    absl::StrAppend(&text, "  --", DashedName(name), " (default \"", flag->DefaultValue(), "\")\n",
                    Wrapped(flag->Help(), "      "));
  }
  absl::StrAppend(&text, "  --version\n      Print the version and exit.\n\n", kSignals);
  return text;
}

}  // namespace descent::server
