// Prometheus metrics of descentd: job, training, stream and gRPC families, process
// metrics and build info, all registered once at construction. Counters count what happened
// in this process (they start from zero at every start, as Prometheus expects); the job
// counters and gauges keep one identity in every scrape:
//   submitted + recovered == finished + running + queued
// where recovered counts the unfinished jobs loaded from the job store at start.
#ifndef DESCENT_SERVER_OBSERVABILITY_METRICS_H_
#define DESCENT_SERVER_OBSERVABILITY_METRICS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_interceptor.h"
#include "prometheus/metric_family.h"
#include "server/jobs/job_events.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace descent::server {

class MetricsHttpServer;
class SweepEventListener;

class ServiceMetrics : public JobEventListener {
 public:
  // Registers every metric family in a fresh registry.
  ServiceMetrics();
  ~ServiceMetrics() override;

  // Interceptors that count and time every RPC by method and code, server-streaming kept
  // apart from unary. Register with ServerBuilder::experimental().SetInterceptorCreators.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeInterceptorFactory();

  // Serves /metrics on `address` (host:port; port 0 picks one) over HTTP (see
  // metrics_http_server.h). INVALID_ARGUMENT for a malformed address, UNAVAILABLE if it cannot
  // bind; FAILED_PRECONDITION when already serving.
  absl::Status StartExposer(const std::string& address);
  // The bound port once StartExposer succeeded.
  int exposer_port() const;

  // Holds every family except the process_* ones, which are read from /proc at scrape time.
  // Training values in it are brought up to date by Collect(), not by each step.
  std::shared_ptr<prometheus::Registry> registry() const;

  // The sweep metrics (sweep_metrics.h), for the sweep manager to report to; lives as long as
  // this object.
  SweepEventListener* sweep_listener();

  // Everything /metrics serves, up to date as of this call: the registry's families after
  // folding in pending training steps, then the process_* families.
  std::vector<prometheus::MetricFamily> Collect() const;
  // Collect() in the Prometheus text exposition format. /metrics serves this plus the HTTP
  // server's own exposer_* families.
  std::string ScrapeText() const;

  // JobEventListener
  void OnSubmitted(const JobLabels& job) override;
  void OnRecovered(const JobLabels& job, v1::JobState state) override;
  void OnHandedOver(const JobLabels& job, v1::JobState state) override;
  void OnStateChange(const JobLabels& job, v1::JobState from, v1::JobState to,
                     absl::Duration time_in_from) override;
  void OnStep(const JobLabels& job, int64_t step, double loss, int examples,
              absl::Duration step_time, double steps_per_second) override;
  void OnWatchersChanged(int delta) override;
  void OnLossPointsSent(int64_t points) override;
  void OnWatcherFellBehind() override;
  // descent_cluster_jobs{state,runner}, made at each scrape from the latest counts.
  void OnClusterJobs(const std::vector<ClusterJobCount>& counts) override;

 private:
  struct Families;
  std::unique_ptr<Families> families_;
  // Held across each job event's counter and gauge updates and across collecting them, so a
  // scrape never sees a job counted as submitted but not yet as queued (or finished but
  // still running). Job events are rare (never per step); a scrape holds it for
  // microseconds.
  mutable absl::Mutex lifecycle_mu_;
  mutable absl::Mutex cluster_mu_;
  std::optional<std::vector<ClusterJobCount>> cluster_ ABSL_GUARDED_BY(cluster_mu_);
  std::unique_ptr<MetricsHttpServer> exposer_;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_OBSERVABILITY_METRICS_H_
