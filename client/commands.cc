#include "client/commands.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/fail_on.h"
#include "client/input_files.h"
#include "client/watch_printer.h"
#include "proto/job_state.h"

namespace descent::client {
namespace {

using grpc::health::v1::HealthCheckResponse;

// Follows `job` to its end with the display the context asks for.
int WatchJob(const CommandContext& ctx, const v1::Job& job) {
  WatchDisplay display = WatchDisplay::kPlain;
  if (ctx.format == OutputFormat::kJson) {
    display = WatchDisplay::kJson;
  } else if (ctx.interactive) {
    display = WatchDisplay::kLive;
  }
  WatchPrinter printer(job, display, ctx.terminal_width, *ctx.out, *ctx.err);
  absl::StatusOr<v1::Job> final_job = WatchUntilDone(*ctx.client, job.id(), ctx.watch, printer);
  if (!final_job.ok()) {
    if (display == WatchDisplay::kLive) *ctx.out << "\n";  // keep the last live line
    *ctx.out << std::flush;
    return ReportError(ctx, final_job.status());
  }
  printer.Finish(*final_job);
  if (final_job->state() != v1::SUCCEEDED) return kExitJobFailed;
  const v1::Verdict verdict = final_job->diagnosis().verdict();
  if (!FailsOn(ctx.fail_on, verdict)) return kExitOk;
  *ctx.out << std::flush;
  *ctx.err << "descent: job " << final_job->id() << " succeeded but its diagnosis is "
           << VerdictName(verdict) << ", which --fail-on fails on (exit " << kExitVerdict
           << "; --fail-on=none exits 0)\n";
  return kExitVerdict;
}

absl::StatusOr<v1::JobState> ParseState(const std::string& name) {
  if (name.empty()) return v1::JOB_STATE_UNSPECIFIED;
  v1::JobState state;
  if (v1::JobState_Parse(absl::AsciiStrToUpper(name), &state) &&
      state != v1::JOB_STATE_UNSPECIFIED) {
    return state;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--state must be one of QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED (got '", name, "')"));
}

}  // namespace

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnreachable;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:    // a request id reused for another spec
    case absl::StatusCode::kUnauthenticated:  // no or a rejected DESCENT_TOKEN
      return kExitUsage;
    default:
      return kExitJobFailed;
  }
}

int ReportError(const CommandContext& ctx, const absl::Status& status) {
  const int code = ExitCodeFor(status);
  if (code == kExitUnreachable) {
    *ctx.err << "descent: cannot reach descentd at " << ctx.server << ": " << status.message()
             << " (" << absl::StatusCodeToString(status.code())
             << "); is it running? Point --server or DESCENT_SERVER at it. "
             << (ctx.tls ? "TLS is on: check that --tls-ca (DESCENT_TLS_CA) signed descentd's "
                           "certificate, that it names this host (or set --tls-server-name), "
                           "and pass --tls-cert/--tls-key if descentd requires client "
                           "certificates; a plaintext descentd needs no --tls-ca.\n"
                         : "If descentd serves TLS, pass --tls-ca (DESCENT_TLS_CA).\n");
  } else {
    *ctx.err << "descent: " << status.message() << " (" << absl::StatusCodeToString(status.code())
             << ")\n";
  }
  // gRPC's own size check words it without naming the server's setting.
  if (status.code() == absl::StatusCode::kResourceExhausted &&
      absl::StrContains(status.message(), "larger than max")) {
    *ctx.err << "descent: descentd takes messages up to its --max-message-bytes; send large "
                "data with `descent upload` rather than inline in the job file\n";
  }
  return code;
}

