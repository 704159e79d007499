#include "client/loss_chart.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace descent::client {
namespace {

constexpr int kLabelWidth = 10;            // "%9.3g" and a space
constexpr const char* kMean = "\u25cf";    // ●
constexpr const char* kSpan = "\u00b7";    // ·  (light, so the mean line stands out)
constexpr const char* kAxis = "\u2502";    // │
constexpr const char* kTick = "\u2524";    // ┤
constexpr const char* kCorner = "\u2514";  // └
constexpr const char* kRule = "\u2500";    // ─
constexpr const char* kMarked = "\u250a";  // ┊  the marked step's column
constexpr const char* kArrow = "\u25b2";   // ▲  under it, with its label

std::string Label(double value) { return absl::StrFormat("%9.3g ", value); }

// Terminal columns of UTF-8 text (every character here is one column wide).
int DisplayWidth(const std::string& text) {
  int width = 0;
  for (char c : text) width += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return width;
}

// How many steps the columns hold: "12", or "12-13" when they differ.
std::string StepsPerColumn(const std::vector<LossBucket>& buckets) {
  int64_t fewest = buckets.front().last_step - buckets.front().first_step + 1, most = fewest;
  for (const LossBucket& bucket : buckets) {
    const int64_t steps = bucket.last_step - bucket.first_step + 1;
    fewest = std::min(fewest, steps);
    most = std::max(most, steps);
  }
  return fewest == most ? absl::StrCat(most) : absl::StrCat(fewest, "-", most);
}

// What a column's marks mean, e.g. "● mean  · min..max of the 12-13 steps in each column".
// The longest wording that fits `width`.
std::string Legend(const std::vector<LossBucket>& buckets, const std::string& series,
                   int non_finite, int width) {
  const std::string nan = non_finite > 0 ? absl::StrCat("  ! NaN or infinite") : "";
  std::vector<std::string> wordings;
  const std::string steps = StepsPerColumn(buckets);
  if (steps == "1") {
    wordings = {absl::StrCat(kMean, " one step's ", series, " per column", nan),
                absl::StrCat(kMean, " one step per column", nan),
                absl::StrCat(kMean, " one step", nan), absl::StrCat(kMean, " one step")};
  } else {
    wordings = {absl::StrCat(kMean, " mean  ", kSpan, " min..max of the ", steps,
                             " steps in each column", nan),
                absl::StrCat(kMean, " mean  ", kSpan, " min..max of ", steps, " steps", nan),
                absl::StrCat(kMean, " mean  ", kSpan, " range", nan),
                absl::StrCat(kMean, " mean ", kSpan, " range"), absl::StrCat(kMean, " mean")};
  }
  for (const std::string& wording : wordings) {
    if (DisplayWidth(wording) <= width) return wording;
  }
  return "";  // narrower than any wording (charts are at least 13 plot columns wide)
}

// An x value as a tick label: short, in the units the value has ("1e-07", "0.003", "10").
std::string XLabel(double x) { return absl::StrFormat("%.2g", x); }

}  // namespace

std::vector<LossBucket> BucketLosses(const std::vector<double>& losses, int64_t first_step,
                                     int columns, int64_t grid_steps) {
  std::vector<LossBucket> buckets;
  const int64_t have = static_cast<int64_t>(losses.size());
  const int64_t n = std::max(have, grid_steps);
  if (n == 0 || columns <= 0) return buckets;
  const int64_t count = std::min<int64_t>(n, columns);
  buckets.reserve(static_cast<size_t>(count));
  for (int64_t c = 0; c < count; ++c) {
    const int64_t begin = c * n / count;
    const int64_t end = (c + 1) * n / count;
    LossBucket bucket;
    bucket.first_step = first_step + begin;
    bucket.last_step = first_step + end - 1;
    bucket.min = std::numeric_limits<double>::infinity();
    bucket.max = -std::numeric_limits<double>::infinity();
    double sum = 0.0;
    for (int64_t i = begin; i < std::min(end, have); ++i) {
      const double loss = losses[static_cast<size_t>(i)];
      if (!std::isfinite(loss)) {
        ++bucket.non_finite;
        continue;
      }
      ++bucket.finite;
      sum += loss;
      bucket.min = std::min(bucket.min, loss);
      bucket.max = std::max(bucket.max, loss);
    }
    if (bucket.finite > 0) {
      bucket.mean = sum / bucket.finite;
    } else {
      bucket.min = bucket.max = bucket.mean = 0.0;
    }
    buckets.push_back(bucket);
  }
  return buckets;
}

