#include "server/job_record.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"
#include "server/engine_to_proto.h"

namespace descent::server {

bool IsTerminal(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED;
}

JobOutcome JobOutcome::Succeeded(Diagnosis diagnosis, std::shared_ptr<const TrainedModel> model) {
  JobOutcome outcome;
  outcome.state = v1::SUCCEEDED;
  outcome.diagnosis = std::move(diagnosis);
  outcome.model = std::move(model);
  return outcome;
}

JobOutcome JobOutcome::Failed(std::string error, std::optional<Diagnosis> diagnosis) {
  JobOutcome outcome;
  outcome.state = v1::FAILED;
  outcome.error = std::move(error);
  outcome.diagnosis = std::move(diagnosis);
  return outcome;
}

JobOutcome JobOutcome::Cancelled(std::optional<Diagnosis> diagnosis) {
  JobOutcome outcome;
  outcome.state = v1::CANCELLED;
  outcome.diagnosis = std::move(diagnosis);
  return outcome;
}

JobRecord::JobRecord(std::string id, int64_t sequence, PreparedJob job, absl::Time create_time)
    : sequence_(sequence),
      labels_{std::move(id), job.spec.name()},
      spec_(std::move(job.spec)),
      request_id_(std::move(job.request_id)),
      create_time_(create_time),
      total_epochs_(job.train_spec.training.epochs) {
  absl::MutexLock lock(&mu_);
  input_ = TrainingInput{std::move(job.train_spec), std::move(job.dataset),
                         std::move(job.initial_parameters)};
  AppendStateEventLocked(create_time);
}

v1::JobState JobRecord::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

v1::Job JobRecord::Snapshot() const {
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  return SnapshotLocked(now, /*include_spec=*/true);
}

v1::Job JobRecord::SnapshotLocked(absl::Time now, bool include_spec) const {
  v1::Job job;
  job.set_id(labels_.id);
  job.set_name(labels_.name);
  job.set_state(state_);
  if (include_spec) *job.mutable_spec() = spec_;
  *job.mutable_create_time() = ToTimestamp(create_time_);
  if (state_ != v1::QUEUED && start_time_ != absl::InfinitePast()) {
    *job.mutable_start_time() = ToTimestamp(start_time_);
  }
  if (IsTerminal(state_)) *job.mutable_end_time() = ToTimestamp(end_time_);

  v1::Progress& progress = *job.mutable_progress();
  progress.set_step(history_.steps());
  progress.set_total_steps(total_steps_);
  progress.set_epoch(epoch_);
  progress.set_total_epochs(total_epochs_);
  if (start_time_ != absl::InfinitePast()) {
    const absl::Time until = IsTerminal(state_) ? end_time_ : now;
    const double seconds = absl::ToDoubleSeconds(until - start_time_);
    if (seconds > 0) progress.set_steps_per_second(static_cast<double>(history_.steps()) / seconds);
  }

  if (train_loss_) job.set_train_loss(*train_loss_);
  if (validation_loss_) job.set_validation_loss(*validation_loss_);
  if (train_metrics_) *job.mutable_train_metrics() = *train_metrics_;
  if (validation_metrics_) *job.mutable_validation_metrics() = *validation_metrics_;
  if (diagnosis_) *job.mutable_diagnosis() = *diagnosis_;
  job.set_error(error_);
  job.set_request_id(request_id_);
  return job;
}

void JobRecord::AppendStateEventLocked(absl::Time now) {
  v1::WatchJobResponse event;
  v1::StateChange& change = *event.mutable_state();
  change.set_state(state_);
  // Stored without the spec (it never changes and can be large); readers add it back.
  *change.mutable_job() = SnapshotLocked(now, /*include_spec=*/false);
  history_.AppendEvent(std::move(event));
  changed_.SignalAll();
}

void JobRecord::TransitionLocked(v1::JobState to, absl::Time now, JobEventListener* listener) {
  const absl::Time entered = state_ == v1::QUEUED ? create_time_ : start_time_;
  if (listener != nullptr) listener->OnStateChange(labels_, state_, to, now - entered);
  state_ = to;
}

void JobRecord::Start(absl::Time now, JobEventListener* listener) {
  absl::MutexLock lock(&mu_);
  DESCENT_CHECK(state_ == v1::QUEUED);
  TransitionLocked(v1::RUNNING, now, listener);
  start_time_ = now;
  AppendStateEventLocked(now);
}

void JobRecord::Finish(JobOutcome outcome, absl::Time now, JobEventListener* listener) {
  DESCENT_CHECK(IsTerminal(outcome.state));
  DESCENT_CHECK(outcome.state == v1::SUCCEEDED || outcome.model == nullptr);
  absl::MutexLock lock(&mu_);
  DESCENT_CHECK(state_ == v1::QUEUED || state_ == v1::RUNNING);
  TransitionLocked(outcome.state, now, listener);
  end_time_ = now;
  error_ = std::move(outcome.error);
  if (outcome.diagnosis) diagnosis_ = ToProto(*outcome.diagnosis);
  model_ = std::move(outcome.model);
  input_.reset();
  AppendStateEventLocked(now);
}

TrainingInput JobRecord::TakeTrainingInput() {
  absl::MutexLock lock(&mu_);
  DESCENT_CHECK(input_.has_value());
  TrainingInput input = std::move(*input_);
  input_.reset();
  return input;
}

void JobRecord::SetTotalSteps(int64_t total_steps) {
  absl::MutexLock lock(&mu_);
  total_steps_ = total_steps;
  epoch_ = 1;
}

void JobRecord::RecordStep(const StepEvent& event) {
  absl::MutexLock lock(&mu_);
  DESCENT_CHECK(event.step == history_.steps() + 1);
  history_.AppendStep(event.loss);
  epoch_ = event.epoch;
  train_loss_ = event.loss;
}

void JobRecord::RecordEpoch(const EpochSummary& summary) {
  v1::WatchJobResponse event;
  *event.mutable_epoch() = ToProto(summary);
  absl::MutexLock lock(&mu_);
  train_metrics_ = event.epoch().train();
  if (event.epoch().has_validation()) {
    validation_metrics_ = event.epoch().validation();
    validation_loss_ = event.epoch().validation().loss();
  }
  history_.AppendEvent(std::move(event));
}

absl::StatusOr<TrainedModel> JobRecord::Model() const {
  absl::MutexLock lock(&mu_);
  if (state_ != v1::SUCCEEDED) {
    std::string why = absl::StrCat("job ", labels_.id, " is ", v1::JobState_Name(state_));
    if (state_ == v1::FAILED) absl::StrAppend(&why, " (", error_, ")");
    absl::StrAppend(&why, IsTerminal(state_) ? "; only a SUCCEEDED job has a model, submit it again"
                                             : "; its model is available once it has SUCCEEDED");
    return absl::FailedPreconditionError(why);
  }
  DESCENT_CHECK(model_ != nullptr);
  return *model_;
}

LossHistory::Cursor JobRecord::WatchCursor(int64_t after_step) const {
  absl::MutexLock lock(&mu_);
  return history_.CursorAfter(after_step);
}

bool JobRecord::ReadOrWait(LossHistory::Cursor* cursor, int max_points, int max_messages,
                           absl::Time deadline, std::vector<v1::WatchJobResponse>* messages,
                           int64_t* steps_recorded) const {
  const size_t first = messages->size();
  {
    absl::MutexLock lock(&mu_);
    while (history_.AtEnd(*cursor)) {
      if (absl::Now() >= deadline) {
        *steps_recorded = history_.steps();
        return false;
      }
      // Spurious and early wake-ups just go round again.
      changed_.WaitWithDeadline(&mu_, deadline);
    }
    *steps_recorded = history_.steps();
    int points_left = max_points;
    google::protobuf::RepeatedField<double> points;
    for (int read = 0; read < max_messages && points_left > 0; ++read) {
      int64_t first_step = 0;
      const LossHistory::Event* event = history_.Read(cursor, points_left, &first_step, &points);
      if (event != nullptr) {
        messages->push_back(event->message);
      } else if (!points.empty()) {
        points_left -= points.size();
        v1::LossPoints& losses = *messages->emplace_back().mutable_losses();
        losses.set_first_step(first_step);
        losses.mutable_losses()->Swap(&points);
      } else {
        break;
      }
    }
  }
  // The spec is immutable: copy it outside the lock so training never waits for it.
  for (size_t i = first; i < messages->size(); ++i) {
    v1::WatchJobResponse& message = (*messages)[i];
    if (message.has_state()) *message.mutable_state()->mutable_job()->mutable_spec() = spec_;
  }
  return true;
}

}  // namespace descent::server
