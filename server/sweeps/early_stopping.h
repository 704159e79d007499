// The rules that stop a sweep's trials early, fed each trial's objective as its epochs end.
// Both are deterministic: the same reports in the same order give the same decisions, so a
// sweep that replays its stored reports after a restart makes no decision differently.
#ifndef DESCENT_SERVER_SWEEPS_EARLY_STOPPING_H_
#define DESCENT_SERVER_SWEEPS_EARLY_STOPPING_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "descent/v1/sweeps.pb.h"

namespace descent::server {

class EarlyStopper {
 public:
  virtual ~EarlyStopper() = default;
  // Trial `trial` reached `value` at the end of an epoch, `step` steps in. Returns why it
  // should stop (one sentence quoting the numbers), or nullopt to let it go on. A trial that
  // was stopped must not report again.
  virtual std::optional<std::string> Report(int trial, int64_t step, double value) = 0;
};

// The spec's rule (sweep_spec.h defaults applied); an unset rule never stops a trial. For a
// spec ValidateSweepSpec accepted.
std::unique_ptr<EarlyStopper> MakeEarlyStopper(const v1::SweepSpec& spec);

// Asynchronous successive halving, stopping variant (Li et al., "A System for Massively
// Parallel Hyperparameter Tuning", 2020; as Ray Tune's AsyncHyperBandScheduler). Rung k sits
// at min_steps · reduction_factor^k steps. A trial's first report at or past a rung is
// recorded at the highest rung it has reached (once per rung); it stops when its value is
// worse than the cutoff of the values recorded there before it: the best
// 1/reduction_factor of them, as a linearly interpolated quantile. The first trial at a rung
// always continues; so does one equal to the cutoff. NaN is worse than any number.
class AshaStopper : public EarlyStopper {
 public:
  AshaStopper(int64_t min_steps, double reduction_factor, v1::Goal goal, std::string metric_name);
  std::optional<std::string> Report(int trial, int64_t step, double value) override;

 private:
  const int64_t min_steps_;
  const double reduction_factor_;
  const v1::Goal goal_;
  const std::string metric_name_;
  std::map<int, std::vector<std::pair<int, double>>> rungs_;  // rung index -> (trial, value)
};

// The median stopping rule (Golovin et al., "Google Vizier", 2017). From min_steps on, a
// trial stops at a report when its best value so far is worse than the median of the other
// trials' running means up to that step, counting the trials that reported at that step or
// later (at least min_trials of them; fewer: it continues).
class MedianStopper : public EarlyStopper {
 public:
  MedianStopper(int64_t min_steps, int min_trials, v1::Goal goal, std::string metric_name);
  std::optional<std::string> Report(int trial, int64_t step, double value) override;

 private:
  const int64_t min_steps_;
  const int min_trials_;
  const v1::Goal goal_;
  const std::string metric_name_;
  std::map<int, std::vector<std::pair<int64_t, double>>> reports_;  // trial -> (step, value)
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_SWEEPS_EARLY_STOPPING_H_
