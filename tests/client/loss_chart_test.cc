#include "client/loss_chart.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace descent::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Terminal columns of a UTF-8 line (every glyph the chart uses is one column wide).
int Columns(const std::string& line) {
  int columns = 0;
  for (unsigned char c : line) columns += (c & 0xC0) != 0x80;
  return columns;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

// The plot rows (between the header and the x axis), with the 11-column label gutter cut.
std::vector<std::string> PlotRows(const std::string& chart, int height) {
  std::vector<std::string> lines = Lines(chart);
  std::vector<std::string> rows;
  for (int r = 1; r <= height; ++r) {
    const std::string& line = lines[static_cast<size_t>(r)];
    // 10 ASCII label columns, then one 3-byte axis glyph.
    rows.push_back(line.size() > 13 ? line.substr(13) : "");
  }
  return rows;
}

// Row index (0 = top) of the mean marker in plot column `column`, or -1.
int MarkerRow(const std::vector<std::string>& rows, int column) {
  for (size_t r = 0; r < rows.size(); ++r) {
    int col = 0;
    for (size_t i = 0; i < rows[r].size();) {
      const unsigned char c = static_cast<unsigned char>(rows[r][i]);
      const size_t length = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
      if (col == column) {
        if (rows[r].compare(i, length, "\u25cf") == 0) return static_cast<int>(r);
        break;
      }
      ++col;
      i += length;
    }
  }
  return -1;
}

TEST(BucketLossesTest, EveryStepLandsInExactlyOneBucketInOrder) {
  std::vector<double> losses(1001);
  for (size_t i = 0; i < losses.size(); ++i) losses[i] = static_cast<double>(i);
  const std::vector<LossBucket> buckets = BucketLosses(losses, /*first_step=*/1, 70);
  ASSERT_EQ(buckets.size(), 70u);
  EXPECT_EQ(buckets.front().first_step, 1);
  EXPECT_EQ(buckets.back().last_step, 1001);
  int64_t total = 0;
  for (size_t c = 0; c < buckets.size(); ++c) {
    if (c > 0) {
      EXPECT_EQ(buckets[c].first_step, buckets[c - 1].last_step + 1);
    }
    total += buckets[c].finite;
    // Bucket sizes differ by at most one.
    EXPECT_GE(buckets[c].finite, 14);
    EXPECT_LE(buckets[c].finite, 15);
    EXPECT_DOUBLE_EQ(buckets[c].min, static_cast<double>(buckets[c].first_step - 1));
    EXPECT_DOUBLE_EQ(buckets[c].max, static_cast<double>(buckets[c].last_step - 1));
  }
  EXPECT_EQ(total, 1001);
}

TEST(BucketLossesTest, FewerStepsThanColumnsGiveOneBucketPerStep) {
  const std::vector<LossBucket> buckets = BucketLosses({3.0, 2.0, 1.0}, 10, 70);
  ASSERT_EQ(buckets.size(), 3u);
  EXPECT_EQ(buckets[0].first_step, 10);
  EXPECT_EQ(buckets[2].last_step, 12);
  EXPECT_DOUBLE_EQ(buckets[1].mean, 2.0);
}

TEST(BucketLossesTest, NonFiniteLossesAreCountedNotAveraged) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<LossBucket> buckets = BucketLosses({1.0, inf, 3.0, std::nan("")}, 1, 1);
  ASSERT_EQ(buckets.size(), 1u);
  EXPECT_EQ(buckets[0].finite, 2);
  EXPECT_EQ(buckets[0].non_finite, 2);
  EXPECT_DOUBLE_EQ(buckets[0].mean, 2.0);
  EXPECT_DOUBLE_EQ(buckets[0].max, 3.0);
}

