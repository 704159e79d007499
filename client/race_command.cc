#include "client/race_command.h"

#include <algorithm>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/input_files.h"
#include "client/live_line.h"
#include "client/loss_chart.h"
#include "client/race_plan.h"
#include "client/race_standings.h"

namespace descent::client {
namespace {

// What the watchers of a race collect, each run from its own thread.
class RaceProgress {
 public:
  explicit RaceProgress(std::vector<RaceRun> runs) : runs_(std::move(runs)) {}

  // Receives one run's stream.
  class Sink : public WatchSink {
   public:
    Sink(RaceProgress& progress, size_t run) : progress_(progress), run_(run) {}
    void OnLosses(int64_t first_step, const double* losses, int count) override {
      absl::MutexLock lock(&progress_.mu_);
      std::vector<double>& all = progress_.runs_[run_].losses;
      // The watcher delivers each step once, in order, from step 1.
      if (static_cast<int64_t>(all.size()) + 1 == first_step) all.insert(all.end(), losses, losses + count);
    }
    void OnEpoch(const v1::EpochSummary& summary) override {
      absl::MutexLock lock(&progress_.mu_);
      progress_.runs_[run_].epochs.push_back(summary);
    }
    void OnStateChange(const v1::Job& job) override {
      absl::MutexLock lock(&progress_.mu_);
      progress_.runs_[run_].job = job;
    }

   private:
    RaceProgress& progress_;
    const size_t run_;
  };

  void Finish(size_t run, absl::StatusOr<v1::Job> job) {
    absl::MutexLock lock(&mu_);
    if (job.ok()) {
      runs_[run].job = *std::move(job);
    } else if (error_.ok()) {
      error_ = job.status();
    }
    ++finished_;
  }

  // Waits until every run finished or `timeout` passed; true when all have.
  bool AwaitAll(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto all_done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return finished_ == runs_.size();
    };
    return mu_.AwaitWithTimeout(absl::Condition(&all_done), timeout);
  }

  // "adam:0.001 420/1500  sgd:0.01 400/1500  rmsprop:0.01 QUEUED"
  std::string Line() const {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> parts;
    for (const RaceRun& run : runs_) {
      const int64_t total = run.job.progress().total_steps();
      if (run.losses.empty() && !IsTerminal(run.job.state())) {
        parts.push_back(absl::StrCat(run.label, " ", StateName(run.job.state())));
      } else {
        parts.push_back(absl::StrCat(run.label, " ", run.losses.size(), "/", total));
      }
    }
    return absl::StrJoin(parts, "  ");
  }

