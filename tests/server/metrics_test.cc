#include "server/observability/metrics.h"

#include <unistd.h>

#include <cmath>
#include <ctime>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "descent/v1/training.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "prometheus/metric_family.h"
#include "server/observability/grpc_metrics_interceptor.h"
#include "server/observability/training_metrics.h"
#include "server/sweeps/sweep_events.h"
#include "tests/testing/http_get.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::testing::StatusIs;
using ::testing::HasSubstr;
using MetricFamilies = std::vector<prometheus::MetricFamily>;
using LabelMap = std::map<std::string, std::string>;

const prometheus::MetricFamily* FindFamily(const MetricFamilies& families,
                                           const std::string& name) {
  for (const prometheus::MetricFamily& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

LabelMap LabelsOf(const prometheus::ClientMetric& metric) {
  LabelMap labels;
  for (const auto& label : metric.label) labels[label.name] = label.value;
  return labels;
}

// The series of `name` whose labels include `labels`; fails the test unless exactly one.
const prometheus::ClientMetric* FindSeries(const MetricFamilies& families, const std::string& name,
                                           const LabelMap& labels = {}) {
  const prometheus::MetricFamily* family = FindFamily(families, name);
  if (family == nullptr) {
    ADD_FAILURE() << "no family " << name;
    return nullptr;
  }
  const prometheus::ClientMetric* found = nullptr;
  for (const prometheus::ClientMetric& metric : family->metric) {
    const LabelMap have = LabelsOf(metric);
    bool match = true;
    for (const auto& [key, value] : labels) {
      auto it = have.find(key);
      match = match && it != have.end() && it->second == value;
    }
    if (!match) continue;
    if (found != nullptr) ADD_FAILURE() << "several series of " << name << " match";
    found = &metric;
  }
  if (found == nullptr) ADD_FAILURE() << "no series of " << name << " with the labels";
  return found;
}

size_t SeriesCount(const MetricFamilies& families, const std::string& name) {
  const prometheus::MetricFamily* family = FindFamily(families, name);
  return family == nullptr ? 0 : family->metric.size();
}

double CounterValue(const MetricFamilies& families, const std::string& name,
                    const LabelMap& labels = {}) {
  const prometheus::ClientMetric* metric = FindSeries(families, name, labels);
  return metric == nullptr ? NAN : metric->counter.value;
}

double GaugeValue(const MetricFamilies& families, const std::string& name,
                  const LabelMap& labels = {}) {
  const prometheus::ClientMetric* metric = FindSeries(families, name, labels);
  return metric == nullptr ? NAN : metric->gauge.value;
}

uint64_t HistogramCount(const MetricFamilies& families, const std::string& name,
                        const LabelMap& labels = {}) {
  const prometheus::ClientMetric* metric = FindSeries(families, name, labels);
  return metric == nullptr ? 0 : metric->histogram.sample_count;
}

// Observations over every series of histogram family `name`.
uint64_t TotalObservations(const MetricFamilies& families, const std::string& name) {
  const prometheus::MetricFamily* family = FindFamily(families, name);
  uint64_t total = 0;
  if (family == nullptr) return total;
  for (const prometheus::ClientMetric& series : family->metric) {
    total += series.histogram.sample_count;
  }
  return total;
}

constexpr v1::JobState kQueued = v1::QUEUED;
constexpr v1::JobState kRunning = v1::RUNNING;

const JobLabels kJobA{"job-a", "house prices"};
const JobLabels kJobB{"job-b", "spirals"};

// Runs `job` through QUEUED -> RUNNING on `metrics`.
void StartJob(ServiceMetrics& metrics, const JobLabels& job) {
  metrics.OnSubmitted(job);
  metrics.OnStateChange(job, v1::JOB_STATE_UNSPECIFIED, kQueued, absl::ZeroDuration());
  metrics.OnStateChange(job, kQueued, kRunning, absl::Milliseconds(20));
}

// Families whose series exist only while a job runs; prometheus-cpp leaves a family with
// no series out of the exposition.
const std::set<std::string> kRunningJobFamilies = {"descent_job_loss", "descent_job_step",
                                                   "descent_job_steps_per_second"};

// Families whose series exist only once a sweep was reported.
const std::set<std::string> kSweepFamilies = {"descent_sweep_trials",
                                              "descent_sweep_best_objective"};

// A sweep of five trials: one running, two stopped early, two that ran to the end.
SweepTally SweepOfFive() {
  SweepTally tally;
  tally.sweep_id = "sweep-0123456789ab";
  tally.trials_by_state[v1::TRIAL_RUNNING] = 1;
  tally.trials_by_state[v1::TRIAL_STOPPED] = 2;
  tally.trials_by_state[v1::TRIAL_SUCCEEDED] = 2;
  tally.best_objective = 0.25;
  return tally;
}

const std::set<std::string> kAllFamilies = {
    "descent_jobs_submitted_total",
    "descent_jobs_recovered_total",
    "descent_jobs_finished_total",
    "descent_jobs_handed_over_total",
    "descent_jobs_queued",
    "descent_jobs_running",
    "descent_job_duration_seconds",
    "descent_job_queue_wait_seconds",
    "descent_training_steps_total",
    "descent_training_examples_total",
    "descent_training_step_duration_seconds",
    "descent_job_loss",
    "descent_job_step",
    "descent_job_steps_per_second",
    "descent_watchers_active",
    "descent_watch_loss_points_sent_total",
    "descent_watchers_fell_behind_total",
    "descent_grpc_server_started_total",
    "descent_grpc_server_handled_total",
    "descent_grpc_server_handling_seconds",
    "descent_grpc_server_stream_duration_seconds",
    "descent_build_info",
    "descent_sweep_trials",
    "descent_sweep_trials_stopped_total",
    "descent_sweep_best_objective",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
};

// The family names of `families`; fails the test on a duplicate or a missing HELP.
std::set<std::string> FamilyNames(const MetricFamilies& families) {
  std::set<std::string> names;
  for (const prometheus::MetricFamily& family : families) {
    EXPECT_TRUE(names.insert(family.name).second) << family.name << " collected twice";
    EXPECT_FALSE(family.help.empty()) << family.name << " has no HELP";
  }
  return names;
}

TEST(ServiceMetricsTest, EveryFamilyIsRegisteredOnceWithHelp) {
  ServiceMetrics metrics;
  std::set<std::string> idle_expected;
  for (const std::string& name : kAllFamilies) {
    if (!kRunningJobFamilies.count(name) && !kSweepFamilies.count(name)) {
      idle_expected.insert(name);
    }
  }
  EXPECT_EQ(FamilyNames(metrics.Collect()), idle_expected);

  StartJob(metrics, kJobA);
  metrics.OnStep(kJobA, 1, 0.5, 32, absl::Microseconds(10), 1000);
  metrics.sweep_listener()->OnSweepChanged(SweepOfFive());
  EXPECT_EQ(FamilyNames(metrics.Collect()), kAllFamilies);
  EXPECT_EQ(FamilyNames(metrics.Collect()), kAllFamilies);  // collecting adds nothing
}

// A job another replica takes over leaves this process's gauges and its per-job series, so
// the counters still add up: submitted + recovered == finished + handed over + running + queued.
TEST(ServiceMetricsTest, AHandedOverJobLeavesTheGaugesAndIsCounted) {
  ServiceMetrics metrics;
  StartJob(metrics, kJobA);
  metrics.OnStep(kJobA, 1, 0.5, 32, absl::Microseconds(10), 1000);
  metrics.OnSubmitted(kJobB);
  metrics.OnHandedOver(kJobA, kRunning);
  metrics.OnHandedOver(kJobB, kQueued);
  const MetricFamilies families = metrics.Collect();
  EXPECT_EQ(CounterValue(families, "descent_jobs_handed_over_total"), 2);
  EXPECT_EQ(GaugeValue(families, "descent_jobs_running"), 0);
  EXPECT_EQ(GaugeValue(families, "descent_jobs_queued"), 0);
  EXPECT_EQ(FamilyNames(families).count("descent_job_step"), 0u);  // its only series went
  EXPECT_EQ(CounterValue(families, "descent_jobs_submitted_total"), 2);
}

TEST(ServiceMetricsTest, SweepsReportTrialsByStateStoppedTrialsOnceAndTheBestObjective) {
  ServiceMetrics metrics;
  SweepTally tally = SweepOfFive();
  metrics.sweep_listener()->OnSweepChanged(tally);
  metrics.sweep_listener()->OnSweepChanged(tally);  // the same sweep again: nothing new stopped
  MetricFamilies families = metrics.Collect();
  const LabelMap sweep = {{"sweep_id", tally.sweep_id}};
  auto with_state = [&](const std::string& state) {
    LabelMap labels = sweep;
    labels["state"] = state;
    return labels;
  };
  EXPECT_EQ(GaugeValue(families, "descent_sweep_trials", with_state("running")), 1);
  EXPECT_EQ(GaugeValue(families, "descent_sweep_trials", with_state("stopped")), 2);
  EXPECT_EQ(GaugeValue(families, "descent_sweep_trials", with_state("pending")), 0);
  EXPECT_EQ(CounterValue(families, "descent_sweep_trials_stopped_total"), 2);
  LabelMap best = sweep;
  best["metric"] = "validation_loss";
  EXPECT_EQ(GaugeValue(families, "descent_sweep_best_objective", best), 0.25);

  tally.trials_by_state[v1::TRIAL_RUNNING] = 0;
  tally.trials_by_state[v1::TRIAL_STOPPED] = 3;
  tally.best_objective = 0.2;
  metrics.sweep_listener()->OnSweepChanged(tally);
  families = metrics.Collect();
  EXPECT_EQ(GaugeValue(families, "descent_sweep_trials", with_state("running")), 0);
  EXPECT_EQ(CounterValue(families, "descent_sweep_trials_stopped_total"), 3);
  EXPECT_EQ(GaugeValue(families, "descent_sweep_best_objective", best), 0.2);
}

TEST(ServiceMetricsTest, EveryTrainingServiceMethodStartsAtZero) {
  ServiceMetrics metrics;
  const MetricFamilies families = metrics.Collect();
  for (const char* method :
       {"SubmitJob", "GetJob", "ListJobs", "CancelJob", "ExportModel", "Predict"}) {
    const LabelMap labels = {{"grpc_method", method}, {"grpc_type", "unary"}};
    EXPECT_EQ(CounterValue(families, "descent_grpc_server_started_total", labels), 0) << method;
    EXPECT_EQ(HistogramCount(families, "descent_grpc_server_handling_seconds", labels), 0u);
  }
  EXPECT_EQ(CounterValue(families, "descent_grpc_server_handled_total",
                         {{"grpc_method", "WatchJob"}, {"grpc_code", "OK"}}),
            0);
  EXPECT_EQ(HistogramCount(families, "descent_grpc_server_stream_duration_seconds",
                           {{"grpc_method", "WatchJob"}, {"grpc_type", "server_stream"}}),
            0u);
}

TEST(ServiceMetricsTest, InstancesHaveSeparateRegistries) {
  ServiceMetrics first;
  ServiceMetrics second;
  EXPECT_NE(first.registry(), second.registry());
  first.OnSubmitted(kJobA);
  EXPECT_EQ(CounterValue(first.Collect(), "descent_jobs_submitted_total"), 1);
  EXPECT_EQ(CounterValue(second.Collect(), "descent_jobs_submitted_total"), 0);
}

TEST(ServiceMetricsTest, BuildInfoCarriesVersionAndCommit) {
  ServiceMetrics metrics;
  const MetricFamilies families = metrics.Collect();
  EXPECT_EQ(GaugeValue(families, "descent_build_info",
                       {{"version", DESCENT_VERSION}, {"git_commit", DESCENT_GIT_COMMIT}}),
            1);
  EXPECT_FALSE(std::string(DESCENT_VERSION).empty());
}

TEST(ServiceMetricsTest, JobLifecycleMovesQueuedRunningAndOutcomes) {
  ServiceMetrics metrics;
  metrics.OnSubmitted(kJobA);
  metrics.OnSubmitted(kJobB);
  MetricFamilies families = metrics.Collect();
  EXPECT_EQ(CounterValue(families, "descent_jobs_submitted_total"), 2);
  EXPECT_EQ(GaugeValue(families, "descent_jobs_queued"), 2);
  EXPECT_EQ(GaugeValue(families, "descent_jobs_running"), 0);

  metrics.OnStateChange(kJobA, kQueued, kRunning, absl::Seconds(3));
  metrics.OnStateChange(kJobB, kQueued, v1::CANCELLED, absl::Seconds(1));
  families = metrics.Collect();
  EXPECT_EQ(GaugeValue(families, "descent_jobs_queued"), 0);
  EXPECT_EQ(GaugeValue(families, "descent_jobs_running"), 1);
  const prometheus::ClientMetric* wait = FindSeries(families, "descent_job_queue_wait_seconds");
  ASSERT_NE(wait, nullptr);
  EXPECT_EQ(wait->histogram.sample_count, 1u);  // the cancelled job never started
  EXPECT_DOUBLE_EQ(wait->histogram.sample_sum, 3);
  EXPECT_EQ(CounterValue(families, "descent_jobs_finished_total", {{"state", "cancelled"}}), 1);
  EXPECT_EQ(HistogramCount(families, "descent_job_duration_seconds", {{"state", "cancelled"}}), 0u);

  metrics.OnStateChange(kJobA, kRunning, v1::FAILED, absl::Seconds(42));
  families = metrics.Collect();
  EXPECT_EQ(GaugeValue(families, "descent_jobs_running"), 0);
  EXPECT_EQ(CounterValue(families, "descent_jobs_finished_total", {{"state", "failed"}}), 1);
  EXPECT_EQ(CounterValue(families, "descent_jobs_finished_total", {{"state", "succeeded"}}), 0);
  const prometheus::ClientMetric* duration =
      FindSeries(families, "descent_job_duration_seconds", {{"state", "failed"}});
  ASSERT_NE(duration, nullptr);
  EXPECT_EQ(duration->histogram.sample_count, 1u);
  EXPECT_DOUBLE_EQ(duration->histogram.sample_sum, 42);
  // The outcome label takes exactly the three terminal states.
  EXPECT_EQ(SeriesCount(families, "descent_jobs_finished_total"), 3u);
}

TEST(ServiceMetricsTest, StepsFeedTotalsAndTheRunningJobsGauges) {
  ServiceMetrics metrics;
  StartJob(metrics, kJobA);
  for (int step = 1; step <= 5; ++step) {
    metrics.OnStep(kJobA, step, 1.0 / step, 32, absl::Microseconds(40), 2500.0 + step);
  }
  const MetricFamilies families = metrics.Collect();
  EXPECT_EQ(CounterValue(families, "descent_training_steps_total"), 5);
  EXPECT_EQ(CounterValue(families, "descent_training_examples_total"), 160);
  const LabelMap job = {{"job_id", "job-a"}, {"job_name", "house prices"}};
  EXPECT_DOUBLE_EQ(GaugeValue(families, "descent_job_loss", job), 0.2);
  EXPECT_EQ(GaugeValue(families, "descent_job_step", job), 5);
  EXPECT_EQ(GaugeValue(families, "descent_job_steps_per_second", job), 2505);
  const prometheus::ClientMetric* step_time =
      FindSeries(families, "descent_training_step_duration_seconds");
  ASSERT_NE(step_time, nullptr);
  EXPECT_EQ(step_time->histogram.sample_count, 5u);
  EXPECT_NEAR(step_time->histogram.sample_sum, 200e-6, 1e-12);
}

TEST(ServiceMetricsTest, StepDurationsLandInPrometheusBuckets) {
  ServiceMetrics metrics;
  StartJob(metrics, kJobA);
  metrics.OnStep(kJobA, 1, 1, 1, absl::Microseconds(3), 1);   // a tiny step: <= 4us
  metrics.OnStep(kJobA, 2, 1, 1, absl::Microseconds(10), 1);  // exactly on the 10us bound
  metrics.OnStep(kJobA, 3, 1, 1, absl::Milliseconds(30), 1);  // <= 40ms
  metrics.OnStep(kJobA, 4, 1, 1, absl::Seconds(60), 1);       // beyond the last bound
  const MetricFamilies families = metrics.Collect();
  const prometheus::ClientMetric* step_time =
      FindSeries(families, "descent_training_step_duration_seconds");
  ASSERT_NE(step_time, nullptr);
  std::map<double, uint64_t> cumulative;
  for (const auto& bucket : step_time->histogram.bucket) {
    cumulative[bucket.upper_bound] = bucket.cumulative_count;
  }
  EXPECT_EQ(cumulative.at(2.5e-6), 0u);  // below the fastest steps: not the lowest bucket
  EXPECT_EQ(cumulative.at(4e-6), 1u);
  EXPECT_EQ(cumulative.at(6.3e-6), 1u);
  EXPECT_EQ(cumulative.at(1e-5), 2u);
  EXPECT_EQ(cumulative.at(2.5e-2), 2u);
  EXPECT_EQ(cumulative.at(4e-2), 3u);
  EXPECT_EQ(cumulative.at(10), 3u);
  EXPECT_EQ(cumulative.at(INFINITY), 4u);
}

TEST(ServiceMetricsTest, RunningJobSeriesAreRemovedWhenTheJobEnds) {
  ServiceMetrics metrics;
  StartJob(metrics, kJobA);
  StartJob(metrics, kJobB);
  metrics.OnStep(kJobA, 1, 0.9, 8, absl::Microseconds(5), 10);
  metrics.OnStep(kJobB, 1, 0.7, 8, absl::Microseconds(5), 10);
  metrics.OnStep(kJobB, 2, 0.6, 8, absl::Microseconds(5), 10);
  MetricFamilies families = metrics.Collect();
  for (const char* name :
       {"descent_job_loss", "descent_job_step", "descent_job_steps_per_second"}) {
    EXPECT_EQ(SeriesCount(families, name), 2u) << name;
  }

  metrics.OnStep(kJobA, 2, 0.8, 8, absl::Microseconds(5), 10);  // not yet scraped when it ends
  metrics.OnStateChange(kJobA, kRunning, v1::SUCCEEDED, absl::Seconds(1));
  families = metrics.Collect();
  for (const char* name :
       {"descent_job_loss", "descent_job_step", "descent_job_steps_per_second"}) {
    EXPECT_EQ(SeriesCount(families, name), 1u) << name;
  }
  EXPECT_EQ(GaugeValue(families, "descent_job_step", {{"job_id", "job-b"}}), 2);
  EXPECT_EQ(CounterValue(families, "descent_training_steps_total"), 4);  // job-a's last step too

  metrics.OnStateChange(kJobB, kRunning, v1::CANCELLED, absl::Seconds(1));
  families = metrics.Collect();
  for (const char* name :
       {"descent_job_loss", "descent_job_step", "descent_job_steps_per_second"}) {
    EXPECT_EQ(SeriesCount(families, name), 0u) << name;
  }
  EXPECT_FALSE(absl::StrContains(metrics.ScrapeText(), "job-b"));
}

TEST(ServiceMetricsTest, StepsOfAnUnknownOrEndedJobCountOnlyInTotals) {
  ServiceMetrics metrics;
  metrics.OnStep(kJobA, 1, 0.5, 4, absl::Microseconds(5), 10);  // never reported RUNNING
  StartJob(metrics, kJobB);
  metrics.OnStep(kJobB, 1, 0.5, 4, absl::Microseconds(5), 10);
  metrics.OnStateChange(kJobB, kRunning, v1::SUCCEEDED, absl::Seconds(1));
  metrics.OnStep(kJobB, 2, 0.5, 4, absl::Microseconds(5), 10);  // straggler after the end
  const MetricFamilies families = metrics.Collect();
  EXPECT_EQ(CounterValue(families, "descent_training_steps_total"), 3);
  EXPECT_EQ(CounterValue(families, "descent_training_examples_total"), 12);
  EXPECT_EQ(SeriesCount(families, "descent_job_loss"), 0u);
}

TEST(ServiceMetricsTest, AJobRunningAgainUnderTheSameIdGetsFreshSeries) {
  ServiceMetrics metrics;
  StartJob(metrics, kJobA);
  metrics.OnStep(kJobA, 7, 0.5, 4, absl::Microseconds(5), 10);
  metrics.OnStateChange(kJobA, kRunning, kQueued, absl::Seconds(1));  // e.g. requeued
  EXPECT_EQ(SeriesCount(metrics.Collect(), "descent_job_step"), 0u);
  metrics.OnStateChange(kJobA, kQueued, kRunning, absl::Seconds(1));
  metrics.OnStep(kJobA, 1, 0.25, 4, absl::Microseconds(5), 10);
  const MetricFamilies families = metrics.Collect();
  EXPECT_EQ(GaugeValue(families, "descent_job_step", {{"job_id", "job-a"}}), 1);
  EXPECT_EQ(GaugeValue(families, "descent_job_loss", {{"job_id", "job-a"}}), 0.25);
  EXPECT_EQ(CounterValue(families, "descent_training_steps_total"), 2);
  EXPECT_EQ(GaugeValue(families, "descent_jobs_queued"), 0);
  EXPECT_EQ(GaugeValue(families, "descent_jobs_running"), 1);
}

TEST(ServiceMetricsTest, JobsRecoveredAtStartUpCountAsQueuedOrRunningNotAsSubmitted) {
  ServiceMetrics metrics;
  metrics.OnRecovered(kJobA, kRunning);
  metrics.OnRecovered(kJobB, kQueued);
  MetricFamilies families = metrics.Collect();
  EXPECT_EQ(GaugeValue(families, "descent_jobs_running"), 1);
  EXPECT_EQ(GaugeValue(families, "descent_jobs_queued"), 1);
  EXPECT_EQ(CounterValue(families, "descent_jobs_submitted_total"), 0);
  EXPECT_EQ(CounterValue(families, "descent_jobs_recovered_total", {{"state", "running"}}), 1);
  EXPECT_EQ(CounterValue(families, "descent_jobs_recovered_total", {{"state", "queued"}}), 1);
  metrics.OnStateChange(kJobA, kRunning, v1::SUCCEEDED, absl::Seconds(1));
  metrics.OnStateChange(kJobB, kQueued, kRunning, absl::Seconds(1));
  families = metrics.Collect();
  EXPECT_EQ(GaugeValue(families, "descent_jobs_running"), 1);
  EXPECT_EQ(GaugeValue(families, "descent_jobs_queued"), 0);
}

TEST(ServiceMetricsTest, AThreadReusedByANewInstanceCountsIntoTheNewOne) {
  auto first = std::make_unique<ServiceMetrics>();
  StartJob(*first, kJobA);
  first->OnStep(kJobA, 1, 0.5, 4, absl::Microseconds(5), 10);
  first.reset();
  ServiceMetrics second;
  StartJob(second, kJobA);
  second.OnStep(kJobA, 1, 0.125, 4, absl::Microseconds(5), 10);
  const MetricFamilies families = second.Collect();
  EXPECT_EQ(CounterValue(families, "descent_training_steps_total"), 1);
  EXPECT_EQ(GaugeValue(families, "descent_job_loss", {{"job_id", "job-a"}}), 0.125);
}

TEST(ServiceMetricsTest, ConcurrentTrainingThreadsAndScrapesLoseNoSteps) {
  ServiceMetrics metrics;
  StartJob(metrics, kJobA);
  StartJob(metrics, kJobB);
  constexpr int kSteps = 20000;
  auto train = [&metrics](const JobLabels& job) {
    for (int step = 1; step <= kSteps; ++step) {
      metrics.OnStep(job, step, 1.0 / step, 2, absl::Microseconds(7), 1e5);
    }
  };
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    double last = 0;
    while (!done.load()) {
      const MetricFamilies families = metrics.Collect();
      const double steps = CounterValue(families, "descent_training_steps_total");
      EXPECT_GE(steps, last) << "a counter went backwards";
      last = steps;
      // One scrape's step, loss and step count of a job come from the same step.
      if (SeriesCount(families, "descent_job_step") == 2) {
        const double step_a = GaugeValue(families, "descent_job_step", {{"job_id", "job-a"}});
        const double step_b = GaugeValue(families, "descent_job_step", {{"job_id", "job-b"}});
        EXPECT_EQ(GaugeValue(families, "descent_job_loss", {{"job_id", "job-a"}}), 1.0 / step_a);
        EXPECT_EQ(steps, step_a + step_b);
      }
    }
  });
  std::thread a(train, kJobA);
  std::thread b(train, kJobB);
  a.join();
  b.join();
  done = true;
  scraper.join();
  const MetricFamilies families = metrics.Collect();
  EXPECT_EQ(CounterValue(families, "descent_training_steps_total"), 2 * kSteps);
  EXPECT_EQ(CounterValue(families, "descent_training_examples_total"), 4 * kSteps);
  EXPECT_EQ(HistogramCount(families, "descent_training_step_duration_seconds"), 2u * kSteps);
  EXPECT_EQ(GaugeValue(families, "descent_job_step", {{"job_id", "job-a"}}), kSteps);
  EXPECT_EQ(GaugeValue(families, "descent_job_step", {{"job_id", "job-b"}}), kSteps);
}

