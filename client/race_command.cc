#include "client/race_command.h"

#include <algorithm>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
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

int PrintRace(const CommandContext& ctx, const std::string& id, const std::vector<RaceRun>& runs,
              const RaceOptions& options) {
  const std::vector<RaceStanding> standings = RankRace(runs);
  if (ctx.format == OutputFormat::kJson) {
    *ctx.out << ToJson(RaceToStruct(id, runs, standings)) << "\n";
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

int FollowAndPrint(const CommandContext& ctx, const std::string& id, std::vector<RaceRun> runs,
                   const RaceOptions& options) {
  absl::StatusOr<std::vector<RaceRun>> ended = FollowRace(ctx, std::move(runs));
  if (!ended.ok()) return ReportError(ctx, ended.status());
  return PrintRace(ctx, id, *ended, options);
}

// A trial whose job is still to be submitted (pending, or claimed and being submitted).
bool AwaitsItsJob(const v1::Trial& trial) {
  return trial.job_id().empty() &&
         (trial.state() == v1::TRIAL_PENDING || trial.state() == v1::TRIAL_RUNNING);
}

// `sweep` once every trial has a job or ended without one. Right after the sweep was created
// its trials may still be pending (on a shared store another replica may be the one that
// starts them): the sweep is read again until they are not. A server that went away is waited
// for as watchers wait (ctx.watch: backoff, give_up_after); its other errors end the wait.
absl::StatusOr<v1::Sweep> AwaitTrialJobs(const CommandContext& ctx, SweepClient& sweeps,
                                         v1::Sweep sweep) {
  constexpr absl::Duration kPoll = absl::Milliseconds(200);
  absl::Duration wait = kPoll;
  absl::Time answered = absl::Now();
  while (std::any_of(sweep.trials().begin(), sweep.trials().end(), AwaitsItsJob)) {
    absl::SleepFor(wait);
    absl::StatusOr<v1::Sweep> read = sweeps.Get(sweep.id());
    if (read.ok()) {
      sweep = *std::move(read);
      answered = absl::Now();
      wait = kPoll;
    } else if (absl::IsUnavailable(read.status()) &&
               absl::Now() - answered <= ctx.watch.give_up_after) {
      wait = std::min(wait * 2, ctx.watch.max_backoff);
    } else {
      return read.status();
    }
  }
  return sweep;
}

// The race's runs, one per trial in trial (racer) order, each labelled with the optimizer its
// trial trains with. A trial that ended without a job keeps its state and error in the run's
// job. INVALID_ARGUMENT for a sweep that varies more than the optimizer.
absl::StatusOr<std::vector<RaceRun>> RunsOf(const v1::Sweep& sweep) {
  std::vector<RaceRun> runs;
  for (const v1::Trial& trial : sweep.trials()) {
    absl::StatusOr<v1::Optimizer> optimizer = TrialOptimizer(sweep.spec(), trial);
    if (!optimizer.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("sweep ", sweep.id(), ": ", optimizer.status().message()));
    }
    RaceRun& run = runs.emplace_back();
    run.label = RacerLabel(*optimizer);
    run.job.set_id(trial.job_id());
    if (trial.job_id().empty()) {
      run.job.set_state(trial.state() == v1::TRIAL_FAILED ? v1::FAILED : v1::CANCELLED);
      run.job.set_error(trial.error());
    }
  }
  return runs;
}

// Waits for the sweep's trials to have their jobs, says which runs could not start, prints
// the runs when `list_runs` (text only), and follows and ranks them.
int FollowSweep(const CommandContext& ctx, SweepClient& sweeps, v1::Sweep sweep, bool list_runs,
                const RaceOptions& options) {
  absl::StatusOr<v1::Sweep> started = AwaitTrialJobs(ctx, sweeps, std::move(sweep));
  if (!started.ok()) return ReportError(ctx, started.status());
  absl::StatusOr<std::vector<RaceRun>> runs = RunsOf(*started);
  if (!runs.ok()) return ReportError(ctx, runs.status());
  for (const RaceRun& run : *runs) {
    if (run.job.id().empty()) {
      *ctx.err << "descent: race " << started->id() << ": " << run.label << " did not start ("
               << StateName(run.job.state())
               << (run.job.error().empty() ? "" : ": " + run.job.error()) << ")\n";
    }
  }
  if (list_runs && ctx.format == OutputFormat::kText) {
    for (const RaceRun& run : *runs) {
      *ctx.out << "  " << (run.job.id().empty() ? "-" : run.job.id()) << "  " << run.label << "\n";
    }
    *ctx.out << std::flush;
  }
  return FollowAndPrint(ctx, started->id(), *std::move(runs), options);
}

// A race made before races were sweeps: the jobs tagged with `group`, in submission order.
int FollowGroup(const CommandContext& ctx, const std::string& group, const RaceOptions& options) {
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
    *ctx.err << "descent: no race " << group
             << " (descent sweep list shows the races there are, as sweeps)\n";
    return kExitUsage;
  }
  if (ctx.format == OutputFormat::kText) {
    *ctx.out << "race " << group << ": " << runs.size() << " runs\n" << std::flush;
  }
  return FollowAndPrint(ctx, group, std::move(runs), options);
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
    if (started[i].job.id().empty()) {
      progress.Finish(i, started[i].job);
      continue;
    }
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

int RunRace(const CommandContext& ctx, SweepClient& sweeps, const std::string& spec_path,
            const std::vector<std::string>& racers, const RaceOptions& options) {
  absl::StatusOr<v1::JobSpec> base = ReadJobSpec(spec_path);
  if (!base.ok()) {
    *ctx.err << "descent: " << base.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<v1::SweepSpec> spec = RaceSweep(*base, racers, InputName(spec_path));
  if (!spec.ok()) {
    *ctx.err << "descent: " << spec.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<v1::Sweep> sweep = sweeps.Create(*spec);
  if (!sweep.ok()) return ReportError(ctx, sweep.status());
  if (ctx.format == OutputFormat::kText) {
    *ctx.out << "race " << sweep->id() << ": " << sweep->trials_size() << " runs of "
             << (base->name().empty() ? spec_path : base->name()) << " (descent race --watch "
             << sweep->id() << " follows it again)\n"
             << std::flush;
  }
  return FollowSweep(ctx, sweeps, *std::move(sweep), /*list_runs=*/true, options);
}

int RunRaceWatch(const CommandContext& ctx, SweepClient& sweeps, const std::string& id,
                 const RaceOptions& options) {
  if (!absl::StartsWith(id, "race-")) {
    absl::StatusOr<v1::Sweep> sweep = sweeps.Get(id);
    if (sweep.ok()) {
      if (ctx.format == OutputFormat::kText) {
        *ctx.out << "race " << id << ": " << sweep->trials_size() << " runs\n" << std::flush;
      }
      return FollowSweep(ctx, sweeps, *std::move(sweep), /*list_runs=*/false, options);
    }
    if (!absl::IsNotFound(sweep.status())) return ReportError(ctx, sweep.status());
  }
  return FollowGroup(ctx, id, options);
}

}  // namespace descent::client
