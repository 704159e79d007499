// The standard process_* metrics (as the official Prometheus clients export them), read
// from /proc/self at scrape time: CPU seconds, resident and virtual memory, open and
// maximum file descriptors, start time.
#ifndef DESCENT_SERVER_OBSERVABILITY_PROCESS_METRICS_H_
#define DESCENT_SERVER_OBSERVABILITY_PROCESS_METRICS_H_

#include <vector>

#include "prometheus/metric_family.h"

namespace descent::server {

// Every family is always present (the family list never changes between scrapes); a value
// that /proc cannot provide on this system is reported as 0 rather than dropped, so
// dashboards and alerts never see a family appear or vanish.
std::vector<prometheus::MetricFamily> CollectProcessMetrics();

}  // namespace descent::server

#endif  // DESCENT_SERVER_OBSERVABILITY_PROCESS_METRICS_H_