TEST(ServiceMetricsTest, WatcherEventsFeedTheStreamFamilies) {
  ServiceMetrics metrics;
  metrics.OnWatchersChanged(+1);
  metrics.OnWatchersChanged(+1);
  metrics.OnWatchersChanged(-1);
  metrics.OnLossPointsSent(4096);
  metrics.OnLossPointsSent(17);
  metrics.OnWatcherFellBehind();
  const MetricFamilies families = metrics.Collect();
  EXPECT_EQ(GaugeValue(families, "descent_watchers_active"), 1);
  EXPECT_EQ(CounterValue(families, "descent_watch_loss_points_sent_total"), 4113);
  EXPECT_EQ(CounterValue(families, "descent_watchers_fell_behind_total"), 1);
}

TEST(ServiceMetricsTest, ProcessMetricsDescribeThisProcess) {
  ServiceMetrics metrics;
  const MetricFamilies families = metrics.Collect();
  EXPECT_GT(GaugeValue(families, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(GaugeValue(families, "process_virtual_memory_bytes"),
            GaugeValue(families, "process_resident_memory_bytes"));
  EXPECT_GE(GaugeValue(families, "process_open_fds"), 3);  // stdin, stdout, stderr at least
  EXPECT_GT(GaugeValue(families, "process_max_fds"), 0);
  EXPECT_GE(CounterValue(families, "process_cpu_seconds_total"), 0);
  const double start = GaugeValue(families, "process_start_time_seconds");
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 24 * 3600);  // this test process started minutes ago at most

  const int extra = dup(0);
  ASSERT_GE(extra, 0);
  const double with_extra = GaugeValue(metrics.Collect(), "process_open_fds");
  close(extra);
  EXPECT_EQ(with_extra, GaugeValue(metrics.Collect(), "process_open_fds") + 1);
}

TEST(RpcLabelsTest, OnlyLinkedMethodsGetTheirOwnLabels) {
  using Type = grpc::experimental::ServerRpcInfo::Type;
  const RpcLabels known = RpcLabelsFor("/descent.v1.TrainingService/GetJob", Type::UNARY);
  EXPECT_EQ(known.service, "descent.v1.TrainingService");
  EXPECT_EQ(known.method, "GetJob");
  EXPECT_EQ(known.type, "unary");
  EXPECT_EQ(RpcLabelsFor("/descent.v1.TrainingService/WatchJob", Type::SERVER_STREAMING).type,
            "server_stream");
  for (const char* bad : {"/descent.v1.TrainingService/NoSuchMethod", "/made.up.Service/Get",
                          "descent.v1.TrainingService/GetJob", "/", ""}) {
    const RpcLabels labels = RpcLabelsFor(bad, Type::UNARY);
    EXPECT_EQ(labels.service, "unknown") << bad;
    EXPECT_EQ(labels.method, "unknown") << bad;
  }
}

// A TrainingService that answers without a job manager, for interceptor tests.
class ScriptedService final : public v1::TrainingService::Service {
  grpc::Status GetJob(grpc::ServerContext*, const v1::GetJobRequest* request,
                      v1::Job* job) override {
    if (request->job_id() != "known") return {grpc::StatusCode::NOT_FOUND, "no such job"};
    job->set_id("known");
    return grpc::Status::OK;
  }
  grpc::Status WatchJob(grpc::ServerContext*, const v1::WatchJobRequest*,
                        grpc::ServerWriter<v1::WatchJobResponse>* writer) override {
    v1::WatchJobResponse response;
    response.mutable_losses()->set_first_step(1);
    response.mutable_losses()->add_losses(0.5);
    for (int i = 0; i < 3; ++i) writer->Write(response);
    return grpc::Status::OK;
  }
};

class InterceptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(metrics_.MakeInterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(creators));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
    stub_ = v1::TrainingService::NewStub(channel_);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
  }

  grpc::Status GetJob(const std::string& id) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetJobRequest request;
    request.set_job_id(id);
    v1::Job job;
    return stub_->GetJob(&context, request, &job);
  }

  ServiceMetrics metrics_;
  ScriptedService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TrainingService::Stub> stub_;
};