  std::vector<RaceRun> runs() const {
    absl::MutexLock lock(&mu_);
    return runs_;
  }
  absl::Status error() const {
    absl::MutexLock lock(&mu_);
    return error_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<RaceRun> runs_ ABSL_GUARDED_BY(mu_);
  size_t finished_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status error_ ABSL_GUARDED_BY(mu_);  // the first watcher's error
};

int PrintRace(const CommandContext& ctx, const std::string& group,
              const std::vector<RaceRun>& runs, const RaceOptions& options) {
  const std::vector<RaceStanding> standings = RankRace(runs);
  if (ctx.format == OutputFormat::kJson) {
    *ctx.out << ToJson(RaceToStruct(group, runs, standings)) << "\n";
  } else {
    std::vector<ChartSeries> curves;
    for (const RaceRun& run : runs) curves.push_back({run.label, run.losses});
    LossChartOptions chart;
    chart.width = std::clamp(ctx.terminal_width, 40, 120);
    chart.height = options.chart_height;
    *ctx.out << RenderOverlayChart(curves, 1, chart) << "\n" << FormatRaceTable(runs, standings);
  }
  *ctx.out << std::flush;
  const bool any_succeeded = std::any_of(runs.begin(), runs.end(), [](const RaceRun& run) {
    return run.job.state() == v1::SUCCEEDED;
  });
  return any_succeeded ? kExitOk : kExitJobFailed;
}

int FollowAndPrint(const CommandContext& ctx, const std::string& group, std::vector<RaceRun> runs,
                   const RaceOptions& options) {
  absl::StatusOr<std::vector<RaceRun>> ended = FollowRace(ctx, std::move(runs));
  if (!ended.ok()) return ReportError(ctx, ended.status());
  return PrintRace(ctx, group, *ended, options);
}

}  // namespace

absl::StatusOr<std::vector<RaceRun>> FollowRace(const CommandContext& ctx,
                                                std::vector<RaceRun> runs) {
  RaceProgress progress(std::move(runs));
  const std::vector<RaceRun> started = progress.runs();
  // The runs were just submitted or listed: a server that goes away from now on is waited
  // for (--reconnect-timeout), even by a watcher that had not connected yet.
  JobWatcherOptions watch = ctx.watch;
  watch.server_reached = true;
  std::vector<std::thread> watchers;
  for (size_t i = 0; i < started.size(); ++i) {
    watchers.emplace_back([&ctx, &progress, &watch, i, id = started[i].job.id()] {
      RaceProgress::Sink sink(progress, i);
      progress.Finish(i, WatchUntilDone(*ctx.client, id, watch, sink));
    });
  }
  const bool live = ctx.interactive && ctx.format == OutputFormat::kText;
  LiveLine line(*ctx.out, ctx.terminal_width);
  while (!progress.AwaitAll(absl::Milliseconds(200))) {
    if (live) line.UpdateText(progress.Line(), absl::Now());
  }
  for (std::thread& watcher : watchers) watcher.join();
  if (live) line.Clear();
  if (!progress.error().ok()) return progress.error();
  return progress.runs();
}

int RunRace(const CommandContext& ctx, const std::string& spec_path,
            const std::vector<std::string>& racers, const RaceOptions& options) {
  absl::StatusOr<v1::JobSpec> base = ReadJobSpec(spec_path);
  if (!base.ok()) {
    *ctx.err << "descent: " << base.status().message() << "\n";
    return kExitUsage;
  }
  const std::string group = NewRaceGroup();
  absl::StatusOr<std::vector<v1::JobSpec>> specs = RaceSpecs(*base, racers, group);
  if (!specs.ok()) {
    *ctx.err << "descent: " << specs.status().message() << "\n";
    return kExitUsage;
  }
  std::vector<RaceRun> runs;
  for (const v1::JobSpec& spec : *specs) {
    RaceRun& run = runs.emplace_back();
    run.label = RacerLabel(spec.optimizer());
    absl::StatusOr<v1::Job> job = ctx.client->SubmitJob(spec, absl::StrCat(group, "/", run.label));
    if (!job.ok()) {
      // The runs submitted so far are left to run; say how to find them.
      if (runs.size() > 1) {
        *ctx.err << "descent: race " << group << ": " << runs.size() - 1
                 << " of its jobs were submitted before this failure (descent list --group "
                 << group << ")\n";
      }
      return ReportError(ctx, job.status());
    }
    run.job = *std::move(job);
  }
  if (ctx.format == OutputFormat::kText) {
    *ctx.out << "race " << group << ": " << runs.size() << " runs of "
             << (base->name().empty() ? spec_path : base->name())
             << " (descent race --watch " << group << " follows it again)\n";
    for (const RaceRun& run : runs) *ctx.out << "  " << run.job.id() << "  " << run.label << "\n";
    *ctx.out << std::flush;
  }
  return FollowAndPrint(ctx, group, std::move(runs), options);
}

int RunRaceWatch(const CommandContext& ctx, const std::string& group, const RaceOptions& options) {
  absl::StatusOr<std::vector<v1::Job>> jobs = ctx.client->ListAllJobs(v1::JOB_STATE_UNSPECIFIED);
  if (!jobs.ok()) return ReportError(ctx, jobs.status());
  std::vector<RaceRun> runs;
  // Listed newest first; a race's runs read in the order they were submitted.
  for (auto job = jobs->rbegin(); job != jobs->rend(); ++job) {
    if (job->spec().group() != group) continue;
    RaceRun& run = runs.emplace_back();
    run.label = RacerLabel(job->spec().optimizer());
    run.job = *job;
  }
  if (runs.empty()) {
    *ctx.err << "descent: no jobs in race " << group
             << " (descent list shows the jobs there are; a race's id starts with race-)\n";
    return kExitUsage;
  }
  if (ctx.format == OutputFormat::kText) {
    *ctx.out << "race " << group << ": " << runs.size() << " runs\n" << std::flush;
  }
  return FollowAndPrint(ctx, group, std::move(runs), options);
}

}  // namespace descent::client