TEST(LossChartTest, FallingLossDescendsFromTopLeftToBottomRight) {
  std::vector<double> losses;
  for (int i = 0; i < 500; ++i) losses.push_back(1.0 - i / 1000.0);  // linear, 1.0 .. 0.501
  LossChartOptions options;
  options.height = 10;
  const std::string chart = RenderLossChart(losses, 1, options);
  const std::vector<std::string> rows = PlotRows(chart, 10);
  const int columns = 80 - 11;
  EXPECT_EQ(MarkerRow(rows, 0), 0);
  EXPECT_EQ(MarkerRow(rows, columns - 1), 9);
  int previous = 0;
  for (int c = 0; c < columns; ++c) {
    const int row = MarkerRow(rows, c);
    ASSERT_GE(row, previous) << "column " << c << "\n" << chart;
    previous = row;
  }
  EXPECT_THAT(chart, Not(HasSubstr("log scale")));
}

TEST(LossChartTest, FitsTheRequestedWidthWithManyMoreStepsThanColumns) {
  std::vector<double> losses(100000);
  for (size_t i = 0; i < losses.size(); ++i) losses[i] = 5.0 / (1.0 + static_cast<double>(i));
  for (int width : {40, 80, 120}) {
    LossChartOptions options;
    options.width = width;
    const std::string chart = RenderLossChart(losses, 1, options);
    for (const std::string& line : Lines(chart)) {
      EXPECT_LE(Columns(line), width) << line;
    }
    EXPECT_THAT(chart, HasSubstr("100000"));  // the last step labels the x axis
  }
}

TEST(LossChartTest, ASingleSpikeAmongThousandsOfStepsStaysVisible) {
  std::vector<double> losses(20000, 0.5);
  losses[12345] = 4.0;
  LossChartOptions options;
  options.height = 8;
  options.scale = ChartScale::kLinear;
  const std::vector<std::string> rows = PlotRows(RenderLossChart(losses, 1, options), 8);
  // The bucket holding the spike reaches the top row; nothing else does.
  std::string top = rows[0];
  std::erase(top, ' ');
  EXPECT_EQ(Columns(top), 1) << rows[0];
}

TEST(LossChartTest, AutoScaleGoesLogWhenTheLossSpansDecades) {
  std::vector<double> losses;
  for (int i = 0; i < 300; ++i) losses.push_back(std::pow(10.0, 2.0 - i / 50.0));  // 1e2 .. 1e-4
  const std::string chart = RenderLossChart(losses, 1, {});
  EXPECT_THAT(chart, HasSubstr("log scale"));
  // On a log axis an exponential decay is a straight line: the marker row grows evenly.
  LossChartOptions options;
  options.height = 13;
  const std::vector<std::string> rows = PlotRows(RenderLossChart(losses, 1, options), 13);
  EXPECT_EQ(MarkerRow(rows, 0), 0);
  EXPECT_NEAR(MarkerRow(rows, 34), 6, 1);
  EXPECT_EQ(MarkerRow(rows, 68), 12);

  LossChartOptions linear;
  linear.scale = ChartScale::kLinear;
  EXPECT_THAT(RenderLossChart(losses, 1, linear), Not(HasSubstr("log scale")));
}

TEST(LossChartTest, LogScaleFallsBackToLinearForNonPositiveLosses) {
  LossChartOptions options;
  options.scale = ChartScale::kLog;
  EXPECT_THAT(RenderLossChart({1.0, 0.0, -1.0}, 1, options), Not(HasSubstr("log scale")));
}

TEST(LossChartTest, NonFiniteStepsAreMarkedAndCounted) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> losses = {1.0, 10.0, 1000.0, inf, std::nan("")};
  const std::string chart = RenderLossChart(losses, 1, {});
  EXPECT_THAT(chart, HasSubstr("2 non-finite"));
  EXPECT_THAT(Lines(chart)[1], HasSubstr("!"));
}

TEST(LossChartTest, HeaderNamesTheLastAndTheMinimumLoss) {
  const std::string chart = RenderLossChart({3.0, 1.0, 2.0}, 41, {});
  EXPECT_THAT(Lines(chart)[0], HasSubstr("last 2"));
  EXPECT_THAT(Lines(chart)[0], HasSubstr("min 1 at step 42"));
}

TEST(LossChartTest, TheHeaderSaysTheseAreMinibatchLosses) {
  EXPECT_THAT(Lines(RenderLossChart({3.0, 1.0, 2.0}, 1, {}))[0],
              ::testing::StartsWith("minibatch loss   last 2"));
}

