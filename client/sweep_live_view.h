// The sweep a watch shows as it runs. On a terminal (CommandContext::interactive, text
// output) a table of the trials is redrawn in place as events arrive: a status line, then a
// row per trial with its parameters, step, objective, state and why it was stopped, each row
// cut to the terminal's width so that none wraps and the redraw lands where the last one
// was. Elsewhere (a pipe, a file, a CI log) each event is one appended line, as `descent
// watch` prints a job's. FormatLiveSweepTable and ApplySweepMessage are pure; the printer
// only decides what to write when.
#ifndef DESCENT_CLIENT_SWEEP_LIVE_VIEW_H_
#define DESCENT_CLIENT_SWEEP_LIVE_VIEW_H_

#include <ostream>
#include <string>

#include "absl/time/time.h"
#include "descent/v1/sweeps.pb.h"

namespace descent::client {

// The client's copy of the sweep after `message`: a `sweep` message replaces it; a trial
// event updates its trial (STARTED: running with its job; REPORTED: step and objective;
// STOPPED: stopped with its reason; FINISHED: its end state).
void ApplySweepMessage(const v1::WatchSweepResponse& message, v1::Sweep* sweep);

// At most this many trial rows in the live table; the rest are summed up in one line. The
// whole table (19 lines) fits a 24-line terminal: a redraw moves the cursor up over it, which
// cannot reach lines scrolled off the top.
inline constexpr int kMaxLiveTrialRows = 16;

// "sweep ID: 2 running, 1 pending, 3 ended", then a header and a row per trial:
//   TRIAL  PARAMETERS  STEP  VALIDATION LOSS  STATE  STOP REASON
// every line at most `width` - 1 columns. Running trials come first, then the others in
// index order, at most kMaxLiveTrialRows of them ("... and N more trials").
std::string FormatLiveSweepTable(const v1::Sweep& sweep, int width);

// "sweep ID: 2 running, 1 pending, 3 ended".
std::string TrialCounts(const v1::Sweep& sweep);

class SweepWatchPrinter {
 public:
  // `live`: redraw the table in place (a terminal); else append a line per event.
  SweepWatchPrinter(std::ostream& out, bool live, int width,
                    absl::Duration min_interval = absl::Milliseconds(100))
      : out_(out), live_(live), width_(width), min_interval_(min_interval) {}

  // Takes one message of the watch stream and prints what it changed: live, the table at
  // most every min_interval (always for a sweep message); else the event's line.
  void OnMessage(const v1::WatchSweepResponse& message, absl::Time now);
  // Live: draws the table as it stands last, so the final state is on screen whatever the
  // interval skipped; then the cursor is below it. Else nothing.
  void Finish();

  const v1::Sweep& sweep() const { return sweep_; }
  bool live() const { return live_; }

 private:
  void Redraw();

  std::ostream& out_;
  const bool live_;
  const int width_;
  const absl::Duration min_interval_;
  v1::Sweep sweep_;
  int drawn_lines_ = 0;  // lines of the last live table, which the next one overwrites
  absl::Time last_draw_ = absl::InfinitePast();
  bool dirty_ = false;
};

}  // namespace descent::client

#endif  // DESCENT_CLIENT_SWEEP_LIVE_VIEW_H_
