#include "client/lr_find_command.h"

#include <algorithm>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/input_files.h"
#include "client/watch_printer.h"

namespace descent::client {
namespace {

std::string Rate(double learning_rate) { return absl::StrFormat("%.3g", learning_rate); }

constexpr int kLrFindPointsNotPlotted = 5;  // engine/lr_finder.h: the rules skip them too

}  // namespace

std::string FormatLrFindReport(const v1::LrFindResult& result, const LossChartOptions& chart) {
  std::vector<double> smoothed, rates;
  int64_t first_step = 1;
  // As fastai plots it: without the last points the rules skip too, where the loss shoots
  // up by orders of magnitude and would flatten the rest of the curve.
  const int shown = result.points_size() > 2 * kLrFindPointsNotPlotted
                        ? result.points_size() - kLrFindPointsNotPlotted
                        : result.points_size();
  for (int i = 0; i < shown; ++i) {
    const v1::LrFindPoint& point = result.points(i);
    if (smoothed.empty()) first_step = point.step();
    smoothed.push_back(point.smoothed_loss());
    rates.push_back(point.learning_rate());
  }
  LossChartOptions options = chart;
  options.series = "smoothed loss";
  options.log_x = std::move(rates);
  options.marked_step = result.suggestion().step();
  options.mark_label = absl::StrCat("suggested ", Rate(result.suggested_learning_rate()));
  std::string out = RenderLossChart(smoothed, first_step, options);
  absl::StrAppend(&out, "suggested learning rate: ", Rate(result.suggested_learning_rate()),
                  " (", result.suggestion().reason(), ")\n");
  if (result.candidates_size() > 0) absl::StrAppend(&out, "other candidates:\n");
  for (const v1::LrFindCandidate& candidate : result.candidates()) {
    // The reason starts with the rule's name.
    absl::StrAppend(&out, "  ", absl::StrFormat("%-9s", Rate(candidate.learning_rate())), " ",
                    candidate.reason(), "\n");
  }
  if (!result.points().empty()) {
    const v1::LrFindPoint& last = *result.points().rbegin();
    absl::StrAppend(&out, "the test ",
                    result.diverged() ? "stopped when the smoothed loss diverged" : "ran to the end",
                    " at step ", last.step(), " (learning rate ", Rate(last.learning_rate()),
                    ")\n");
  }
  return out;
}

int RunLrFind(const CommandContext& ctx, const std::string& spec_path,
              const LrFindOptions& options) {
  absl::StatusOr<v1::JobSpec> spec = ReadJobSpec(spec_path);
  if (!spec.ok()) {
    *ctx.err << "descent: " << spec.status().message() << "\n";
    return kExitUsage;
  }
  v1::LrFind& lr_find = *spec->mutable_lr_find();
  if (options.min_learning_rate) lr_find.set_min_learning_rate(*options.min_learning_rate);
  if (options.max_learning_rate) lr_find.set_max_learning_rate(*options.max_learning_rate);
  if (options.steps) lr_find.set_steps(*options.steps);
  absl::StatusOr<v1::Job> job = ctx.client->SubmitJob(*spec, "");
  if (!job.ok()) return ReportError(ctx, job.status());
  const bool json = ctx.format == OutputFormat::kJson;
  if (!json) {
    *ctx.out << "submitted learning-rate range test " << job->id();
    if (!job->name().empty()) *ctx.out << " (" << job->name() << ")";
    *ctx.out << ", " << StateName(job->state()) << "\n" << std::flush;
  }

  // In JSON only the result is printed; the stream itself is `descent watch -o json`'s.
  std::ostringstream quiet;
  const WatchDisplay display = json ? WatchDisplay::kPlain
                               : ctx.interactive ? WatchDisplay::kLive
                                                 : WatchDisplay::kPlain;
  WatchPrinter printer(*job, display, ctx.terminal_width, json ? quiet : *ctx.out, *ctx.err);
  absl::StatusOr<v1::Job> final_job = WatchUntilDone(*ctx.client, job->id(), ctx.watch, printer);
  printer.EndLiveLine();
  if (!final_job.ok()) return ReportError(ctx, final_job.status());
  if (final_job->state() != v1::SUCCEEDED) {
    if (!json) *ctx.out << FormatOutcome(*final_job) << std::flush;
    if (json) *ctx.out << ToJson(*final_job) << "\n" << std::flush;
    return kExitJobFailed;
  }
  if (json) {
    *ctx.out << ToJson(final_job->lr_find()) << "\n" << std::flush;
    return kExitOk;
  }
  LossChartOptions chart;
  chart.width = std::clamp(ctx.terminal_width, 40, 120);
  chart.height = options.chart_height;
  *ctx.out << FormatLrFindReport(final_job->lr_find(), chart) << std::flush;
  return kExitOk;
}

}  // namespace descent::client
