// Shows a watched job in one of three ways:
//   terminal (interactive): a live line redrawn in place, then the loss chart, the outcome
//     and the diagnosis;
//   piped text: a plain line per state change, resumption and epoch, then the outcome;
//   JSON: every WatchJobResponse as one JSON object per line.
// Keeps every step's loss for the chart (8 bytes a step).
// The live line's steps/s and ETA come from live progress only: steps the server replays
// from history (a watch attached to a running or finished job, the catch-up after a dropped
// stream) arrive far faster than the job trains and are not counted.
#ifndef DESCENT_CLIENT_WATCH_PRINTER_H_
#define DESCENT_CLIENT_WATCH_PRINTER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/job_watcher.h"
#include "client/live_line.h"
#include "client/loss_chart.h"
#include "client/output.h"
#include "descent/v1/training.pb.h"

namespace descent::client {

enum class WatchDisplay { kLive, kPlain, kJson };

class WatchPrinter : public WatchSink {
 public:
  // `job` is the job as last seen (for its totals, its name, and the step up to which the
  // stream replays history); `out` gets the display, `err` reconnection notices. `clock`
  // times the live rate.
  WatchPrinter(const v1::Job& job, WatchDisplay display, int terminal_width, std::ostream& out,
               std::ostream& err, std::function<absl::Time()> clock = absl::Now);

  void OnLosses(int64_t first_step, const double* losses, int count) override;
  void OnEpoch(const v1::EpochSummary& summary) override;
  void OnStateChange(const v1::Job& job) override;
  void OnResumed(const v1::Resumed& resumed) override;
  void OnRawEvent(const v1::WatchJobResponse& event) override;
  void OnReconnecting(const absl::Status& why, absl::Duration delay) override;
  void OnPolled(const v1::Job& job) override;

  // Prints the end of the watch for the job's final state: the chart (live display) and
  // the outcome; in JSON, a final state event if the stream's own was not seen.
  void Finish(const v1::Job& final_job);

  // For a command that prints its own ending: clears the live line (other displays print
  // nothing).
  void EndLiveLine();

  // Losses of steps first_step() .. first_step() + losses().size() - 1.
  const std::vector<double>& losses() const { return losses_; }
  int64_t first_step() const { return first_step_; }

 private:
  void UpdateTotals(const v1::Job& job);
  LiveStatus Status() const;

  WatchDisplay display_;
  int terminal_width_;
  std::ostream& out_;
  std::ostream& err_;
  std::string job_id_;
  int total_epochs_ = 0;
  int last_epoch_done_ = 0;
  int64_t total_steps_ = 0;
  int64_t first_step_ = 0;  // 0 until the first loss arrives
  // Steps up to this one were already trained when the stream (re)opened: history.
  int64_t history_until_step_ = 0;
  std::vector<double> losses_;
  std::optional<double> validation_loss_;
  bool saw_terminal_event_ = false;
  std::function<absl::Time()> clock_;
  StepRate rate_;  // live steps only
  LiveLine live_line_;
};

}  // namespace descent::client

#endif  // DESCENT_CLIENT_WATCH_PRINTER_H_