TEST(LossChartTest, TheLegendSaysWhatAColumnHolds) {
  LossChartOptions options;
  options.width = 80;  // 69 plot columns
  std::vector<double> losses(1000, 0.5);
  std::vector<std::string> lines = Lines(RenderLossChart(losses, 1, options));
  // 1000 steps over 69 columns: 14 or 15 steps each.
  EXPECT_EQ(lines.back(),
            "           \u25cf mean  \u00b7 min..max of the 14-15 steps in each column");
  losses[500] = std::nan("");
  EXPECT_THAT(Lines(RenderLossChart(losses, 1, options)).back(), HasSubstr("! NaN or infinite"));
  lines = Lines(RenderLossChart({1.0, 0.5}, 1, options));
  EXPECT_EQ(lines.back(), "           \u25cf one step's minibatch loss per column");
  // A narrow chart gets a shorter wording, never a wider line.
  options.width = 30;
  for (const std::string& line : Lines(RenderLossChart(losses, 1, options))) {
    EXPECT_LE(Columns(line), 30) << line;
  }
}

TEST(LossChartTest, FlatLossIsDrawnInTheMiddle) {
  LossChartOptions options;
  options.height = 9;
  const std::vector<std::string> rows = PlotRows(RenderLossChart({0.3, 0.3, 0.3}, 1, options), 9);
  EXPECT_EQ(MarkerRow(rows, 0), 4);
  EXPECT_EQ(MarkerRow(rows, 2), 4);
}

// A range test's chart: the x axis is the learning rate, growing tenfold every 10 steps.
LossChartOptions RateAxis(int steps, int64_t marked_step) {
  LossChartOptions options;
  options.series = "smoothed loss";
  for (int i = 0; i < steps; ++i) options.log_x.push_back(1e-7 * std::pow(10.0, i / 10.0));
  options.marked_step = marked_step;
  options.mark_label = "suggested 1e-03";
  return options;
}

TEST(LossChartTest, ALogRateAxisIsLabelledWithTheRatesAtItsEnds) {
  const std::vector<double> losses(81, 1.0);
  const std::string chart = RenderLossChart(losses, 1, RateAxis(81, 0));
  const std::vector<std::string> lines = Lines(chart);
  // The axis labels: the first and last rate and the axis name, instead of step numbers.
  const std::string& ticks = lines[lines.size() - 2];
  EXPECT_THAT(ticks, HasSubstr("1e-07"));
  EXPECT_THAT(ticks, HasSubstr("10"));
  EXPECT_THAT(ticks, HasSubstr("learning rate (log scale)"));
  EXPECT_THAT(ticks, Not(HasSubstr("81")));
  EXPECT_THAT(lines.front(), HasSubstr("smoothed loss"));
}

TEST(LossChartTest, TheMarkedStepGetsADottedColumnAndItsLabelBelow) {
  std::vector<double> losses;
  for (int i = 0; i < 50; ++i) losses.push_back(2.0 - i / 50.0);
  LossChartOptions options = RateAxis(50, /*marked_step=*/41);
  options.width = 61;  // 50 plot columns: one step each
  options.height = 8;
  const std::string chart = RenderLossChart(losses, 1, options);
  const std::vector<std::string> rows = PlotRows(chart, 8);
  // Column 40 (step 41) holds the mean marker in one row and the dotted mark in all others.
  int marked = 0;
  for (const std::string& row : rows) {
    std::string cell;
    int column = 0;
    for (size_t i = 0; i < row.size() && column <= 40;) {
      const unsigned char c = static_cast<unsigned char>(row[i]);
      const size_t length = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
      if (column == 40) cell = row.substr(i, length);
      ++column;
      i += length;
    }
    marked += cell == "\u250a";
  }
  EXPECT_EQ(marked, 7) << chart;
  EXPECT_GE(MarkerRow(rows, 40), 0);
  // The label is under the axis, its arrow under the marked column when it fits there, else
  // ending at it; the chart stays within its width.
  const std::vector<std::string> lines = Lines(chart);
  const std::string& mark = lines[lines.size() - 2];
  EXPECT_THAT(lines.back(), HasSubstr("one step's smoothed loss per column"));
  EXPECT_THAT(mark, HasSubstr("suggested 1e-03"));
  EXPECT_THAT(mark, HasSubstr("\u25b2"));
  for (const std::string& line : lines) EXPECT_LE(Columns(line), 61) << line;
}