const LabelMap kGetJob = {{"grpc_service", "descent.v1.TrainingService"},
                          {"grpc_method", "GetJob"},
                          {"grpc_type", "unary"}};
const LabelMap kWatchJob = {{"grpc_service", "descent.v1.TrainingService"},
                            {"grpc_method", "WatchJob"},
                            {"grpc_type", "server_stream"}};

LabelMap With(LabelMap labels, const std::string& key, const std::string& value) {
  labels[key] = value;
  return labels;
}

TEST_F(InterceptorTest, CountsUnaryCallsByMethodAndCode) {
  EXPECT_TRUE(GetJob("known").ok());
  EXPECT_TRUE(GetJob("known").ok());
  EXPECT_EQ(GetJob("missing").error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext context;
  v1::CancelJobRequest request;
  v1::Job job;
  EXPECT_EQ(stub_->CancelJob(&context, request, &job).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server_.reset();  // every call's interceptors have run

  const MetricFamilies families = metrics_.Collect();
  EXPECT_EQ(CounterValue(families, "descent_grpc_server_started_total", kGetJob), 3);
  EXPECT_EQ(
      CounterValue(families, "descent_grpc_server_handled_total", With(kGetJob, "grpc_code", "OK")),
      2);
  EXPECT_EQ(CounterValue(families, "descent_grpc_server_handled_total",
                         With(kGetJob, "grpc_code", "NOT_FOUND")),
            1);
  EXPECT_EQ(CounterValue(families, "descent_grpc_server_handled_total",
                         {{"grpc_method", "CancelJob"}, {"grpc_code", "UNIMPLEMENTED"}}),
            1);
  EXPECT_EQ(HistogramCount(families, "descent_grpc_server_handling_seconds", kGetJob), 3u);
  EXPECT_EQ(TotalObservations(families, "descent_grpc_server_handling_seconds"), 4u);
  EXPECT_EQ(TotalObservations(families, "descent_grpc_server_stream_duration_seconds"), 0u);
}

TEST_F(InterceptorTest, KeepsServerStreamsOutOfUnaryLatency) {
  EXPECT_TRUE(GetJob("known").ok());
  grpc::ClientContext context;
  v1::WatchJobRequest request;
  request.set_job_id("known");
  auto reader = stub_->WatchJob(&context, request);
  v1::WatchJobResponse response;
  int received = 0;
  while (reader->Read(&response)) ++received;
  EXPECT_EQ(received, 3);
  EXPECT_TRUE(reader->Finish().ok());
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server_.reset();

  const MetricFamilies families = metrics_.Collect();
  EXPECT_EQ(CounterValue(families, "descent_grpc_server_handled_total",
                         With(kWatchJob, "grpc_code", "OK")),
            1);
  EXPECT_EQ(HistogramCount(families, "descent_grpc_server_stream_duration_seconds", kWatchJob), 1u);
  EXPECT_EQ(TotalObservations(families, "descent_grpc_server_stream_duration_seconds"), 1u);
  // The unary histogram holds the GetJob call only, and only unary series.
  EXPECT_EQ(TotalObservations(families, "descent_grpc_server_handling_seconds"), 1u);
  EXPECT_EQ(HistogramCount(families, "descent_grpc_server_handling_seconds", kGetJob), 1u);
  for (const auto& [name, type_matches_unary] :
       {std::pair{"descent_grpc_server_handling_seconds", true},
        std::pair{"descent_grpc_server_stream_duration_seconds", false}}) {
    const prometheus::MetricFamily* family = FindFamily(families, name);
    ASSERT_NE(family, nullptr);
    for (const prometheus::ClientMetric& series : family->metric) {
      EXPECT_EQ(LabelsOf(series).at("grpc_type") == "unary", type_matches_unary) << name;
    }
  }
}

TEST_F(InterceptorTest, UnknownMethodsNeverBecomeLabelValues) {
  grpc::GenericStub generic(channel_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice empty_message("");
  grpc::ByteBuffer request(&empty_message, 1);
  grpc::ByteBuffer response;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  generic.UnaryCall(&context, "/attacker.Chosen/Name", grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) {
                      std::lock_guard<std::mutex> lock(mu);
                      status = s;
                      done = true;
                      cv.notify_one();
                    });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server_.reset();
  const std::string text = metrics_.ScrapeText();
  EXPECT_FALSE(absl::StrContains(text, "attacker")) << text;
  EXPECT_FALSE(absl::StrContains(text, "Chosen")) << text;
}

TEST(ExposerTest, ServesUpToDateMetricsOverHttp) {
  ServiceMetrics metrics;
  EXPECT_EQ(metrics.exposer_port(), 0);
  ASSERT_OK(metrics.StartExposer("127.0.0.1:0"));
  const int port = metrics.exposer_port();
  ASSERT_GT(port, 0);
  StartJob(metrics, kJobA);
  metrics.OnStep(kJobA, 1, 0.75, 16, absl::Microseconds(30), 100);
  metrics.OnStep(kJobA, 2, 0.5, 16, absl::Microseconds(30), 100);

  absl::StatusOr<testing::HttpResponse> http = testing::HttpGet(port, "/metrics");
  ASSERT_OK(http);
  EXPECT_EQ(http->status, 200);
  const std::string& response = http->body;
  EXPECT_THAT(response, HasSubstr("# HELP descent_training_steps_total"));
  EXPECT_THAT(response, HasSubstr("# TYPE descent_training_steps_total counter"));
  EXPECT_THAT(response, HasSubstr("\ndescent_training_steps_total 2"));
  EXPECT_THAT(response,
              HasSubstr("descent_job_loss{job_id=\"job-a\",job_name=\"house prices\"} 0.5"));
  EXPECT_THAT(response, HasSubstr("\nprocess_resident_memory_bytes "));
}

TEST(ExposerTest, RefusesASecondStartAndABusyPort) {
  ServiceMetrics metrics;
  ASSERT_OK(metrics.StartExposer("127.0.0.1:0"));
  EXPECT_THAT(metrics.StartExposer("127.0.0.1:0"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already")));
  ServiceMetrics other;
  const std::string busy = absl::StrCat("127.0.0.1:", metrics.exposer_port());
  EXPECT_THAT(other.StartExposer(busy), StatusIs(absl::StatusCode::kUnavailable, HasSubstr(busy)));
  EXPECT_EQ(other.exposer_port(), 0);
}

}  // namespace
}  // namespace descent::server
