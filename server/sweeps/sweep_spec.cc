#include "server/sweeps/sweep_spec.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "server/sweeps/parameter_paths.h"

namespace descent::server {
namespace {

absl::Status CheckObjective(const v1::SweepSpec& spec) {
  const v1::ObjectiveMetric metric = MetricOf(spec.objective());
  const v1::JobSpec& base = spec.base();
  const bool validation = metric == v1::VALIDATION_LOSS || metric == v1::VALIDATION_ACCURACY ||
                          metric == v1::VALIDATION_R2;
  if (validation && !(base.training().validation_fraction() > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "objective.metric ", v1::ObjectiveMetric_Name(metric),
        " needs a validation split: set base.training.validationFraction (e.g. 0.2), or use ",
        metric == v1::VALIDATION_LOSS ? "TRAIN_LOSS" : "a TRAIN_ metric"));
  }
  const bool accuracy = metric == v1::VALIDATION_ACCURACY || metric == v1::TRAIN_ACCURACY;
  if (accuracy && base.loss() == v1::MEAN_SQUARED_ERROR) {
    return absl::InvalidArgumentError(absl::StrCat(
        "objective.metric ", v1::ObjectiveMetric_Name(metric),
        " needs a classifier, and base.loss is MEAN_SQUARED_ERROR; use VALIDATION_LOSS or "
        "VALIDATION_R2"));
  }
  if (metric == v1::VALIDATION_R2 && base.loss() != v1::MEAN_SQUARED_ERROR) {
    return absl::InvalidArgumentError(
        "objective.metric VALIDATION_R2 needs a regression (base.loss MEAN_SQUARED_ERROR); use "
        "VALIDATION_LOSS or VALIDATION_ACCURACY");
  }
  return absl::OkStatus();
}

absl::Status CheckEarlyStopping(const v1::EarlyStoppingRule& rule) {
  if (rule.has_asha()) {
    if (rule.asha().min_steps() <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "earlyStopping.asha.minSteps must be > 0 (got ", rule.asha().min_steps(),
          "); the first rung, e.g. the steps of a few epochs"));
    }
    if (rule.asha().has_reduction_factor() &&
        !(rule.asha().reduction_factor() > 1 && std::isfinite(rule.asha().reduction_factor()))) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "earlyStopping.asha.reductionFactor must be > 1 (got %g); 3 keeps the best third",
          rule.asha().reduction_factor()));
    }
  } else if (rule.has_median()) {
    if (rule.median().min_steps() < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "earlyStopping.median.minSteps must be >= 0 (got ", rule.median().min_steps(), ")"));
    }
    if (rule.median().has_min_trials() && rule.median().min_trials() < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "earlyStopping.median.minTrials must be >= 1 (got ", rule.median().min_trials(), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSweepSpec(const v1::SweepSpec& spec) {
  if (spec.name().size() > 128) {
    return absl::InvalidArgumentError(
        absl::StrCat("name is ", spec.name().size(), " characters; at most 128"));
  }
  if (!spec.base().group().empty()) {
    return absl::InvalidArgumentError(
        "base.group must be empty: the sweep sets every trial's group to its id");
  }
  if (spec.base().has_lr_find()) {
    return absl::InvalidArgumentError(
        "base.lrFind must be unset: a sweep's trials are training runs; run descent lr-find "
        "first and sweep around its suggestion");
  }
  if (spec.parameters().empty()) {
    return absl::InvalidArgumentError(
        "parameters is empty; name at least one field to vary, e.g. {\"path\": "
        "\"optimizer.adam.learningRate\", \"logUniform\": {\"min\": 1e-4, \"max\": 0.1}}");
  }
  if (spec.parameters_size() > kMaxSweepParameters) {
    return absl::InvalidArgumentError(absl::StrCat("parameters has ", spec.parameters_size(),
                                                   " entries; at most ", kMaxSweepParameters));
  }
  for (int i = 0; i < spec.parameters_size(); ++i) {
    RETURN_IF_ERROR(CheckParameterDomain(spec.parameters(i), absl::StrCat("parameters[", i, "]")));
  }
  if (spec.trials() < 0 || spec.trials() > kMaxSweepTrials) {
    return absl::InvalidArgumentError(absl::StrCat("trials must be 0 .. ", kMaxSweepTrials,
                                                   " (got ", spec.trials(), ")"));
  }
  if (spec.max_concurrent_trials() < 0 || spec.max_concurrent_trials() > kMaxConcurrentTrialsLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("maxConcurrentTrials must be 0 .. ", kMaxConcurrentTrialsLimit, " (got ",
                     spec.max_concurrent_trials(), "); 0 means ", kDefaultMaxConcurrentTrials));
  }
  RETURN_IF_ERROR(CheckObjective(spec));
  return CheckEarlyStopping(spec.early_stopping());
}

v1::ObjectiveMetric MetricOf(const v1::Objective& objective) {
  return objective.metric() == v1::OBJECTIVE_METRIC_UNSPECIFIED ? v1::VALIDATION_LOSS
                                                                  : objective.metric();
}

v1::Goal GoalOf(const v1::Objective& objective) {
  if (objective.goal() != v1::GOAL_UNSPECIFIED) return objective.goal();
  const v1::ObjectiveMetric metric = MetricOf(objective);
  return metric == v1::VALIDATION_LOSS || metric == v1::TRAIN_LOSS ? v1::MINIMIZE : v1::MAXIMIZE;
}

int MaxConcurrentTrials(const v1::SweepSpec& spec) {
  return spec.max_concurrent_trials() > 0 ? spec.max_concurrent_trials()
                                          : kDefaultMaxConcurrentTrials;
}

std::string MetricName(v1::ObjectiveMetric metric) {
  switch (metric) {
    case v1::TRAIN_LOSS:
      return "train loss";
    case v1::VALIDATION_ACCURACY:
      return "validation accuracy";
    case v1::TRAIN_ACCURACY:
      return "train accuracy";
    case v1::VALIDATION_R2:
      return "validation R²";
    default:
      return "validation loss";
  }
}

bool IsBetter(double a, double b, v1::Goal goal) {
  if (std::isnan(a)) return false;
  if (std::isnan(b)) return true;
  return goal == v1::MAXIMIZE ? a > b : a < b;
}

}  // namespace descent::server
