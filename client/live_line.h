// The one-line progress display `descent watch` redraws in place on a terminal:
//   epoch 3/30  step 1234/1500  2,410 steps/s  ETA 0:04  batch loss 0.02131  val loss 0.025
// "batch loss" is the last step's minibatch loss, "val loss" the last epoch's validation loss.
#ifndef DESCENT_CLIENT_LIVE_LINE_H_
#define DESCENT_CLIENT_LIVE_LINE_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include "absl/time/time.h"

namespace descent::client {

struct LiveStatus {
  int epoch = 0;
  int total_epochs = 0;  // 0 = unknown
  int64_t step = 0;
  int64_t total_steps = 0;  // 0 = unknown
  std::optional<double> loss;              // the last step's minibatch loss
  std::optional<double> validation_loss;   // the last epoch's
  std::optional<double> steps_per_second;  // live progress only (unset while unknown)
};

// "0:07", "12:34", "1:02:03"; "-" for a negative or non-finite number of seconds.
std::string FormatEta(double seconds);

// The status as one line of at most `width` - 1 columns (so the cursor never wraps).
std::string FormatLiveLine(const LiveStatus& status, int width);

// Steps per second over a sliding window of recent samples.
class StepRate {
 public:
  explicit StepRate(absl::Duration window = absl::Seconds(3),
                    absl::Duration min_span = absl::Seconds(1))
      : window_(window), min_span_(min_span) {}
  void Add(absl::Time now, int64_t step);
  // Unset until the samples span min_span: messages read back to back (a fast job's
  // batches, a burst after a stall) are microseconds apart and would give absurd rates.
  std::optional<double> PerSecond() const;

 private:
  absl::Duration window_;
  absl::Duration min_span_;
  std::deque<std::pair<absl::Time, int64_t>> samples_;
};

// Redraws the line in place ("\r", then erase to end of line) at most every
// `min_interval`, so a job streaming 100k steps/s does not flood the terminal.
class LiveLine {
 public:
  LiveLine(std::ostream& out, int width, absl::Duration min_interval = absl::Milliseconds(100))
      : out_(out), width_(width), min_interval_(min_interval) {}
  // Draws `status` unless the last draw was less than min_interval ago (or `force`).
  void Update(const LiveStatus& status, absl::Time now, bool force = false);
  // The same for a line of the caller's (cut to the width), e.g. a race's runs.
  void UpdateText(const std::string& text, absl::Time now, bool force = false);
  // Erases the line (before printing anything else); a later Update draws it again.
  void Clear();

 private:
  void Draw(const std::string& line, absl::Time now);

  std::ostream& out_;
  int width_;
  absl::Duration min_interval_;
  absl::Time last_draw_ = absl::InfinitePast();
  bool drawn_ = false;
};

}  // namespace descent::client

#endif  // DESCENT_CLIENT_LIVE_LINE_H_
