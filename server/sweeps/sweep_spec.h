// What a sweep file must hold, and the defaults its unset fields take.
#ifndef DESCENT_SERVER_SWEEPS_SWEEP_SPEC_H_
#define DESCENT_SERVER_SWEEPS_SWEEP_SPEC_H_

#include <string>

#include "absl/status/status.h"
#include "descent/v1/sweeps.pb.h"

namespace descent::server {

inline constexpr int kMaxSweepTrials = 1000;
inline constexpr int kMaxSweepParameters = 32;
inline constexpr int kDefaultMaxConcurrentTrials = 4;
inline constexpr int kMaxConcurrentTrialsLimit = 64;
inline constexpr double kDefaultReductionFactor = 3.0;
inline constexpr int kDefaultMedianMinTrials = 3;

// Checks everything a sweep file can get wrong without sampling it: the name, the base's
// group (the sweep sets it), every parameter's path and domain, trials and concurrency, the
// objective against the base (a validation metric needs training.validationFraction > 0,
// accuracy a classifier's loss, R² a regression) and the early-stopping rule's numbers.
// INVALID_ARGUMENT naming the field (e.g. "parameters[1].uniform") and the fix. The base
// itself is checked per trial, once sampled (trial_sampling.h), as SubmitJob checks a job.
absl::Status ValidateSweepSpec(const v1::SweepSpec& spec);

v1::ObjectiveMetric MetricOf(const v1::Objective& objective);  // unset: VALIDATION_LOSS
v1::Goal GoalOf(const v1::Objective& objective);  // unset: the metric's own
int MaxConcurrentTrials(const v1::SweepSpec& spec);  // unset: kDefaultMaxConcurrentTrials

// "validation loss", "train accuracy", ...: how reasons and tables name the metric.
std::string MetricName(v1::ObjectiveMetric metric);

// a is better than b for `goal` (NaN is never better, and anything finite beats it).
bool IsBetter(double a, double b, v1::Goal goal);

}  // namespace descent::server

#endif  // DESCENT_SERVER_SWEEPS_SWEEP_SPEC_H_
