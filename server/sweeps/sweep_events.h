// What the sweep manager tells observers (Prometheus metrics) about sweeps, so that
// observability stays out of the sweep logic, as job_events.h does for jobs. Calls arrive
// with the sweep manager's lock held: implementations must be cheap and thread-safe and must
// never call back into the sweep manager.
#ifndef DESCENT_SERVER_SWEEPS_SWEEP_EVENTS_H_
#define DESCENT_SERVER_SWEEPS_SWEEP_EVENTS_H_

#include <array>
#include <optional>
#include <string>

#include "descent/v1/sweeps.pb.h"

namespace descent::server {

// One sweep's trials as of now.
struct SweepTally {
  std::string sweep_id;
  v1::ObjectiveMetric metric = v1::VALIDATION_LOSS;
  // Trials by TrialState (index: the enum's value; TRIAL_STATE_UNSPECIFIED stays 0).
  std::array<int, 7> trials_by_state{};
  // The best trial's final objective, once a trial ran to its end.
  std::optional<double> best_objective;
};

class SweepEventListener {
 public:
  virtual ~SweepEventListener() = default;
  // A sweep was created, or one of its trials changed state or it named a new best trial.
  virtual void OnSweepChanged(const SweepTally& /*tally*/) {}
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_SWEEPS_SWEEP_EVENTS_H_
