#include "client/sweep_commands.h"

#include <algorithm>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/input_files.h"
#include "client/loss_chart.h"
#include "client/race_command.h"
#include "client/sweep_live_view.h"
#include "client/sweep_view.h"

namespace descent::client {
namespace {

// The trials that ran to the end, best first, then the others by their last objective.
std::vector<const v1::Trial*> BestTrials(const v1::Sweep& sweep, int count) {
  std::vector<const v1::Trial*> trials;
  for (const v1::Trial& trial : sweep.trials()) {
    if (!trial.job_id().empty() && trial.has_objective()) trials.push_back(&trial);
  }
  const bool maximize = sweep.spec().objective().goal() == v1::MAXIMIZE ||
                        (sweep.spec().objective().goal() == v1::GOAL_UNSPECIFIED &&
                         (sweep.spec().objective().metric() == v1::VALIDATION_ACCURACY ||
                          sweep.spec().objective().metric() == v1::TRAIN_ACCURACY ||
                          sweep.spec().objective().metric() == v1::VALIDATION_R2));
  std::stable_sort(trials.begin(), trials.end(), [maximize](const v1::Trial* a, const v1::Trial* b) {
    const bool a_full = a->state() == v1::TRIAL_SUCCEEDED, b_full = b->state() == v1::TRIAL_SUCCEEDED;
    if (a_full != b_full) return a_full;
    return maximize ? a->objective() > b->objective() : a->objective() < b->objective();
  });
  if (static_cast<int>(trials.size()) > count) trials.resize(count);
  return trials;
}

// The best trials' minibatch losses in one chart (their jobs' histories, read again).
absl::Status PrintBestCurves(const CommandContext& ctx, const v1::Sweep& sweep,
                             const SweepViewOptions& options) {
  std::vector<RaceRun> runs;
  for (const v1::Trial* trial : BestTrials(sweep, options.charted_trials)) {
    RaceRun& run = runs.emplace_back();
    run.label = absl::StrCat("trial ", trial->index());
    run.job.set_id(trial->job_id());
  }
  if (runs.empty()) return absl::OkStatus();
  CommandContext quiet = ctx;
  quiet.interactive = false;  // the histories are read at once: no live line
  absl::StatusOr<std::vector<RaceRun>> curves = FollowRace(quiet, std::move(runs));
  if (!curves.ok()) return curves.status();
  std::vector<ChartSeries> series;
  for (const RaceRun& run : *curves) series.push_back({run.label, run.losses});
  LossChartOptions chart;
  chart.width = std::clamp(ctx.terminal_width, 40, 120);
  chart.height = options.chart_height;
  *ctx.out << RenderOverlayChart(series, 1, chart);
  return absl::OkStatus();
}

int ExitCodeOf(const v1::Sweep& sweep) {
  return sweep.state() == v1::SWEEP_SUCCEEDED && sweep.has_best_trial() ? kExitOk
                                                                       : kExitJobFailed;
}

}  // namespace

int RunSweepSubmit(const CommandContext& ctx, SweepClient& sweeps, const std::string& path,
                   bool watch, const SweepViewOptions& options) {
  absl::StatusOr<v1::SweepSpec> spec = ReadSweepSpec(path);
  if (!spec.ok()) {
    *ctx.err << "descent: " << spec.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<v1::Sweep> sweep = sweeps.Create(*spec);
  if (!sweep.ok()) return ReportError(ctx, sweep.status());
  if (ctx.format == OutputFormat::kJson) {
    if (!watch) *ctx.out << ToJson(*sweep) << "\n" << std::flush;
  } else {
    *ctx.out << "sweep " << sweep->id() << ": " << sweep->trials_size() << " trials of "
             << (spec->name().empty() ? InputName(path) : spec->name())
             << " (descent sweep watch " << sweep->id() << " follows it)\n";
    if (!watch) *ctx.out << FormatTrialTable(*sweep);
    *ctx.out << std::flush;
  }
  return watch ? RunSweepWatch(ctx, sweeps, sweep->id(), options) : kExitOk;
}

int RunSweepWatch(const CommandContext& ctx, SweepClient& sweeps, const std::string& id,
                  const SweepViewOptions& options) {
  const bool text = ctx.format == OutputFormat::kText;
  // On a terminal the trial table is redrawn in place; elsewhere a line per event.
  std::ostringstream discard;
  SweepWatchPrinter printer(text ? *ctx.out : discard, text && ctx.interactive,
                            ctx.terminal_width);
  int64_t last_event = 0;
  absl::Time last_message = absl::Now();
  absl::Duration backoff = ctx.watch.initial_backoff;
  for (;;) {
    const absl::Status watched = sweeps.Watch(id, last_event, [&](const v1::WatchSweepResponse& m) {
      last_message = absl::Now();
      backoff = ctx.watch.initial_backoff;
      if (!text) *ctx.out << ToJson(m) << "\n" << std::flush;
      if (m.has_trial()) last_event = m.trial().sequence();
      printer.OnMessage(m, absl::Now());
    });
    if (watched.ok()) break;
    if (watched.code() != absl::StatusCode::kUnavailable ||
        absl::Now() - last_message > ctx.watch.give_up_after) {
      printer.Finish();
      return ReportError(ctx, watched);
    }
    absl::SleepFor(backoff);  // a dropped stream or a restarting server: open it again
    backoff = std::min(backoff * 2, ctx.watch.max_backoff);
  }
  printer.Finish();
  const v1::Sweep& sweep = printer.sweep();
  if (text) {
    // The live table shows the trials as they ended, with why they stopped cut to the
    // terminal's width: the whole reasons follow. The lines the events printed elsewhere
    // said why already.
    *ctx.out << (printer.live() ? FormatTrialNotes(sweep)
                                : FormatTrialTable(sweep, /*notes=*/false));
    const absl::Status charted = PrintBestCurves(ctx, sweep, options);
    if (!charted.ok()) return ReportError(ctx, charted);
    *ctx.out << FormatSweepSummary(sweep) << std::flush;
  }
  return ExitCodeOf(sweep);
}

int RunSweepGet(const CommandContext& ctx, SweepClient& sweeps, const std::string& id) {
  absl::StatusOr<v1::Sweep> sweep = sweeps.Get(id);
  if (!sweep.ok()) return ReportError(ctx, sweep.status());
  if (ctx.format == OutputFormat::kJson) {
    *ctx.out << ToJson(*sweep) << "\n";
  } else {
    *ctx.out << "sweep " << sweep->id() << " (" << sweep->spec().name() << "): "
             << v1::SweepState_Name(sweep->state()).substr(6) << "\n"
             << FormatTrialTable(*sweep) << FormatSweepSummary(*sweep);
  }
  *ctx.out << std::flush;
  return kExitOk;
}

int RunSweepList(const CommandContext& ctx, SweepClient& sweeps) {
  absl::StatusOr<std::vector<v1::Sweep>> listed = sweeps.List();
  if (!listed.ok()) return ReportError(ctx, listed.status());
  if (ctx.format == OutputFormat::kJson) {
    for (const v1::Sweep& sweep : *listed) *ctx.out << ToJson(sweep) << "\n";
  } else if (!listed->empty()) {
    *ctx.out << absl::StrFormat("%-18s %-10s %-7s %-6s %s\n", "ID", "STATE", "TRIALS", "BEST",
                                "NAME");
    for (const v1::Sweep& sweep : *listed) {
      *ctx.out << absl::StrFormat(
          "%-18s %-10s %-7d %-6s %s\n", sweep.id(), v1::SweepState_Name(sweep.state()).substr(6),
          sweep.trials_size(), sweep.has_best_trial() ? absl::StrCat(sweep.best_trial()) : "-",
          sweep.spec().name());
    }
  }
  *ctx.out << std::flush;
  return kExitOk;
}

int RunSweepCancel(const CommandContext& ctx, SweepClient& sweeps, const std::string& id) {
  absl::StatusOr<v1::Sweep> sweep = sweeps.Cancel(id);
  if (!sweep.ok()) return ReportError(ctx, sweep.status());
  if (ctx.format == OutputFormat::kJson) {
    *ctx.out << ToJson(*sweep) << "\n";
  } else {
    // A replica that does not drive the sweep records the cancel; the driver acts on it.
    *ctx.out << "sweep " << sweep->id()
             << (sweep->state() == v1::SWEEP_RUNNING
                     ? " cancelling: the replica that drives it cancels it within seconds\n"
                     : " cancelled\n");
  }
  *ctx.out << std::flush;
  return kExitOk;
}

}  // namespace descent::client
