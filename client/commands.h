// The CLI's commands, one function each, independent of argv parsing so they can be tested
// against an in-process server. Each prints to the context's streams and returns the
// process exit code:
//   0  success (for submit --watch, watch: the job SUCCEEDED)
//   1  the job FAILED or was CANCELLED, or the server refused the request for a reason that
//      is not the input's fault (e.g. RESOURCE_EXHAUSTED, FAILED_PRECONDITION)
//   2  usage error: bad arguments, unreadable or invalid files, a spec the server rejects
//      (INVALID_ARGUMENT), an unknown job (NOT_FOUND), a request id reused for another spec
//      (ALREADY_EXISTS), a missing or rejected bearer token (UNAUTHENTICATED)
//   3  the server is unreachable (UNAVAILABLE, or a deadline while connecting), which
//      includes a failed TLS handshake
//   4  submit --watch, watch: the job SUCCEEDED but its diagnosis is a verdict --fail-on
//      names (default: DIVERGED; fail_on.h)
#ifndef DESCENT_CLIENT_COMMANDS_H_
#define DESCENT_CLIENT_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/descent_client.h"
#include "client/job_watcher.h"
#include "client/loss_chart.h"
#include "client/output.h"

namespace descent::client {

enum ExitCode : int {
  kExitOk = 0,
  kExitJobFailed = 1,
  kExitUsage = 2,
  kExitUnreachable = 3,
  kExitVerdict = 4,
};

struct CommandContext {
  DescentClient* client = nullptr;
  std::string server;  // HOST:PORT, for messages
  bool tls = false;    // the channel uses TLS (for the hint on connection failures)
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  OutputFormat format = OutputFormat::kText;
  bool interactive = false;  // stdout is a terminal: live line and chart
  int terminal_width = 80;
  JobWatcherOptions watch;  // backoff and timeouts of watch streams
  // Verdicts that turn a watched job's SUCCEEDED into kExitVerdict (--fail-on).
  std::vector<v1::Verdict> fail_on = {v1::DIVERGED};
};

// The exit code for a failed call (see the table above).
int ExitCodeFor(const absl::Status& status);

// Prints "descent: <message>" (with a hint for an unreachable server) to ctx.err and
// returns ExitCodeFor(status).
int ReportError(const CommandContext& ctx, const absl::Status& status);

int RunSubmit(const CommandContext& ctx, const std::string& spec_path, bool watch,
              const std::string& request_id);
int RunWatch(const CommandContext& ctx, const std::string& job_id);
int RunGet(const CommandContext& ctx, const std::string& job_id);
// `state`: a JobState name, any case ("" = all); `group` non-empty: only the jobs whose
// spec.group it is (a sweep's or a race's runs).
int RunList(const CommandContext& ctx, const std::string& state, const std::string& group = "");
int RunCancel(const CommandContext& ctx, const std::string& job_id);
// The model as JSON layers and weights (pretty in text format, one line in json), or with
// `onnx` as an ONNX file (binary: to standard output only when it is not a terminal).
// `out_file` "" or "-" = stdout.
int RunExport(const CommandContext& ctx, const std::string& job_id, bool onnx,
              const std::string& out_file);

struct PlotOptions {
  bool follow = false;  // a running job: wait for its end instead of plotting the steps so far
  LossChartOptions chart;
};
int RunPlot(const CommandContext& ctx, const std::string& job_id, const PlotOptions& options);
int RunHealth(const CommandContext& ctx);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_COMMANDS_H_