namespace {

// Each overlaid curve's glyph, in order (the first is the single curve's mean dot).
constexpr const char* kSeriesGlyphs[kMaxChartSeries] = {
    "\u25cf", "\u25a0", "\u25c6", "\u25b2", "\u25cb", "\u25a1", "\u25c7", "\u25b3"};  // ●■◆▲○□◇△

// What RenderLossChart and RenderOverlayChart share: the scale, the rows, the axes and the
// legend. One curve is drawn with spans and its mean; several with their means alone.
std::string RenderCurves(const std::vector<ChartSeries>& all_series, int64_t first_step,
                         const LossChartOptions& options) {
  const std::vector<ChartSeries> series(
      all_series.begin(),
      all_series.begin() + std::min<size_t>(all_series.size(), kMaxChartSeries));
  const bool overlay = series.size() > 1;
  int64_t steps = 0;
  for (const ChartSeries& curve : series) {
    steps = std::max<int64_t>(steps, static_cast<int64_t>(curve.losses.size()));
  }
  if (steps == 0) return "loss: no steps yet\n";
  const int width = std::max(options.width, 24);
  const int height = std::max(options.height, 4);
  const int plot_columns = width - kLabelWidth - 1;
  std::vector<std::vector<LossBucket>> buckets;
  for (const ChartSeries& curve : series) {
    buckets.push_back(BucketLosses(curve.losses, first_step, plot_columns, steps));
  }
  // Every curve is bucketed on the same grid of steps: the first one's buckets are the
  // columns.
  const std::vector<LossBucket>& layout = buckets.front();

  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  for (const std::vector<LossBucket>& curve : buckets) {
    for (const LossBucket& bucket : curve) {
      if (bucket.finite == 0) continue;
      lo = std::min(lo, bucket.min);
      hi = std::max(hi, bucket.max);
    }
  }
  // Where the lowest loss is: its step and (overlaid) its curve.
  int64_t min_step = 0;
  size_t min_series = 0;
  for (size_t s = 0; s < series.size() && min_step == 0; ++s) {
    for (size_t i = 0; i < series[s].losses.size(); ++i) {
      if (series[s].losses[i] == lo) {
        min_step = first_step + static_cast<int64_t>(i);
        min_series = s;
        break;
      }
    }
  }
  const bool any_finite = std::isfinite(lo);
  bool log_scale = false;
  if (any_finite && lo > 0.0) {
    log_scale = options.scale == ChartScale::kLog ||
                (options.scale == ChartScale::kAuto && hi >= 100.0 * lo);
  }
  auto transform = [log_scale](double v) { return log_scale ? std::log10(v) : v; };
  auto untransform = [log_scale](double v) { return log_scale ? std::pow(10.0, v) : v; };
  const double top = any_finite ? transform(hi) : 1.0;
  const double bottom = any_finite ? transform(lo) : 0.0;
  // Row 0 is the top. A flat history sits in the middle row.
  auto row_of = [&](double loss) {
    if (top == bottom) return height / 2;
    const double t = (top - transform(loss)) / (top - bottom);
    return std::clamp(static_cast<int>(std::lround(t * (height - 1))), 0, height - 1);
  };

  const std::vector<double>& only = series.front().losses;
  const bool has_x = !overlay && options.log_x.size() == only.size();
  auto x_at = [&](int64_t step) { return options.log_x[static_cast<size_t>(step - first_step)]; };
  int marked_column = -1;
  if (!overlay) {
    for (size_t c = 0; c < layout.size(); ++c) {
      if (layout[c].first_step <= options.marked_step &&
          options.marked_step <= layout[c].last_step) {
        marked_column = static_cast<int>(c);
      }
    }
  }

  std::vector<std::vector<const char*>> cells(static_cast<size_t>(height),
                                              std::vector<const char*>(layout.size(), " "));
  if (marked_column >= 0) {
    for (std::vector<const char*>& row : cells) row[static_cast<size_t>(marked_column)] = kMarked;
  }
  int non_finite = 0;
  for (size_t s = 0; s < buckets.size(); ++s) {
    for (size_t c = 0; c < buckets[s].size(); ++c) {
      const LossBucket& bucket = buckets[s][c];
      if (bucket.finite > 0) {
        if (!overlay) {
          for (int r = row_of(bucket.max); r <= row_of(bucket.min); ++r) cells[r][c] = kSpan;
        }
        cells[static_cast<size_t>(row_of(bucket.mean))][c] = kSeriesGlyphs[s];
      }
      if (bucket.non_finite > 0) cells[0][c] = "!";
      non_finite += bucket.non_finite;
    }
  }

  std::string out;
  // Each step's loss is one minibatch's, not an epoch mean: say so, next to the epoch means
  // the rest of the CLI shows.
  std::string header = absl::StrCat(options.series, log_scale ? " (log scale)" : "");
  if (overlay) {
    absl::StrAppend(&header, " of ", series.size(), " runs");
  } else {
    absl::StrAppend(&header, "   last ", absl::StrFormat("%.4g", only.back()));
  }
  if (any_finite) {
    absl::StrAppend(&header, "   min ", absl::StrFormat("%.4g", lo), " at step ", min_step);
    if (has_x) absl::StrAppend(&header, " (", XLabel(x_at(min_step)), ")");
    if (overlay) absl::StrAppend(&header, " (", series[min_series].name, ")");
  }
  if (non_finite > 0) absl::StrAppend(&header, "   ! = ", non_finite, " non-finite");
  absl::StrAppend(&out, header.substr(0, static_cast<size_t>(width)), "\n");

  const int middle_row = (height - 1) / 2;
  for (int r = 0; r < height; ++r) {
    const bool labelled = r == 0 || r == height - 1 || r == middle_row;
    if (labelled && any_finite) {
      const double value =
          untransform(top - (top - bottom) * static_cast<double>(r) / (height - 1));
      absl::StrAppend(&out, Label(top == bottom ? lo : value), kTick);
    } else {
      absl::StrAppend(&out, std::string(kLabelWidth, ' '), kAxis);
    }
    std::string row;
    for (const char* cell : cells[static_cast<size_t>(r)]) row += cell;
    while (!row.empty() && row.back() == ' ') row.pop_back();
    absl::StrAppend(&out, row, "\n");
  }

  absl::StrAppend(&out, std::string(kLabelWidth, ' '), kCorner);
  for (size_t c = 0; c < layout.size(); ++c) out += kRule;
  out += "\n";

  // Step numbers under the first, middle and last column, "step" in between if it fits.
  const int columns = static_cast<int>(layout.size());
  std::string ticks(static_cast<size_t>(columns + 1), ' ');
  auto place = [&ticks](int at, const std::string& text) {
    at = std::clamp(at, 0, std::max(0, static_cast<int>(ticks.size()) - 1));
    if (at + text.size() > ticks.size()) ticks.resize(at + text.size(), ' ');
    ticks.replace(static_cast<size_t>(at), text.size(), text);
  };
  const std::string first_label = has_x ? XLabel(x_at(layout.front().first_step))
                                        : absl::StrCat(layout.front().first_step);
  const std::string last_label = has_x ? XLabel(x_at(layout.back().last_step))
                                       : absl::StrCat(layout.back().last_step);
  place(0, first_label);
  const int last_at = std::max(columns - static_cast<int>(last_label.size()),
                               static_cast<int>(first_label.size()) + 1);
  place(last_at, last_label);
  const std::string axis_name = has_x ? options.x_name : "step";
  const int name_at = (columns - static_cast<int>(axis_name.size())) / 2;
  if (name_at > static_cast<int>(first_label.size()) + 1 &&
      name_at + static_cast<int>(axis_name.size()) + 1 < last_at) {
    place(name_at, axis_name);
  }
  while (!ticks.empty() && ticks.back() == ' ') ticks.pop_back();
  absl::StrAppend(&out, std::string(kLabelWidth + 1, ' '), ticks.substr(0, width - kLabelWidth - 1),
                  "\n");
  if (marked_column >= 0 && !options.mark_label.empty()) {
    // "▲ label" from the marked column, or "label ▲" ending there when it would overflow.
    const int label_width = DisplayWidth(options.mark_label);
    std::string mark;
    if (marked_column + 2 + label_width <= columns) {
      mark = absl::StrCat(std::string(static_cast<size_t>(marked_column), ' '), kArrow, " ",
                          options.mark_label);
    } else {
      mark = absl::StrCat(
          std::string(static_cast<size_t>(std::max(0, marked_column - label_width - 1)), ' '),
          options.mark_label, " ", kArrow);
    }
    absl::StrAppend(&out, std::string(kLabelWidth + 1, ' '), mark, "\n");
  }
  if (overlay) {
    // "● adam:0.001  ■ sgd:0.003", then what a glyph stands for, as far as the width allows.
    std::string names;
    for (size_t s = 0; s < series.size(); ++s) {
      absl::StrAppend(&names, s > 0 ? "  " : "", kSeriesGlyphs[s], " ", series[s].name);
    }
    absl::StrAppend(&out, std::string(kLabelWidth + 1, ' '), names, "\n");
    const std::string steps_each = StepsPerColumn(layout);
    const std::string what =
        steps_each == "1" ? std::string("each mark: one step of a run")
                          : absl::StrCat("each mark: a run's mean over the ", steps_each,
                                         " steps of its column");
    if (DisplayWidth(what) <= width - kLabelWidth - 1) {
      absl::StrAppend(&out, std::string(kLabelWidth + 1, ' '), what, "\n");
    }
  } else {
    absl::StrAppend(&out, std::string(kLabelWidth + 1, ' '),
                    Legend(layout, options.series, non_finite, width - kLabelWidth - 1), "\n");
  }
  return out;
}

}  // namespace

std::string RenderLossChart(const std::vector<double>& losses, int64_t first_step,
                            const LossChartOptions& options) {
  return RenderCurves({ChartSeries{options.series, losses}}, first_step, options);
}

std::string RenderOverlayChart(const std::vector<ChartSeries>& series, int64_t first_step,
                               const LossChartOptions& options) {
  if (series.empty()) return "loss: no steps yet\n";
  return RenderCurves(series, first_step, options);
}

}  // namespace descent::client
