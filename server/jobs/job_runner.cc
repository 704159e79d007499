#include "server/jobs/job_runner.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/denormals.h"
#include "engine/lr_finder.h"
#include "engine/trainer.h"
#include "server/conversion/engine_to_proto.h"
#include "server/jobs/store_conversion.h"

namespace descent::server {
namespace {

using Clock = std::chrono::steady_clock;

// Runs on the training thread between steps, so it stays cheap: a step's loss goes into a
// local batch and a clock is read; the batch is appended to the job's history (one short
// lock) and watchers are woken only every kWakeWatchersEverySteps steps or
// kWakeWatchersEvery, and before an epoch summary or a write; a durable job's checkpoint
// (and, with a shared store, its progress) only as often as the CheckpointPolicy says.
// The owner calls Flush() once the run has returned.
class JobObserver : public TrainingObserver {
 public:
  JobObserver(JobRecord& job, JobEventListener* listener, const Trainer& trainer, int batch_size,
              int64_t first_step, const CheckpointPolicy& checkpoints)
      : job_(job),
        listener_(listener),
        trainer_(trainer),
        checkpoints_(checkpoints),
        train_samples_(trainer.train_samples()),
        batch_size_(batch_size > 0 ? batch_size : trainer.train_samples()),
        steps_per_epoch_(std::max<int64_t>(1, trainer.steps_per_epoch())),
        first_step_(first_step),
        run_start_(Clock::now()),
        last_step_(run_start_),
        last_wake_(run_start_),
        last_checkpoint_(run_start_),
        last_write_(run_start_),
        last_checkpoint_step_(first_step) {
    pending_.reserve(kWakeWatchersEverySteps);
  }

  bool OnStep(const StepEvent& event) override {
    const Clock::time_point now = Clock::now();
    if (pending_.empty()) pending_first_step_ = event.step;
    pending_.push_back(event.loss);
    pending_epoch_ = event.epoch;
    MaybeWakeWatchers(event.step, now);
    if (listener_ != nullptr) {
      const double seconds = std::chrono::duration<double>(now - run_start_).count();
      listener_->OnStep(job_.labels(), event.step, event.loss, ExamplesIn(event.step),
                        absl::FromChrono(now - last_step_),
                        seconds > 0 ? static_cast<double>(event.step - first_step_) / seconds
                                    : 0.0);
    }
    last_step_ = now;
    if (job_.durable() && (event.step - last_checkpoint_step_ >= checkpoints_.every_steps ||
                           now - last_checkpoint_ >= absl::ToChronoNanoseconds(checkpoints_.every))) {
      if (!Checkpoint(event.step, now)) return false;
    } else if (job_.durable() &&
               now - last_write_ >= absl::ToChronoNanoseconds(checkpoints_.progress_every)) {
      // A failed write is retried with the next one (the steps stay pending); one refused
      // for a lost lease stops the job (stop_requested).
      Flush();
      (void)job_.SaveProgress();
      last_write_ = now;
    }
    return !job_.stop_requested();
  }

  void OnEpoch(const EpochSummary& summary) override {
    Flush();  // the summary follows its steps
    job_.RecordEpoch(summary);
    MaybeWakeWatchers(summary.last_step, Clock::now());
  }

  // Writes the trainer's checkpoint with the history since the last one; false (the error
  // kept for checkpoint_error()) when the store refuses it.
  bool Checkpoint(int64_t step, Clock::time_point now) {
    Flush();
    absl::Status written = job_.SaveCheckpoint(ToStored(trainer_.Checkpoint()));
    last_checkpoint_ = now;
    last_write_ = now;
    last_checkpoint_step_ = step;
    if (!written.ok()) checkpoint_error_ = written;
    return written.ok();
  }
  const absl::Status& checkpoint_error() const { return checkpoint_error_; }

  // Appends the steps gathered since the last call to the job's history.
  void Flush() {
    job_.RecordSteps(pending_first_step_, pending_, pending_epoch_);
    pending_.clear();
  }

 private:
  // Watchers read everything recorded when they wake, so waking them in batches bounds
  // their latency, never what they get. Run's end wakes them anyway (the terminal event).
  void MaybeWakeWatchers(int64_t step, Clock::time_point now) {
    if (step - last_wake_step_ >= kWakeWatchersEverySteps ||
        now - last_wake_ >= absl::ToChronoNanoseconds(kWakeWatchersEvery)) {
      Flush();
      job_.WakeWatchers();
      last_wake_step_ = step;
      last_wake_ = now;
    }
  }

  // Examples in `step`'s batch: full batches, then what is left in the epoch's last one.
  int ExamplesIn(int64_t step) const {
    const int64_t index_in_epoch = (step - 1) % steps_per_epoch_;
    const int64_t left = train_samples_ - index_in_epoch * batch_size_;
    return static_cast<int>(std::clamp<int64_t>(left, 0, batch_size_));
  }