TEST(LossChartTest, EmptyHistorySaysSo) {
  EXPECT_EQ(RenderLossChart({}, 1, {}), "loss: no steps yet\n");
}

// Plot columns (0-based) holding `glyph` in any row.
std::vector<int> ColumnsWith(const std::vector<std::string>& rows, const std::string& glyph) {
  std::vector<int> columns;
  for (const std::string& row : rows) {
    int col = 0;
    for (size_t i = 0; i < row.size(); ++col) {
      const unsigned char c = static_cast<unsigned char>(row[i]);
      const size_t length = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
      if (row.compare(i, length, glyph) == 0) columns.push_back(col);
      i += length;
    }
  }
  std::sort(columns.begin(), columns.end());
  columns.erase(std::unique(columns.begin(), columns.end()), columns.end());
  return columns;
}

TEST(OverlayChartTest, EachCurveGetsItsGlyphAndTheLegendNamesThem) {
  std::vector<double> falling, level;
  for (int i = 0; i < 400; ++i) {
    falling.push_back(10.0 - 0.02 * i);
    level.push_back(5.0);
  }
  LossChartOptions options;
  options.width = 70;
  options.height = 9;
  const std::string chart =
      RenderOverlayChart({{"adam:0.001", falling}, {"sgd:0.01", level}}, 1, options);
  for (const std::string& line : Lines(chart)) EXPECT_LE(Columns(line), 70) << line;
  EXPECT_THAT(chart, HasSubstr("\u25cf adam:0.001  \u25a0 sgd:0.01"));
  // The lowest loss is the falling curve's last step.
  EXPECT_THAT(chart, HasSubstr("min 2.02 at step 400 (adam:0.001)"));
  const std::vector<std::string> rows = PlotRows(chart, 9);
  // The level curve: one glyph in every column, all on one row; the falling one from the top
  // row (10, the highest loss) to the bottom row.
  EXPECT_EQ(ColumnsWith(rows, "\u25a0").size(), 59u);
  int level_rows = 0;
  for (const std::string& row : rows) level_rows += row.find("\u25a0") != std::string::npos;
  EXPECT_EQ(level_rows, 1);
  EXPECT_NE(rows.front().find("\u25cf"), std::string::npos);
  EXPECT_NE(rows.back().find("\u25cf"), std::string::npos);
  EXPECT_THAT(chart, Not(HasSubstr("\u00b7")));  // no min..max spans when overlaid
}

TEST(OverlayChartTest, AShorterCurveEndsWhereItsStepsDo) {
  const std::vector<double> whole(100, 1.0), half(50, 2.0);
  LossChartOptions options;
  options.width = 111;  // 100 plot columns: one step each
  options.height = 6;
  const std::string chart = RenderOverlayChart({{"long", whole}, {"short", half}}, 1, options);
  const std::vector<std::string> rows = PlotRows(chart, 6);
  const std::vector<int> short_columns = ColumnsWith(rows, "\u25a0");
  ASSERT_EQ(short_columns.size(), 50u);
  EXPECT_EQ(short_columns.back(), 49);
  EXPECT_EQ(ColumnsWith(rows, "\u25cf").size(), 100u);
  EXPECT_THAT(chart, HasSubstr("each mark: one step of a run"));
}

TEST(OverlayChartTest, OneCurveIsDrawnAsRenderLossChartDrawsIt) {
  std::vector<double> losses;
  for (int i = 0; i < 300; ++i) losses.push_back(1.0 + (i % 7) * 0.1);
  LossChartOptions options;
  options.series = "minibatch loss";
  EXPECT_EQ(RenderOverlayChart({{"minibatch loss", losses}}, 1, options),
            RenderLossChart(losses, 1, options));
}

}  // namespace
}  // namespace descent::client
