// Sweep metrics: every sweep's trials by state, the trials early stopping ended, and each
// sweep's best objective so far (sweeps/sweep_events.h tells of them).
#ifndef DESCENT_SERVER_OBSERVABILITY_SWEEP_METRICS_H_
#define DESCENT_SERVER_OBSERVABILITY_SWEEP_METRICS_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "server/sweeps/sweep_events.h"

namespace descent::server {

class SweepMetrics : public SweepEventListener {
 public:
  // Registers the families in `registry`, which must outlive this object:
  //   descent_sweep_trials{sweep_id, state}        gauge, trials of the sweep in that state
  //   descent_sweep_trials_stopped_total           counter, trials early stopping ended
  //   descent_sweep_best_objective{sweep_id, metric} gauge, the best trial's final objective
  explicit SweepMetrics(prometheus::Registry& registry);

  void OnSweepChanged(const SweepTally& tally) override;

 private:
  absl::Mutex mu_;
  prometheus::Family<prometheus::Gauge>& trials_;
  prometheus::Counter& stopped_total_;
  prometheus::Family<prometheus::Gauge>& best_objective_;
  // Per sweep, the stopped trials already counted.
  absl::flat_hash_map<std::string, int> stopped_counted_ ABSL_GUARDED_BY(mu_);
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_OBSERVABILITY_SWEEP_METRICS_H_
