// Training metrics: steps, examples and step time across all jobs, and for every running
// job its loss, step and steps/s labelled {job_id, job_name}. The per-step path is the
// hottest in the server (a tiny job takes ~100k steps/s), so a step touches only a few
// relaxed atomics owned by its job; the Prometheus objects are brought up to date when
// metrics are collected (Flush), and a job's series are removed when it stops running.
#ifndef DESCENT_SERVER_OBSERVABILITY_TRAINING_METRICS_H_
#define DESCENT_SERVER_OBSERVABILITY_TRAINING_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/jobs/job_events.h"

namespace descent::server {

// Upper bounds (seconds) of the step-duration buckets: the Renard R5 series (1, 1.6, 2.5, 4,
// 6.3 in every decade, each bound ~1.6x the previous) from 1 us to 10 s, so a histogram
// quantile is within that factor wherever steps fall. Steps measured with
// `job_manager_bench step-times` on a loaded 2-core machine: tiny (13-64-1, batch 32) 2-5 us,
// small (64-128-128-10) 60-140 us, medium (784-256-256-10) 1.2-2 ms when not preempted,
// large (1024-2048-2048-1024, batch 256) ~0.3 s; the former 5 us lowest bound held ~97% of
// tiny steps.
inline constexpr std::array<double, 36> kStepSecondsBuckets = {
    1e-6,   1.6e-6, 2.5e-6, 4e-6,   6.3e-6, 1e-5,   1.6e-5, 2.5e-5, 4e-5,   6.3e-5, 1e-4,   1.6e-4,
    2.5e-4, 4e-4,   6.3e-4, 1e-3,   1.6e-3, 2.5e-3, 4e-3,   6.3e-3, 1e-2,   1.6e-2, 2.5e-2, 4e-2,
    6.3e-2, 0.1,    0.16,   0.25,   0.4,    0.63,   1,      1.6,    2.5,    4,      6.3,    10};

class TrainingMetrics {
 public:
  // Registers the families in `registry`, which must outlive this object.
  explicit TrainingMetrics(prometheus::Registry& registry);
  ~TrainingMetrics();

  // The job began running: from now on its steps are attributed to it. Its series appear
  // at the first collection after its first step.
  void OnJobStarted(const JobLabels& job);
  // One optimizer step of a running job; called by the job's training thread only. Steps
  // of a job not started (or already ended) still count in the totals.
  void OnStep(const JobLabels& job, int64_t step, double loss, int examples,
              absl::Duration step_time, double steps_per_second);
  // The job stopped running: its last steps are folded into the totals and its per-job
  // series are removed. Steps reported after this count in the totals only.
  void OnJobEnded(const JobLabels& job);

  // Brings the Prometheus objects up to date with the steps taken since the last call.
  // Called before every collection.
  void Flush();

 private:
  // A running job's live values, written by its training thread and read by Flush. Shared
  // with training threads' step caches, so it may outlive its entry in running_.
  struct LiveJob {
    // The step count, example count and the latest step's number, loss and rate, published
    // together under a sequence lock (odd while being written): one scrape never pairs a
    // step's number with another step's loss, and a job's counted steps match its step
    // number in the same scrape.
    std::atomic<uint64_t> sequence{0};
    std::atomic<int64_t> steps{0};
    std::atomic<int64_t> examples{0};
    std::atomic<int64_t> step{0};
    std::atomic<double> loss{0};
    std::atomic<double> steps_per_second{0};
    // Step durations, outside the lock: only their sum and count matter.
    std::atomic<int64_t> step_nanoseconds{0};
    std::array<std::atomic<int64_t>, kStepSecondsBuckets.size() + 1> step_buckets{};
    std::atomic<bool> ended{false};
  };

  // What Flush has already exported of one running job.
  struct ExportedJob {
    JobLabels labels;
    std::shared_ptr<LiveJob> live;
    int64_t steps = 0;
    int64_t examples = 0;
    int64_t step_nanoseconds = 0;
    std::array<int64_t, kStepSecondsBuckets.size() + 1> step_buckets{};
    prometheus::Gauge* loss = nullptr;  // null until the job's first step is exported
    prometheus::Gauge* step = nullptr;
    prometheus::Gauge* steps_per_second = nullptr;
  };

  // The live values of a started job, or null. Lock-free when the calling thread asked
  // for the same job last time (a training thread trains one job at a time).
  LiveJob* FindLive(const std::string& job_id);
  void FlushJob(ExportedJob& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static size_t BucketIndex(int64_t nanoseconds);

  const uint64_t instance_;  // tells this object's cache entries from another instance's
  prometheus::Counter& steps_total_;
  prometheus::Counter& examples_total_;
  prometheus::Histogram& step_seconds_;
  prometheus::Family<prometheus::Gauge>& job_loss_;
  prometheus::Family<prometheus::Gauge>& job_step_;
  prometheus::Family<prometheus::Gauge>& job_steps_per_second_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, ExportedJob> running_ ABSL_GUARDED_BY(mu_);
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_OBSERVABILITY_TRAINING_METRICS_H_
