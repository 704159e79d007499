// descentd: turns the flags into ServerOptions (server_flags.h), prepares the data
// directory, runs the Server until SIGTERM or SIGINT, then shuts it down cleanly and exits 0.
// SIGHUP re-reads --auth-token-file.
//
// Usage errors are one `descentd: ... (see --help)` line; everything after start-up goes to
// the log (log.h), as text or JSON (--log-format).
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/blas.h"
#include "server/observability/grpc_log.h"
#include "server/observability/log.h"
#include "server/security/bearer_tokens.h"
#include "server/server.h"
#include "server/server_flags.h"

namespace {

using descent::server::DescentdConfig;
using descent::server::Log;
using descent::server::LogLevel;

bool HasArg(int argc, char** argv, std::initializer_list<absl::string_view> names) {
  for (int i = 1; i < argc; ++i) {
    if (absl::string_view(argv[i]) == "--") return false;
    if (std::find(names.begin(), names.end(), absl::string_view(argv[i])) != names.end()) {
      return true;
    }
  }
  return false;
}

int UsageError(absl::string_view message) {
  std::fprintf(stderr, "descentd: %s (see --help)\n", std::string(message).c_str());
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

// A start-up failure after the flags were accepted: one log line, exit code 1.
int StartFailed(absl::string_view message) {
  descent::server::Log(descent::server::LogLevel::kError, "start_failed", message);
  return 1;
}

// The start-up log lines: where descentd serves, and how it is secured.
void LogStarted(const descent::server::Server& server, const DescentdConfig& config) {
  const descent::server::ServerOptions& options = config.options;
  const std::string metrics = server.metrics_address().empty()
                                  ? std::string("metrics off")
                                  : absl::StrCat("metrics on ", server.metrics_address(),
                                                 " (port ", server.metrics_port(), ")");
  Log(LogLevel::kInfo, "started",
      absl::StrCat("descentd ", DESCENT_VERSION, ": serving gRPC on ", server.address(),
                   " (port ", server.port(), "), ", metrics, ", data dir ", config.data_dir,
                   ", jobs in ", server.job_store_location(), ", ", options.jobs.workers, " workers, up to ", options.jobs.max_queued_jobs,
                   " queued jobs, ", server.recovered_jobs(), " stored jobs resumed or queued"),
      {{"version", DESCENT_VERSION},
       {"grpc_address", server.address()},
       {"grpc_port", server.port()},
       {"metrics_address", server.metrics_address()},
       {"metrics_port", server.metrics_port()},
       {"data_dir", config.data_dir},
       {"job_store", server.job_store_location()},
       {"workers", options.jobs.workers},
       {"max_queued_jobs", options.jobs.max_queued_jobs},
       {"recovered_jobs", server.recovered_jobs()}});
  if (const std::string warning = descent::BlasKernelWarning(); !warning.empty()) {
    Log(LogLevel::kWarning, "blas_warning", warning);
  }
  const std::string transport =
      !options.tls.has_value()              ? "plaintext gRPC (no TLS)"
      : options.tls->client_ca_pem.empty() ? "TLS"
                                           : "mutual TLS (client certificates required)";
  const std::string authentication =
      options.bearer_tokens.has_value()
          ? absl::StrCat(options.bearer_tokens->size(), " bearer token(s) from ",
                         config.auth_token_file, " (reflection off)")
          : "no authentication";
  Log(LogLevel::kInfo, "security", absl::StrCat(transport, "; ", authentication),
      {{"transport", transport}, {"authentication", authentication}});
  if (options.bearer_tokens.has_value() && !options.tls.has_value()) {
    Log(LogLevel::kWarning, "tokens_without_tls",
        "--auth-token-file without --tls-cert: tokens cross the network in plaintext");
  }
}

// SIGHUP: swaps in the tokens of `path`. A file that cannot be read or holds no token keeps
// the current tokens; either way one log line, which never contains a token.
void ReloadTokens(const std::string& path, descent::server::Server& server) {
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

}  // namespace

int main(int argc, char** argv) {
  if (HasArg(argc, argv, {"--help", "-h", "-help"})) {
    std::fputs(descent::server::DescentdHelp().c_str(), stdout);
    return 0;
  }
  if (HasArg(argc, argv, {"--version"})) {
    std::printf("descentd %s (commit %s)\n", DESCENT_VERSION, DESCENT_GIT_COMMIT);
    return 0;
  }
  absl::StatusOr<DescentdConfig> config =
      descent::server::ParseDescentdFlags(std::vector<std::string>(argv + 1, argv + argc));
  if (!config.ok()) return UsageError(config.status().message());
  descent::server::SetLogFormat(config->log_format);
  descent::server::RouteGrpcLogToLog();
  std::string error;
  if (!PrepareDataDir(config->data_dir, &error)) return StartFailed(error);
  if (absl::Status loaded = descent::server::LoadServerSecrets(&*config); !loaded.ok()) {
    return StartFailed(loaded.message());
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
      descent::server::Server::Start(config->options);
  if (!server.ok()) return StartFailed(server.status().message());
  LogStarted(**server, *config);
  int signal_number = 0;
  while (sigwait(&handled_signals, &signal_number) == 0 && signal_number == SIGHUP) {
    ReloadTokens(config->auth_token_file, **server);
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