int RunSubmit(const CommandContext& ctx, const std::string& spec_path, bool watch,
              const std::string& request_id) {
  absl::StatusOr<v1::JobSpec> spec = ReadJobSpec(spec_path);
  if (!spec.ok()) {
    *ctx.err << "descent: " << spec.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<v1::Job> job = ctx.client->SubmitJob(*spec, request_id);
  if (!job.ok()) return ReportError(ctx, job.status());
  if (ctx.format == OutputFormat::kJson) {
    *ctx.out << ToJson(*job) << "\n";
  } else {
    *ctx.out << "submitted job " << job->id();
    if (!job->name().empty()) *ctx.out << " (" << job->name() << ")";
    *ctx.out << ", " << StateName(job->state()) << "\n";
  }
  *ctx.out << std::flush;
  if (!watch) return kExitOk;
  return WatchJob(ctx, *job);
}

int RunWatch(const CommandContext& ctx, const std::string& job_id) {
  absl::StatusOr<v1::Job> job = ctx.client->GetJob(job_id);
  if (!job.ok()) return ReportError(ctx, job.status());
  return WatchJob(ctx, *job);
}

int RunGet(const CommandContext& ctx, const std::string& job_id) {
  absl::StatusOr<v1::Job> job = ctx.client->GetJob(job_id);
  if (!job.ok()) return ReportError(ctx, job.status());
  *ctx.out << (ctx.format == OutputFormat::kJson ? ToJson(*job) + "\n" : FormatJobDetails(*job))
           << std::flush;
  return kExitOk;
}

int RunList(const CommandContext& ctx, const std::string& state_name, const std::string& group) {
  absl::StatusOr<v1::JobState> state = ParseState(state_name);
  if (!state.ok()) {
    *ctx.err << "descent: " << state.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<std::vector<v1::Job>> jobs = ctx.client->ListAllJobs(*state);
  if (!jobs.ok()) return ReportError(ctx, jobs.status());
  if (!group.empty()) {
    // ListJobs has no group filter: the listing is filtered here.
    std::erase_if(*jobs, [&group](const v1::Job& job) { return job.spec().group() != group; });
  }
  if (ctx.format == OutputFormat::kJson) {
    for (const v1::Job& job : *jobs) *ctx.out << ToJson(job) << "\n";  // one per line, as datasets
  } else if (jobs->empty()) {
    *ctx.out << "no jobs" << (state_name.empty() && group.empty() ? "" : " like that") << "\n";
  } else {
    *ctx.out << FormatJobTable(*jobs);
  }
  *ctx.out << std::flush;
  return kExitOk;
}

int RunCancel(const CommandContext& ctx, const std::string& job_id) {
  absl::StatusOr<v1::Job> job = ctx.client->CancelJob(job_id);
  if (!job.ok()) return ReportError(ctx, job.status());
  if (ctx.format == OutputFormat::kJson) {
    *ctx.out << ToJson(*job) << "\n";
  } else {
    *ctx.out << "job " << job->id() << " " << StateName(job->state())
             << (IsTerminal(job->state()) ? "" : " (cancelling: stops before its next step)")
             << "\n";
  }
  *ctx.out << std::flush;
  return kExitOk;
}

int RunExport(const CommandContext& ctx, const std::string& job_id, bool onnx,
              const std::string& out_file) {
  const bool to_stdout = out_file.empty() || out_file == "-";
  if (onnx && to_stdout && ctx.interactive) {
    *ctx.err << "descent: an ONNX model is binary; write it to a file with --output model.onnx"
                " (or pipe standard output)\n";
    return kExitUsage;
  }
  absl::StatusOr<v1::ExportModelResponse> model =
      ctx.client->ExportModel(job_id, onnx ? v1::ONNX : v1::LAYERS);
  if (!model.ok()) return ReportError(ctx, model.status());
  // JSON is pretty for people (text format, files) and one line in json format.
  const bool one_line = to_stdout && ctx.format == OutputFormat::kJson;
  const std::string body =
      onnx ? model->onnx_model() : ToJson(*model, /*pretty=*/!one_line) + (one_line ? "\n" : "");
  if (to_stdout) {
    *ctx.out << body << std::flush;
    return kExitOk;
  }
  std::ofstream file(out_file, std::ios::binary | std::ios::trunc);
  file << body;
  file.close();
  if (!file) {
    *ctx.err << "descent: cannot write " << out_file << "\n";
    return kExitUsage;
  }
  if (ctx.format == OutputFormat::kText) {
    *ctx.out << "wrote the model of job " << job_id << " to " << out_file
             << (onnx ? " (ONNX)" : "") << "\n" << std::flush;
  }
  return kExitOk;
}

int RunPlot(const CommandContext& ctx, const std::string& job_id, const PlotOptions& options) {
  absl::StatusOr<v1::Job> job = ctx.client->GetJob(job_id);
  if (!job.ok()) return ReportError(ctx, job.status());
  JobWatcherOptions watch = ctx.watch;
  watch.after_step = 0;
  if (!IsTerminal(job->state()) && !options.follow) {
    if (job->progress().step() == 0) {
      *ctx.out << "job " << job_id << " is " << StateName(job->state()) << " and has no steps yet\n"
               << std::flush;
      return kExitOk;
    }
    watch.stop_after_step = job->progress().step();
  }
  // Collects the history quietly: the chart is the output.
  std::ostringstream ignored;
  WatchPrinter history(*job, WatchDisplay::kPlain, ctx.terminal_width, ignored, *ctx.err);
  absl::StatusOr<v1::Job> last = WatchUntilDone(*ctx.client, job_id, watch, history);
  if (!last.ok()) return ReportError(ctx, last.status());
  if (ctx.format == OutputFormat::kJson) {
    v1::LossPoints points;
    points.set_first_step(history.first_step() == 0 ? 1 : history.first_step());
    points.mutable_losses()->Add(history.losses().begin(), history.losses().end());
    *ctx.out << ToJson(points) << "\n" << std::flush;
    return kExitOk;
  }
  *ctx.out << "job " << last->id();
  if (!last->name().empty()) *ctx.out << " (" << last->name() << ")";
  *ctx.out << " " << StateName(last->state());
  // The chart plots minibatch losses; the epoch means the diagnosis speaks of go beside it.
  if (last->has_train_metrics()) {
    *ctx.out << "   last epoch: train mean loss "
             << absl::StrFormat("%.4g", last->train_metrics().loss());
    if (last->has_validation_metrics()) {
      *ctx.out << ", validation loss "
               << absl::StrFormat("%.4g", last->validation_metrics().loss());
    }
  }
  *ctx.out << "\n"
           << RenderLossChart(history.losses(),
                              history.first_step() == 0 ? 1 : history.first_step(), options.chart);
  const std::string diagnosis = FormatDiagnosis(last->diagnosis());
  if (!diagnosis.empty()) *ctx.out << diagnosis << "\n";
  *ctx.out << std::flush;
  return kExitOk;
}

int RunHealth(const CommandContext& ctx) {
  absl::StatusOr<HealthCheckResponse::ServingStatus> status = ctx.client->CheckHealth();
  if (!status.ok()) return ReportError(ctx, status.status());
  if (ctx.format == OutputFormat::kJson) {
    HealthCheckResponse response;
    response.set_status(*status);
    *ctx.out << ToJson(response) << "\n";
  } else {
    *ctx.out << ctx.server << ": " << HealthCheckResponse::ServingStatus_Name(*status) << "\n";
  }
  *ctx.out << std::flush;
  return *status == HealthCheckResponse::SERVING ? kExitOk : kExitJobFailed;
}

}  // namespace descent::client
