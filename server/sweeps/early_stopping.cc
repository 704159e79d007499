#include "server/sweeps/early_stopping.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "server/sweeps/sweep_spec.h"

namespace descent::server {
namespace {

// Never stops: a sweep without an early-stopping rule.
class NoStopper : public EarlyStopper {
 public:
  std::optional<std::string> Report(int, int64_t, double) override { return std::nullopt; }
};

// numpy's default quantile: linear interpolation between the sorted values, q in [0, 1].
double Quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double position = q * static_cast<double>(values.size() - 1);
  const auto below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (position - static_cast<double>(below)) * (values[above] - values[below]);
}

double Median(std::vector<double> values) { return Quantile(std::move(values), 0.5); }

const char* WorseWord(v1::Goal goal) { return goal == v1::MAXIMIZE ? "below" : "above"; }

}  // namespace

std::unique_ptr<EarlyStopper> MakeEarlyStopper(const v1::SweepSpec& spec) {
  const v1::Goal goal = GoalOf(spec.objective());
  const std::string metric = MetricName(MetricOf(spec.objective()));
  const v1::EarlyStoppingRule& rule = spec.early_stopping();
  if (rule.has_asha()) {
    return std::make_unique<AshaStopper>(
        rule.asha().min_steps(),
        rule.asha().has_reduction_factor() ? rule.asha().reduction_factor()
                                           : kDefaultReductionFactor,
        goal, metric);
  }
  if (rule.has_median()) {
    return std::make_unique<MedianStopper>(
        rule.median().min_steps(),
        rule.median().has_min_trials() ? rule.median().min_trials() : kDefaultMedianMinTrials,
        goal, metric);
  }
  return std::make_unique<NoStopper>();
}

AshaStopper::AshaStopper(int64_t min_steps, double reduction_factor, v1::Goal goal,
                         std::string metric_name)
    : min_steps_(min_steps),
      reduction_factor_(reduction_factor),
      goal_(goal),
      metric_name_(std::move(metric_name)) {}

std::optional<std::string> AshaStopper::Report(int trial, int64_t step, double value) {
  // The highest rung at or below `step`.
  int rung = -1;
  int64_t rung_step = 0;
  for (int k = 0; k < 64; ++k) {
    const double at = static_cast<double>(min_steps_) * std::pow(reduction_factor_, k);
    if (at > static_cast<double>(step)) break;
    rung = k;
    rung_step = std::llround(at);
  }
  if (rung < 0) return std::nullopt;
  std::vector<std::pair<int, double>>& recorded = rungs_[rung];
  std::vector<double> before;
  for (const auto& [other, other_value] : recorded) {
    if (other == trial) return std::nullopt;  // decided at this rung already
    if (!std::isnan(other_value)) before.push_back(other_value);
  }
  recorded.emplace_back(trial, value);
  if (before.empty()) return std::nullopt;
  const double kept = 1.0 / reduction_factor_;
  const double cutoff = Quantile(before, goal_ == v1::MAXIMIZE ? 1.0 - kept : kept);
  if (!IsBetter(cutoff, value, goal_)) return std::nullopt;
  return absl::StrFormat("stopped at step %d: %s %.4g is %s the top-1/%g cutoff %.4g of %d %s at %s",
                         step, metric_name_, value, WorseWord(goal_), reduction_factor_, cutoff,
                         before.size(), before.size() == 1 ? "trial" : "trials",
                         rung_step == step ? std::string("that step")
                                           : absl::StrFormat("step %d", rung_step));
}

MedianStopper::MedianStopper(int64_t min_steps, int min_trials, v1::Goal goal,
                             std::string metric_name)
    : min_steps_(min_steps),
      min_trials_(min_trials),
      goal_(goal),
      metric_name_(std::move(metric_name)) {}

std::optional<std::string> MedianStopper::Report(int trial, int64_t step, double value) {
  std::vector<std::pair<int64_t, double>>& own = reports_[trial];
  own.emplace_back(step, value);
  if (step < min_steps_) return std::nullopt;
  double best = own.front().second;
  for (const auto& report : own) {
    if (IsBetter(report.second, best, goal_)) best = report.second;
  }
  std::vector<double> running_means;
  for (const auto& [other, reports] : reports_) {
    if (other == trial || reports.back().first < step) continue;
    double sum = 0;
    int count = 0;
    for (const auto& [other_step, other_value] : reports) {
      if (other_step > step) break;
      sum += other_value;
      ++count;
    }
    if (count > 0 && !std::isnan(sum)) running_means.push_back(sum / count);
  }
  if (static_cast<int>(running_means.size()) < min_trials_) return std::nullopt;
  const double median = Median(running_means);
  if (!IsBetter(median, best, goal_)) return std::nullopt;
  return absl::StrFormat(
      "stopped at step %d: its best %s so far, %.4g, is %s the median %.4g of the running means "
      "of %d other trials at that step",
      step, metric_name_, best, WorseWord(goal_), median, running_means.size());
}

}  // namespace descent::server
