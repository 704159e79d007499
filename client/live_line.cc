#include "client/live_line.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace descent::client {
namespace {

constexpr const char* kEraseLine = "\r\x1b[K";

// 12345.6 -> "12,346"
std::string WithThousands(double value) {
  std::string digits = absl::StrFormat("%.0f", value);
  std::string out;
  const int n = static_cast<int>(digits.size());
  for (int i = 0; i < n; ++i) {
    if (i > 0 && (n - i) % 3 == 0 && digits[i - 1] != '-') out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

std::string FormatEta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "-";
  const int64_t total = static_cast<int64_t>(std::llround(seconds));
  const int64_t h = total / 3600, m = (total / 60) % 60, s = total % 60;
  if (h > 0) return absl::StrFormat("%d:%02d:%02d", h, m, s);
  return absl::StrFormat("%d:%02d", m, s);
}

std::string FormatLiveLine(const LiveStatus& status, int width) {
  std::string line;
  if (status.total_epochs > 0) {
    absl::StrAppend(&line, "epoch ", status.epoch, "/", status.total_epochs);
  } else {
    absl::StrAppend(&line, "epoch ", status.epoch);
  }
  absl::StrAppend(&line, "  step ", status.step);
  if (status.total_steps > 0) absl::StrAppend(&line, "/", status.total_steps);
  if (status.steps_per_second) {
    absl::StrAppend(&line, "  ", WithThousands(*status.steps_per_second), " steps/s");
    if (status.total_steps > 0 && *status.steps_per_second > 0) {
      const double remaining = static_cast<double>(status.total_steps - status.step);
      absl::StrAppend(&line, "  ETA ", FormatEta(remaining / *status.steps_per_second));
    }
  }
  // Losses last: on a narrow terminal they are what gets cut, not the progress.
  if (status.loss) absl::StrAppend(&line, "  batch loss ", absl::StrFormat("%.4g", *status.loss));
  if (status.validation_loss) {
    absl::StrAppend(&line, "  val loss ", absl::StrFormat("%.4g", *status.validation_loss));
  }
  const size_t max = static_cast<size_t>(std::max(width - 1, 1));
  if (line.size() > max) line.resize(max);
  return line;
}

void StepRate::Add(absl::Time now, int64_t step) {
  samples_.emplace_back(now, step);
  // Keep one sample older than the window so the rate spans the whole window.
  while (samples_.size() > 2 && now - samples_[1].first >= window_) samples_.pop_front();
}

std::optional<double> StepRate::PerSecond() const {
  if (samples_.size() < 2) return std::nullopt;
  const absl::Duration span = samples_.back().first - samples_.front().first;
  if (span <= absl::ZeroDuration() || span < min_span_) return std::nullopt;
  return static_cast<double>(samples_.back().second - samples_.front().second) /
         absl::ToDoubleSeconds(span);
}

void LiveLine::Update(const LiveStatus& status, absl::Time now, bool force) {
  if (!force && drawn_ && now - last_draw_ < min_interval_) return;
  Draw(FormatLiveLine(status, width_), now);
}

void LiveLine::UpdateText(const std::string& text, absl::Time now, bool force) {
  if (!force && drawn_ && now - last_draw_ < min_interval_) return;
  Draw(text.substr(0, static_cast<size_t>(std::max(width_ - 1, 1))), now);  // ASCII text
}

void LiveLine::Draw(const std::string& line, absl::Time now) {
  out_ << kEraseLine << line << std::flush;
  last_draw_ = now;
  drawn_ = true;
}

void LiveLine::Clear() {
  if (!drawn_) return;
  out_ << kEraseLine << std::flush;
  drawn_ = false;
}

}  // namespace descent::client
