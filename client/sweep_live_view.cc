#include "client/sweep_live_view.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/sweep_view.h"

namespace descent::client {
namespace {

// Up `n` lines to the start of the line, then (per line) erase it.
std::string CursorUp(int n) { return absl::StrCat("\x1b[", n, "F"); }
constexpr const char* kEraseLine = "\x1b[2K";

std::string Cut(std::string line, int width) {
  const size_t limit = static_cast<size_t>(std::max(width - 1, 10));
  if (line.size() > limit) line.resize(limit);
  return line;
}

std::string ObjectiveText(const v1::Trial& trial) {
  return trial.has_objective() ? absl::StrFormat("%.4g", trial.objective()) : "-";
}

}  // namespace

void ApplySweepMessage(const v1::WatchSweepResponse& message, v1::Sweep* sweep) {
  if (message.has_sweep()) {
    *sweep = message.sweep();
    return;
  }
  const v1::TrialEvent& event = message.trial();
  if (event.trial() < 0 || event.trial() >= sweep->trials_size()) return;
  v1::Trial& trial = *sweep->mutable_trials(event.trial());
  if (!event.job_id().empty()) trial.set_job_id(event.job_id());
  switch (event.kind()) {
    case v1::TrialEvent::STARTED:
      trial.set_state(v1::TRIAL_RUNNING);
      break;
    case v1::TrialEvent::REPORTED:
      if (event.report().step() > trial.step()) trial.set_step(event.report().step());
      trial.set_objective(event.report().value());
      break;
    case v1::TrialEvent::STOPPED:
      trial.set_state(v1::TRIAL_STOPPED);
      trial.set_stop_reason(event.reason());
      break;
    case v1::TrialEvent::FINISHED:
      trial.set_state(event.state());
      break;
    default:
      break;
  }
}

std::string TrialCounts(const v1::Sweep& sweep) {
  int running = 0, pending = 0, ended = 0;
  for (const v1::Trial& trial : sweep.trials()) {
    if (trial.state() == v1::TRIAL_RUNNING) {
      ++running;
    } else if (trial.state() == v1::TRIAL_PENDING) {
      ++pending;
    } else {
      ++ended;
    }
  }
  return absl::StrCat("sweep ", sweep.id(), ": ", running, " running, ", pending, " pending, ",
                      ended, " ended");
}

std::string FormatLiveSweepTable(const v1::Sweep& sweep, int width) {
  std::vector<const v1::Trial*> rows;
  for (const v1::Trial& trial : sweep.trials()) rows.push_back(&trial);
  std::stable_partition(rows.begin(), rows.end(), [](const v1::Trial* trial) {
    return trial->state() == v1::TRIAL_RUNNING;
  });
  const int hidden = std::max(0, static_cast<int>(rows.size()) - kMaxLiveTrialRows);
  rows.resize(rows.size() - static_cast<size_t>(hidden));
  const std::string objective = absl::AsciiStrToUpper(ObjectiveName(sweep.spec()));
  size_t parameters = std::string("PARAMETERS").size();
  for (const v1::Trial* trial : rows) {
    parameters = std::max(parameters, TrialParameters(*trial).size());
  }
  const auto row = [&](const std::string& index, const std::string& values,
                       const std::string& step, const std::string& value,
                       const std::string& state, const std::string& reason) {
    return Cut(absl::StrFormat("%-6s %-*s  %-11s %-*s  %-10s %s", index, parameters, values,
                               step, objective.size(), value, state, reason),
               width) + "\n";
  };
  std::string text = Cut(TrialCounts(sweep), width) + "\n";
  text += row("TRIAL", "PARAMETERS", "STEP", objective, "STATE", "STOP REASON");
  for (const v1::Trial* trial : rows) {
    const bool best = sweep.has_best_trial() && sweep.best_trial() == trial->index();
    text += row(absl::StrCat(trial->index(), best ? " *" : ""), TrialParameters(*trial),
                trial->total_steps() > 0 ? absl::StrCat(trial->step(), "/", trial->total_steps())
                                         : absl::StrCat(trial->step()),
                ObjectiveText(*trial),
                TrialStateName(trial->state()),
                trial->state() == v1::TRIAL_FAILED ? trial->error() : trial->stop_reason());
  }
  if (hidden > 0) {
    text += Cut(absl::StrCat("... and ", hidden, " more trials (descent sweep get ", sweep.id(),
                             " shows them all)"),
                width) + "\n";
  }
  return text;
}

void SweepWatchPrinter::OnMessage(const v1::WatchSweepResponse& message, absl::Time now) {
  ApplySweepMessage(message, &sweep_);
  if (!live_) {
    if (message.has_trial()) out_ << FormatTrialEvent(sweep_, message.trial()) << std::flush;
    return;
  }
  dirty_ = true;
  if (message.has_sweep() || now - last_draw_ >= min_interval_) {
    last_draw_ = now;
    Redraw();
  }
}

void SweepWatchPrinter::Finish() {
  if (live_ && (dirty_ || drawn_lines_ == 0)) Redraw();
}

void SweepWatchPrinter::Redraw() {
  const std::string table = FormatLiveSweepTable(sweep_, width_);
  std::string frame = drawn_lines_ > 0 ? CursorUp(drawn_lines_) : "";
  int lines = 0;
  for (size_t start = 0; start < table.size();) {
    const size_t end = table.find('\n', start);
    absl::StrAppend(&frame, kEraseLine, table.substr(start, end - start + 1));
    start = end + 1;
    ++lines;
  }
  // The table only grows (a sweep's trials are fixed, the hidden line comes and stays), but
  // should it shrink, the old rows below it are erased.
  for (int extra = lines; extra < drawn_lines_; ++extra) absl::StrAppend(&frame, kEraseLine, "\n");
  drawn_lines_ = std::max(lines, drawn_lines_);
  dirty_ = false;
  out_ << frame << std::flush;
}

}  // namespace descent::client
