// The terminal loss-over-steps chart: y = loss, x = optimizer step, as in the seed's
// "Tracking loss" pictures. Every step counts even when there are far more steps than
// columns: each column is one bucket of consecutive steps, drawn as the bucket's min..max
// span with a dot at its mean, so a single spike stays visible. Several curves (a race of
// optimizers) share one chart: each draws its buckets' means with a glyph of its own.
#ifndef DESCENT_CLIENT_LOSS_CHART_H_
#define DESCENT_CLIENT_LOSS_CHART_H_

#include <cstdint>
#include <string>
#include <vector>

namespace descent::client {

enum class ChartScale {
  kAuto,  // log when every loss is > 0 and the largest is >= 100x the smallest
  kLinear,
  kLog,  // falls back to linear when some loss is <= 0
};

struct LossChartOptions {
  int width = 80;   // total columns, labels included; at least 24
  int height = 16;  // plot rows; at least 4
  ChartScale scale = ChartScale::kAuto;
  std::string series = "minibatch loss";  // what the losses are, for the header
  // The x axis. Empty: the step. Otherwise one value per loss (e.g. a range test's learning
  // rates), labelled under the columns on a log scale and named `x_name`. The values must
  // grow geometrically with the step, as a range test's rates do: then the columns, buckets
  // of equally many consecutive steps, are equally wide on the log axis.
  std::vector<double> log_x;
  std::string x_name = "learning rate (log scale)";
  // A step to mark (0 = none), e.g. a suggestion: a dotted column through the plot and,
  // under the axis, an arrow with `mark_label`.
  int64_t marked_step = 0;
  std::string mark_label;
};

// One bucket of consecutive steps (one chart column).
struct LossBucket {
  int64_t first_step = 0;
  int64_t last_step = 0;
  double min = 0.0;  // over finite losses
  double max = 0.0;
  double mean = 0.0;
  int finite = 0;      // finite losses in the bucket
  int non_finite = 0;  // NaN or infinite losses in the bucket
};

// Splits losses[i] (step first_step + i) into `columns` buckets of as equal a size as
// possible (fewer when there are fewer steps), in step order; every step is in exactly one.
// `grid_steps` > losses.size() lays the buckets out for that many steps (a longer curve
// drawn beside this one) and leaves the buckets past losses' end empty (finite and
// non_finite 0).
std::vector<LossBucket> BucketLosses(const std::vector<double>& losses, int64_t first_step,
                                     int columns, int64_t grid_steps = 0);

// The chart as text lines ending in '\n', none wider than options.width terminal columns:
// a header (options.series, the last and the lowest loss), the plot, the step axis (or
// options.log_x's), the marked step's label, and a legend of the marks. Steps whose loss is NaN or infinite are marked with '!'
// on the top row. An empty history renders a one-line "no steps yet" note.
std::string RenderLossChart(const std::vector<double>& losses, int64_t first_step,
                            const LossChartOptions& options);

// One curve of an overlay chart.
struct ChartSeries {
  std::string name;            // in the legend, e.g. "adam:0.001"
  std::vector<double> losses;  // losses[i] is step first_step + i
};

// Several curves on shared axes, as RenderLossChart draws one, with these differences: each
// column shows each curve's mean over the column's steps in the curve's own glyph (a later
// curve covers an earlier one where they share a cell; no min..max spans, which would hide
// each other), the columns bucket the steps of the longest curve (a shorter one ends where
// its steps do), the header names the lowest loss's curve, and the legend names each glyph's
// curve. At most kMaxChartSeries curves are drawn (the first ones). options.log_x and
// marked_step are not used.
inline constexpr int kMaxChartSeries = 8;
std::string RenderOverlayChart(const std::vector<ChartSeries>& series, int64_t first_step,
                               const LossChartOptions& options);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_LOSS_CHART_H_