  JobRecord& job_;
  JobEventListener* const listener_;
  const Trainer& trainer_;
  const CheckpointPolicy checkpoints_;
  const int64_t train_samples_;
  const int64_t batch_size_;
  const int64_t steps_per_epoch_;
  const int64_t first_step_;  // steps done before this run (a resumed job's checkpoint)
  const Clock::time_point run_start_;
  Clock::time_point last_step_;
  Clock::time_point last_wake_;
  int64_t last_wake_step_ = 0;
  Clock::time_point last_checkpoint_;
  Clock::time_point last_write_;  // a checkpoint's or SaveProgress's
  int64_t last_checkpoint_step_;
  absl::Status checkpoint_error_;
  // Steps not yet in the job's history: pending_first_step_ on, the last in pending_epoch_.
  std::vector<double> pending_;
  int64_t pending_first_step_ = 0;
  int pending_epoch_ = 0;
};

// How a range test ended; nullopt when it was suspended (the job stays RUNNING, without a
// checkpoint: the next start runs it again from step 0, on the same trajectory).
std::optional<JobOutcome> RangeTestOutcome(const JobRecord& job, const LrFindSpec& find,
                                           LrFindRun run) {
  if (run.reason == StopReason::kCancelled) {
    if (!job.cancel_requested() && job.suspend_requested()) return std::nullopt;
    return JobOutcome::Cancelled();
  }
  absl::StatusOr<LrSuggestion> suggestion = SuggestLearningRate(run.points, find.steps);
  if (!suggestion.ok()) return JobOutcome::Failed(std::string(suggestion.status().message()));
  return JobOutcome::RangeTested(ToProto(run, *suggestion));
}

// How a run ended; nullopt when it was suspended (the job stays RUNNING).
std::optional<JobOutcome> Train(JobRecord& job, JobEventListener* listener,
                                const CheckpointPolicy& checkpoints) {
  TrainingInput input = job.TakeTrainingInput();
  if (job.lease_lost()) return std::nullopt;  // another replica runs it now
  if (job.cancel_requested()) return JobOutcome::Cancelled();
  if (job.suspend_requested()) return std::nullopt;  // its stored state is where it resumes

  std::vector<std::string> feature_names = input.dataset.feature_names;
  std::vector<std::string> class_names = input.dataset.class_names;
  const int batch_size = input.train_spec.training.batch_size;
  absl::StatusOr<std::unique_ptr<Trainer>> created =
      Trainer::Create(input.train_spec, std::move(input.dataset), input.initial_parameters);
  if (!created.ok()) {
    return JobOutcome::Failed(std::string(created.status().message()));
  }
  Trainer& trainer = **created;
  int64_t first_step = 0;
  if (input.checkpoint) {
    if (absl::Status restored = trainer.Restore(*input.checkpoint); !restored.ok()) {
      return JobOutcome::Failed(
          absl::StrCat("cannot resume from the stored checkpoint: ", restored.message()));
    }
    first_step = input.checkpoint->step;
    input.checkpoint.reset();
  }
  if (input.resumed) {
    job.RecordResumed();
    if (listener != nullptr) listener->OnResumed(job.labels(), first_step);
  }
  job.SetTotalSteps(input.lr_find ? input.lr_find->steps : trainer.total_steps());
  if (job.cancel_requested()) return JobOutcome::Cancelled();
  if (input.lr_find) {
    // A range test writes no checkpoint: it is short, and the stop rule's state would have
    // to be stored with it.
    const CheckpointPolicy never{std::numeric_limits<int64_t>::max(), absl::InfiniteDuration(),
                                 checkpoints.progress_every};
    JobObserver observer(job, listener, trainer, batch_size, first_step, never);
    LrFindRun run = RunLrFind(trainer, *input.lr_find, &observer);
    observer.Flush();
    return RangeTestOutcome(job, *input.lr_find, std::move(run));
  }

  JobObserver observer(job, listener, trainer, batch_size, first_step, checkpoints);
  TrainResult result = trainer.Run(&observer);
  observer.Flush();
  // Another replica claimed the job: it resumes from the last checkpoint this one wrote.
  if (job.lease_lost()) return std::nullopt;
  if (!observer.checkpoint_error().ok()) {
    return JobOutcome::Failed(
        absl::StrCat("stopped at step ", result.steps,
                     " because its checkpoint could not be written: ",
                     observer.checkpoint_error().message()),
        std::move(result.diagnosis));
  }
  switch (result.reason) {
    case StopReason::kCancelled:
      if (!job.cancel_requested() && job.suspend_requested()) {
        if (!observer.Checkpoint(result.steps, Clock::now())) {
          return JobOutcome::Failed(absl::StrCat(
              "could not write its checkpoint while the server stopped: ",
              observer.checkpoint_error().message()));
        }
        return std::nullopt;
      }
      return JobOutcome::Cancelled(std::move(result.diagnosis));
    case StopReason::kDiverged: {
      std::string error = result.diagnosis.message;
      if (error.empty()) error = absl::StrCat("training diverged at step ", result.steps);
      return JobOutcome::Failed(std::move(error), std::move(result.diagnosis));
    }
    case StopReason::kCompleted:
    case StopReason::kEarlyStopped:
      break;
  }
  auto model = std::make_shared<TrainedModel>();
  model->job_id = job.id();
  model->spec = job.spec();
  model->inputs = trainer.network().inputs();
  model->activations = trainer.network().activations();
  // The trainer ends with this function: its parameters become the model's without a copy.
  model->parameters = trainer.mutable_network().ReleaseParameters();
  model->loss = input.train_spec.loss;
  model->feature_names = std::move(feature_names);
  model->class_names = std::move(class_names);
  return JobOutcome::Succeeded(std::move(result.diagnosis), std::move(model));
}

}  // namespace

void RunJob(JobRecord& job, JobEventListener* listener, const CheckpointPolicy& checkpoints) {
  const ScopedFlushDenormals flush_denormals;
  // Before reading the clock for end_time.
  std::optional<JobOutcome> outcome = Train(job, listener, checkpoints);
  if (!outcome) {
    job.MarkSuspended();
    return;
  }
  job.Finish(*std::move(outcome), absl::Now(), listener);
}

}  // namespace descent::server
