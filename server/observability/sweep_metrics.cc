#include "server/observability/sweep_metrics.h"

#include "absl/strings/ascii.h"

namespace descent::server {
namespace {

// "succeeded" for TRIAL_SUCCEEDED, as the job state labels are lower case.
std::string StateLabel(v1::TrialState state) {
  const std::string& name = v1::TrialState_Name(state);
  return absl::AsciiStrToLower(name.rfind("TRIAL_", 0) == 0 ? name.substr(6) : name);
}

}  // namespace

SweepMetrics::SweepMetrics(prometheus::Registry& registry)
    : trials_(prometheus::BuildGauge()
                  .Name("descent_sweep_trials")
                  .Help("Trials of each sweep by state (pending, running, succeeded, stopped, "
                        "failed, cancelled).")
                  .Register(registry)),
      stopped_total_(prometheus::BuildCounter()
                         .Name("descent_sweep_trials_stopped_total")
                         .Help("Sweep trials stopped early by their sweep's rule (ASHA, median).")
                         .Register(registry)
                         .Add({})),
      best_objective_(prometheus::BuildGauge()
                          .Name("descent_sweep_best_objective")
                          .Help("The objective of each sweep's best trial (the best final value "
                                "among the trials that ran to their end).")
                          .Register(registry)) {}

void SweepMetrics::OnSweepChanged(const SweepTally& tally) {
  absl::MutexLock lock(&mu_);
  for (int state = v1::TRIAL_PENDING; state <= v1::TRIAL_CANCELLED; ++state) {
    trials_.Add({{"sweep_id", tally.sweep_id}, {"state", StateLabel(v1::TrialState(state))}})
        .Set(tally.trials_by_state[state]);
  }
  int& counted = stopped_counted_[tally.sweep_id];
  const int stopped = tally.trials_by_state[v1::TRIAL_STOPPED];
  if (stopped > counted) stopped_total_.Increment(stopped - counted);
  counted = std::max(counted, stopped);
  if (tally.best_objective.has_value()) {
    best_objective_
        .Add({{"sweep_id", tally.sweep_id},
              {"metric", absl::AsciiStrToLower(v1::ObjectiveMetric_Name(tally.metric))}})
        .Set(*tally.best_objective);
  }
}

}  // namespace descent::server
