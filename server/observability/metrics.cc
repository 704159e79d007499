#include "server/observability/metrics.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "descent/v1/training.grpc.pb.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "server/observability/grpc_metrics_interceptor.h"
#include "server/observability/metrics_http_server.h"
#include "server/observability/process_metrics.h"
#include "server/observability/sweep_metrics.h"
#include "server/observability/training_metrics.h"

#ifndef DESCENT_VERSION
#define DESCENT_VERSION "unknown"
#endif
#ifndef DESCENT_GIT_COMMIT
#define DESCENT_GIT_COMMIT "unknown"
#endif

namespace descent::server {
namespace {

// Seconds a job waits in the queue: immediate to hours behind a long queue.
const prometheus::Histogram::BucketBoundaries kQueueWaitBuckets = {
    0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600};
// Seconds a job runs: a tiny job finishes in well under a second, a large one in hours.
const prometheus::Histogram::BucketBoundaries kJobDurationBuckets = {
    0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400};

// The identity the job counters keep, in every scrape (ServiceMetrics::lifecycle_mu_).
constexpr char kJobIdentity[] =
    " In every scrape: sum(descent_jobs_submitted_total) + sum(descent_jobs_recovered_total) "
    "== sum(descent_jobs_finished_total) + descent_jobs_handed_over_total + descent_jobs_running "
    "+ descent_jobs_queued.";

// The terminal states, as values of the `state` label (a fixed, bounded set).
const char* TerminalStateLabel(v1::JobState state) {
  switch (state) {
    case v1::SUCCEEDED:
      return "succeeded";
    case v1::FAILED:
      return "failed";
    case v1::CANCELLED:
      return "cancelled";
    default:
      return nullptr;
  }
}

}  // namespace

struct ServiceMetrics::Families {
  Families()
      : registry(std::make_shared<prometheus::Registry>()),
        submitted(
            prometheus::BuildCounter()
                .Name("descent_jobs_submitted_total")
                .Help(absl::StrCat("Jobs accepted by SubmitJob in this process (idempotent retries "
                                   "not counted).",
                                   kJobIdentity))
                .Register(*registry)
                .Add({})),
        recovered(prometheus::BuildCounter()
                      .Name("descent_jobs_recovered_total")
                      .Help(absl::StrCat(
                          "Unfinished jobs this process loaded from the job store at start, "
                          "by the state they were stored in: queued (queued again) or running "
                          "(resumed from their last checkpoint).",
                          kJobIdentity))
                      .Register(*registry)),
        finished(prometheus::BuildCounter()
                     .Name("descent_jobs_finished_total")
                     .Help(absl::StrCat(
                         "Jobs submitted or recovered in this process that reached a terminal "
                         "state, by state (succeeded, failed, cancelled).",
                         kJobIdentity))
                     .Register(*registry)),
        handed_over(prometheus::BuildCounter()
                        .Name("descent_jobs_handed_over_total")
                        .Help(absl::StrCat(
                            "Queued or running jobs of this process that another replica "
                            "sharing the job store took over (it claimed them, or this "
                            "process lost their lease).",
                            kJobIdentity))
                        .Register(*registry)
                        .Add({})),
        queued(prometheus::BuildGauge()
                   .Name("descent_jobs_queued")
                   .Help("Jobs waiting in the queue for a worker.")
                   .Register(*registry)
                   .Add({})),
        running(prometheus::BuildGauge()
                    .Name("descent_jobs_running")
                    .Help("Jobs training right now (with a job store, also the jobs a shutdown "
                          "left to resume at the next start, until the process exits).")
                    .Register(*registry)
                    .Add({})),
        job_duration(prometheus::BuildHistogram()
                         .Name("descent_job_duration_seconds")
                         .Help("Time jobs spent running, from start to terminal state, by "
                               "terminal state. Jobs cancelled while queued are not included.")
                         .Register(*registry)),
        queue_wait(prometheus::BuildHistogram()
                       .Name("descent_job_queue_wait_seconds")
                       .Help("Time jobs waited in the queue before they started running.")
                       .Register(*registry)
                       .Add({}, kQueueWaitBuckets)),
        training(*registry),
        watchers(prometheus::BuildGauge()
                     .Name("descent_watchers_active")
                     .Help("Open WatchJob streams.")
                     .Register(*registry)
                     .Add({})),
        loss_points_sent(prometheus::BuildCounter()
                             .Name("descent_watch_loss_points_sent_total")
                             .Help("Loss points written to WatchJob streams, over all watchers.")
                             .Register(*registry)
                             .Add({})),
        fell_behind(prometheus::BuildCounter()
                        .Name("descent_watchers_fell_behind_total")
                        .Help("Times a watcher of a running job fell more than 100,000 steps "
                              "behind and was served from the store.")
                        .Register(*registry)
                        .Add({})),
        grpc(*registry, {v1::TrainingService::service_full_name()}),
        sweeps(*registry) {
    recovered_queued = &recovered.Add({{"state", "queued"}});
    recovered_running = &recovered.Add({{"state", "running"}});
    for (v1::JobState state : {v1::SUCCEEDED, v1::FAILED, v1::CANCELLED}) {
      // Created up front so rate() and increase() see every outcome from zero.
      const prometheus::Labels labels = {{"state", TerminalStateLabel(state)}};
      finished_by_state[state] = &finished.Add(labels);
      job_duration_by_state[state] = &job_duration.Add(labels, kJobDurationBuckets);
    }
    prometheus::BuildGauge()
        .Name("descent_build_info")
        .Help("Always 1; labelled with the version and git commit descentd was built from.")
        .Register(*registry)
        .Add({{"version", DESCENT_VERSION}, {"git_commit", DESCENT_GIT_COMMIT}})
        .Set(1);
  }

  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Counter& submitted;
  prometheus::Family<prometheus::Counter>& recovered;
  prometheus::Counter* recovered_queued = nullptr;
  prometheus::Counter* recovered_running = nullptr;
  prometheus::Family<prometheus::Counter>& finished;
  prometheus::Counter& handed_over;
  prometheus::Gauge& queued;
  prometheus::Gauge& running;
  prometheus::Family<prometheus::Histogram>& job_duration;
  prometheus::Histogram& queue_wait;
  // Indexed by terminal v1::JobState; set for SUCCEEDED, FAILED and CANCELLED only.
  prometheus::Counter* finished_by_state[v1::JobState_ARRAYSIZE] = {};
  prometheus::Histogram* job_duration_by_state[v1::JobState_ARRAYSIZE] = {};
  TrainingMetrics training;
  prometheus::Gauge& watchers;
  prometheus::Counter& loss_points_sent;
  prometheus::Counter& fell_behind;
  GrpcServerMetrics grpc;
  SweepMetrics sweeps;
};

ServiceMetrics::ServiceMetrics() : families_(std::make_unique<Families>()) {}

SweepEventListener* ServiceMetrics::sweep_listener() { return &families_->sweeps; }

ServiceMetrics::~ServiceMetrics() {
  // Stop serving before the families go away: a scrape may be in flight.
  exposer_.reset();
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
ServiceMetrics::MakeInterceptorFactory() {
  return families_->grpc.MakeInterceptorFactory();
}

absl::Status ServiceMetrics::StartExposer(const std::string& address) {
  if (exposer_ != nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("metrics exposer already serves on port ", exposer_port()));
  }
  // Every scrape first folds in pending training steps and reads /proc.
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
      MetricsHttpServer::Start(address, [this] { return Collect(); });
  if (!server.ok()) {
    const bool busy = absl::IsUnavailable(server.status());
    return absl::Status(server.status().code(),
                        absl::StrCat("--metrics-listen: ", server.status().message(),
                                     busy ? "; use a free host:port, or port 0 to pick one" : ""));
  }
  exposer_ = *std::move(server);
  return absl::OkStatus();
}

int ServiceMetrics::exposer_port() const { return exposer_ == nullptr ? 0 : exposer_->port(); }

std::shared_ptr<prometheus::Registry> ServiceMetrics::registry() const {
  return families_->registry;
}

std::vector<prometheus::MetricFamily> ServiceMetrics::Collect() const {
  families_->training.Flush();
  std::vector<prometheus::MetricFamily> families;
  {
    // Between two job events, so the job counters and gauges add up (kJobIdentity).
    absl::MutexLock lock(&lifecycle_mu_);
    families = families_->registry->Collect();
  }
  for (prometheus::MetricFamily& family : CollectProcessMetrics()) {
    families.push_back(std::move(family));
  }
  absl::MutexLock lock(&cluster_mu_);
  if (cluster_) {
    prometheus::MetricFamily& cluster = families.emplace_back();
    cluster.name = "descent_cluster_jobs";
    cluster.help =
        "unfinished jobs of all the replicas sharing the PostgreSQL store, by state and by the "
        "replica that runs them (runner=\"\": queued, not claimed yet), as the store counted "
        "them at most 5 s ago; every replica exports the same values";
    cluster.type = prometheus::MetricType::Gauge;
    for (const ClusterJobCount& count : *cluster_) {
      prometheus::ClientMetric& metric = cluster.metric.emplace_back();
      metric.label = {{"state", absl::AsciiStrToLower(v1::JobState_Name(count.state))},
                      {"runner", count.runner}};
      metric.gauge.value = static_cast<double>(count.jobs);
    }
  }
  return families;
}

void ServiceMetrics::OnClusterJobs(const std::vector<ClusterJobCount>& counts) {
  absl::MutexLock lock(&cluster_mu_);
  cluster_ = counts;
}

std::string ServiceMetrics::ScrapeText() const {
  return prometheus::TextSerializer().Serialize(Collect());
}

void ServiceMetrics::OnSubmitted(const JobLabels& /*job*/) {
  absl::MutexLock lock(&lifecycle_mu_);
  families_->submitted.Increment();
  families_->queued.Increment();
}

void ServiceMetrics::OnHandedOver(const JobLabels& job, v1::JobState state) {
  Families& f = *families_;
  absl::MutexLock lock(&lifecycle_mu_);
  f.handed_over.Increment();
  if (state == v1::QUEUED) f.queued.Decrement();
  if (state == v1::RUNNING) {
    f.running.Decrement();
    f.training.OnJobEnded(job);
  }
}

void ServiceMetrics::OnRecovered(const JobLabels& job, v1::JobState state) {
  Families& f = *families_;
  absl::MutexLock lock(&lifecycle_mu_);
  if (state == v1::QUEUED) {
    f.recovered_queued->Increment();
    f.queued.Increment();
  }
  if (state == v1::RUNNING) {
    f.recovered_running->Increment();
    f.running.Increment();
    f.training.OnJobStarted(job);
  }
}

void ServiceMetrics::OnStateChange(const JobLabels& job, v1::JobState from, v1::JobState to,
                                   absl::Duration time_in_from) {
  Families& f = *families_;
  absl::MutexLock lock(&lifecycle_mu_);
  const double seconds = absl::ToDoubleSeconds(time_in_from);
  if (from == v1::QUEUED) {
    f.queued.Decrement();
    if (to == v1::RUNNING) f.queue_wait.Observe(seconds);
  }
  // A job put back in the queue (not a new submission, which OnSubmitted counted).
  if (to == v1::QUEUED && from != v1::QUEUED && from != v1::JOB_STATE_UNSPECIFIED) {
    f.queued.Increment();
  }
  if (to == v1::RUNNING && from != v1::RUNNING) {
    f.running.Increment();
    f.training.OnJobStarted(job);
  }
  if (from == v1::RUNNING && to != v1::RUNNING) {
    f.running.Decrement();
    f.training.OnJobEnded(job);
    if (TerminalStateLabel(to) != nullptr) f.job_duration_by_state[to]->Observe(seconds);
  }
  if (TerminalStateLabel(to) != nullptr && TerminalStateLabel(from) == nullptr) {
    f.finished_by_state[to]->Increment();
  }
}

void ServiceMetrics::OnStep(const JobLabels& job, int64_t step, double loss, int examples,
                            absl::Duration step_time, double steps_per_second) {
  families_->training.OnStep(job, step, loss, examples, step_time, steps_per_second);
}

void ServiceMetrics::OnWatchersChanged(int delta) { families_->watchers.Increment(delta); }

void ServiceMetrics::OnLossPointsSent(int64_t points) {
  families_->loss_points_sent.Increment(static_cast<double>(points));
}

void ServiceMetrics::OnWatcherFellBehind() { families_->fell_behind.Increment(); }

}  // namespace descent::server
