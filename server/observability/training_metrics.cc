#include "server/observability/training_metrics.h"

#include <utility>
#include <vector>

namespace descent::server {
namespace {

std::atomic<uint64_t> next_instance{1};

// The job a training thread reported last. A training thread runs one job's steps in a
// row, so after the first step of a job, OnStep finds its live values without a lock.
struct StepCache {
  uint64_t instance = 0;
  std::string job_id;
  std::shared_ptr<void> live;  // the TrainingMetrics::LiveJob, kept alive by the cache
};
thread_local StepCache step_cache;

// Single-writer increments: only the job's training thread writes these, so a relaxed
// load and store is enough (no read-modify-write needed) and readers see whole values.
template <typename T>
void AddRelaxed(std::atomic<T>& value, T delta) {
  value.store(value.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}

// kStepSecondsBuckets in nanoseconds: a step compares integers, no floating point.
constexpr std::array<int64_t, kStepSecondsBuckets.size()> StepNanosecondsBuckets() {
  std::array<int64_t, kStepSecondsBuckets.size()> nanoseconds{};
  for (size_t i = 0; i < nanoseconds.size(); ++i) {
    nanoseconds[i] = static_cast<int64_t>(kStepSecondsBuckets[i] * 1e9 + 0.5);
  }
  return nanoseconds;
}
constexpr std::array<int64_t, kStepSecondsBuckets.size()> kStepNanosecondsBuckets =
    StepNanosecondsBuckets();

prometheus::Histogram::BucketBoundaries StepBuckets() {
  return {kStepSecondsBuckets.begin(), kStepSecondsBuckets.end()};
}

}  // namespace

TrainingMetrics::TrainingMetrics(prometheus::Registry& registry)
    : instance_(next_instance.fetch_add(1)),
      steps_total_(prometheus::BuildCounter()
                       .Name("descent_training_steps_total")
                       .Help("Optimizer steps taken, over all jobs.")
                       .Register(registry)
                       .Add({})),
      examples_total_(prometheus::BuildCounter()
                          .Name("descent_training_examples_total")
                          .Help("Training examples processed by optimizer steps, over all jobs.")
                          .Register(registry)
                          .Add({})),
      step_seconds_(prometheus::BuildHistogram()
                        .Name("descent_training_step_duration_seconds")
                        .Help("Wall time of one optimizer step (forward, loss, backward, "
                              "update), over all jobs.")
                        .Register(registry)
                        .Add({}, StepBuckets())),
      job_loss_(prometheus::BuildGauge()
                    .Name("descent_job_loss")
                    .Help("Latest training loss of a running job; removed when it ends.")
                    .Register(registry)),
      job_step_(prometheus::BuildGauge()
                    .Name("descent_job_step")
                    .Help("Latest optimizer step of a running job; removed when it ends.")
                    .Register(registry)),
      job_steps_per_second_(prometheus::BuildGauge()
                                .Name("descent_job_steps_per_second")
                                .Help("Optimizer steps per second of a running job over its "
                                      "run so far; removed when it ends.")
                                .Register(registry)) {}

TrainingMetrics::~TrainingMetrics() = default;

void TrainingMetrics::OnJobStarted(const JobLabels& job) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = running_.try_emplace(job.id);
  if (!inserted) return;  // reported twice: keep counting into the same values
  it->second.labels = job;
  it->second.live = std::make_shared<LiveJob>();
}

TrainingMetrics::LiveJob* TrainingMetrics::FindLive(const std::string& job_id) {
  StepCache& cache = step_cache;
  if (cache.instance == instance_ && cache.live != nullptr && cache.job_id == job_id) {
    auto* live = static_cast<LiveJob*>(cache.live.get());
    if (!live->ended.load(std::memory_order_acquire)) return live;
  }
  absl::MutexLock lock(&mu_);
  auto it = running_.find(job_id);
  if (it == running_.end()) {
    cache.live.reset();
    return nullptr;
  }
  cache.instance = instance_;
  cache.job_id = job_id;
  cache.live = it->second.live;
  return it->second.live.get();
}

size_t TrainingMetrics::BucketIndex(int64_t nanoseconds) {
  // Prometheus buckets count observations <= their upper bound; the last is +Inf. A linear
  // scan from the smallest bound: the fast steps that make this path hot stop early.
  size_t i = 0;
  while (i < kStepNanosecondsBuckets.size() && nanoseconds > kStepNanosecondsBuckets[i]) ++i;
  return i;
}

void TrainingMetrics::OnStep(const JobLabels& job, int64_t step, double loss, int examples,
                             absl::Duration step_time, double steps_per_second) {
  // Integer nanoseconds: absl::ToDoubleSeconds costs more than the rest of this function.
  const int64_t nanoseconds = absl::ToInt64Nanoseconds(step_time);
  LiveJob* live = FindLive(job.id);
  if (live == nullptr) {
    absl::MutexLock lock(&mu_);
    steps_total_.Increment();
    examples_total_.Increment(examples);
    step_seconds_.Observe(static_cast<double>(nanoseconds) * 1e-9);
    return;
  }
  constexpr auto kRelaxed = std::memory_order_relaxed;
  AddRelaxed<int64_t>(live->step_nanoseconds, nanoseconds);
  AddRelaxed<int64_t>(live->step_buckets[BucketIndex(nanoseconds)], 1);
  // Sequence-lock write (single writer): odd, the values, even again.
  const uint64_t sequence = live->sequence.load(kRelaxed);
  live->sequence.store(sequence + 1, kRelaxed);
  std::atomic_thread_fence(std::memory_order_release);
  AddRelaxed<int64_t>(live->steps, 1);
  AddRelaxed<int64_t>(live->examples, examples);
  live->step.store(step, kRelaxed);
  live->loss.store(loss, kRelaxed);
  live->steps_per_second.store(steps_per_second, kRelaxed);
  live->sequence.store(sequence + 2, std::memory_order_release);
}

void TrainingMetrics::FlushJob(ExportedJob& job) {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  LiveJob& live = *job.live;
  // Sequence-lock read: retry while the training thread is between its writes (a step's
  // writes take nanoseconds, so this spins rarely and briefly).
  int64_t steps = 0;
  int64_t examples = 0;
  int64_t step = 0;
  double loss = 0;
  double steps_per_second = 0;
  uint64_t before = 0;
  uint64_t after = 0;
  do {
    before = live.sequence.load(std::memory_order_acquire);
    steps = live.steps.load(kRelaxed);
    examples = live.examples.load(kRelaxed);
    step = live.step.load(kRelaxed);
    loss = live.loss.load(kRelaxed);
    steps_per_second = live.steps_per_second.load(kRelaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    after = live.sequence.load(kRelaxed);
  } while (before != after || before % 2 != 0);
  if (steps == job.steps) return;

  const int64_t step_nanoseconds = live.step_nanoseconds.load(kRelaxed);
  std::vector<double> bucket_increments(job.step_buckets.size());
  for (size_t i = 0; i < job.step_buckets.size(); ++i) {
    const int64_t count = live.step_buckets[i].load(kRelaxed);
    bucket_increments[i] = static_cast<double>(count - job.step_buckets[i]);
    job.step_buckets[i] = count;
  }
  steps_total_.Increment(static_cast<double>(steps - job.steps));
  examples_total_.Increment(static_cast<double>(examples - job.examples));
  step_seconds_.ObserveMultiple(
      bucket_increments, static_cast<double>(step_nanoseconds - job.step_nanoseconds) * 1e-9);
  job.steps = steps;
  job.examples = examples;
  job.step_nanoseconds = step_nanoseconds;

  if (job.loss == nullptr) {
    const prometheus::Labels labels = {{"job_id", job.labels.id}, {"job_name", job.labels.name}};
    job.loss = &job_loss_.Add(labels);
    job.step = &job_step_.Add(labels);
    job.steps_per_second = &job_steps_per_second_.Add(labels);
  }
  job.loss->Set(loss);
  job.step->Set(static_cast<double>(step));
  job.steps_per_second->Set(steps_per_second);
}

void TrainingMetrics::OnJobEnded(const JobLabels& job) {
  absl::MutexLock lock(&mu_);
  auto it = running_.find(job.id);
  if (it == running_.end()) return;
  ExportedJob& exported = it->second;
  FlushJob(exported);
  exported.live->ended.store(true, std::memory_order_release);
  if (exported.loss != nullptr) {
    job_loss_.Remove(exported.loss);
    job_step_.Remove(exported.step);
    job_steps_per_second_.Remove(exported.steps_per_second);
  }
  running_.erase(it);
}

void TrainingMetrics::Flush() {
  absl::MutexLock lock(&mu_);
  for (auto& [id, job] : running_) FlushJob(job);
}

}  // namespace descent::server
