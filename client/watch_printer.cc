#include "client/watch_printer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/job_state.h"

namespace descent::client {

WatchPrinter::WatchPrinter(const v1::Job& job, WatchDisplay display, int terminal_width,
                           std::ostream& out, std::ostream& err, std::function<absl::Time()> clock)
    : display_(display),
      terminal_width_(terminal_width),
      out_(out),
      err_(err),
      job_id_(job.id()),
      history_until_step_(job.progress().step()),
      clock_(std::move(clock)),
      live_line_(out, terminal_width) {
  UpdateTotals(job);
}

void WatchPrinter::UpdateTotals(const v1::Job& job) {
  if (job.progress().total_epochs() > 0) total_epochs_ = job.progress().total_epochs();
  if (job.progress().total_steps() > 0) total_steps_ = job.progress().total_steps();
}

LiveStatus WatchPrinter::Status() const {
  LiveStatus status;
  status.step = first_step_ == 0 ? 0 : first_step_ + static_cast<int64_t>(losses_.size()) - 1;
  status.total_steps = total_steps_;
  status.total_epochs = total_epochs_;
  if (total_epochs_ > 0 && total_steps_ > 0 && status.step > 0) {
    const int64_t steps_per_epoch = std::max<int64_t>(1, total_steps_ / total_epochs_);
    status.epoch =
        static_cast<int>(std::min<int64_t>(total_epochs_, (status.step - 1) / steps_per_epoch + 1));
  } else {
    // Totals not known yet: the epoch after the last one summarised.
    status.epoch = last_epoch_done_ + 1;
    if (total_epochs_ > 0) status.epoch = std::min(status.epoch, total_epochs_);
  }
  if (!losses_.empty()) status.loss = losses_.back();
  status.validation_loss = validation_loss_;
  status.steps_per_second = rate_.PerSecond();
  return status;
}

void WatchPrinter::OnLosses(int64_t first_step, const double* losses, int count) {
  if (first_step_ == 0) first_step_ = first_step;
  losses_.insert(losses_.end(), losses, losses + count);
  if (display_ != WatchDisplay::kLive) return;
  const absl::Time now = clock_();
  const int64_t last_step = first_step + count - 1;
  // The first batch past the history is the rate's reference point: from then on, steps
  // arrive as the job trains them.
  if (last_step > history_until_step_) rate_.Add(now, last_step);
  live_line_.Update(Status(), now);
}

void WatchPrinter::OnEpoch(const v1::EpochSummary& summary) {
  last_epoch_done_ = std::max(last_epoch_done_, summary.epoch());
  if (total_steps_ == 0 && total_epochs_ > 0 && summary.epoch() > 0 &&
      summary.last_step() % summary.epoch() == 0) {
    // Every epoch has the same number of batches: the run's length follows from the first
    // summaries when the server did not say it.
    total_steps_ = summary.last_step() / summary.epoch() * total_epochs_;
  }
  if (summary.has_validation()) validation_loss_ = summary.validation().loss();
  if (display_ == WatchDisplay::kPlain) {
    out_ << FormatEpochLine(summary, total_epochs_, total_steps_) << "\n" << std::flush;
  } else if (display_ == WatchDisplay::kLive) {
    live_line_.Update(Status(), clock_(), /*force=*/true);
  }
}

void WatchPrinter::OnStateChange(const v1::Job& job) {
  UpdateTotals(job);
  if (display_ == WatchDisplay::kPlain) {
    out_ << "job " << job.id() << " " << StateName(job.state()) << "\n" << std::flush;
  } else if (display_ == WatchDisplay::kLive) {
    live_line_.Update(Status(), clock_(), /*force=*/true);
  }
}

void WatchPrinter::OnResumed(const v1::Resumed& resumed) {
  if (display_ == WatchDisplay::kJson) return;
  if (display_ == WatchDisplay::kLive) live_line_.Clear();
  out_ << "job " << job_id_ << " resumed at step " << resumed.step()
       << " after a server restart\n"
       << std::flush;
  if (display_ == WatchDisplay::kLive) live_line_.Update(Status(), clock_(), /*force=*/true);
}

void WatchPrinter::OnRawEvent(const v1::WatchJobResponse& event) {
  if (event.has_state() && IsTerminal(event.state().state())) saw_terminal_event_ = true;
  if (display_ == WatchDisplay::kJson) out_ << ToJson(event) << "\n" << std::flush;
}

void WatchPrinter::OnPolled(const v1::Job& job) {
  UpdateTotals(job);
  history_until_step_ = std::max(history_until_step_, job.progress().step());
}

void WatchPrinter::OnReconnecting(const absl::Status& why, absl::Duration delay) {
  // The time without a stream is not the job's pace, nor is the catch-up after it.
  rate_ = StepRate();
  if (display_ == WatchDisplay::kLive) live_line_.Clear();
  // RESOURCE_EXHAUSTED: the server refused the stream (the job has as many watchers as it
  // allows); the watch waits for a slot rather than having lost one.
  if (why.code() == absl::StatusCode::kResourceExhausted) {
    err_ << "descent: the server refused a stream of job " << job_id_ << " (" << why.message()
         << "); waiting for a free slot, next try in ";
  } else {
    err_ << "descent: stream of job " << job_id_ << " dropped at step " << Status().step << " ("
         << why.message() << "); resuming in ";
  }
  err_ << absl::FormatDuration(delay) << "\n" << std::flush;
}

void WatchPrinter::EndLiveLine() {
  if (display_ == WatchDisplay::kLive) live_line_.Clear();
  out_ << std::flush;
}

void WatchPrinter::Finish(const v1::Job& final_job) {
  switch (display_) {
    case WatchDisplay::kJson:
      if (!saw_terminal_event_) {
        v1::WatchJobResponse event;
        event.mutable_state()->set_state(final_job.state());
        *event.mutable_state()->mutable_job() = final_job;
        out_ << ToJson(event) << "\n";
      }
      break;
    case WatchDisplay::kLive: {
      live_line_.Clear();
      LossChartOptions chart;
      chart.width = std::clamp(terminal_width_, 40, 120);
      out_ << RenderLossChart(losses_, first_step_ == 0 ? 1 : first_step_, chart) << "\n"
           << FormatOutcome(final_job);
      break;
    }
    case WatchDisplay::kPlain:
      out_ << FormatOutcome(final_job);
      break;
  }
  out_ << std::flush;
}

}  // namespace descent::client
