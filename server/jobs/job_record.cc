#include "server/jobs/job_record.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/jobs/store_conversion.h"
#include "server/conversion/engine_to_proto.h"

namespace descent::server {

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

JobOutcome JobOutcome::RangeTested(v1::LrFindResult result) {
  JobOutcome outcome;
  outcome.state = v1::SUCCEEDED;
  outcome.lr_find = std::move(result);
  return outcome;
}

JobRecord::JobRecord(std::string id, int64_t sequence, const v1::JobSpec& spec,
                     std::string request_id, absl::Time create_time, int total_epochs,
                     JobStore* store)
    : sequence_(sequence),
      labels_{std::move(id), spec.name()},
      spec_(spec),
      request_id_(std::move(request_id)),
      create_time_(create_time),
      total_epochs_(total_epochs),
      store_(store) {}

JobRecord::JobRecord(std::string id, int64_t sequence, PreparedJob job, absl::Time create_time,
                     JobStore* store)
    : JobRecord(std::move(id), sequence, job.spec, std::move(job.request_id), create_time,
                job.train_spec.training.epochs, store) {
  epoch_gate_ = std::move(job.epoch_gate);
  absl::MutexLock lock(&mu_);
  // Known before training starts, so QUEUED and RUNNING snapshots carry it too.
  // A range test stops at its last step, inside its last epoch.
  total_steps_ = job.lr_find ? job.lr_find->steps
                             : PlannedSteps(job.train_spec.training, job.dataset.samples());
  input_ = TrainingInput{std::move(job.train_spec), std::move(job.dataset),
                         std::move(job.initial_parameters), false, std::nullopt,
                         std::move(job.lr_find)};
  AppendEventLocked(StateEventLocked(create_time));
}

std::unique_ptr<JobRecord> JobRecord::FromStore(const StoredJob& stored, LossHistory window,
                                                std::optional<double> last_loss,
                                                JobStore* store) {
  const v1::Job& job = stored.job;
  DESCENT_CHECK(job.state() == v1::QUEUED || job.state() == v1::RUNNING);
  std::unique_ptr<JobRecord> record(new JobRecord(
      job.id(), stored.sequence, stored.spec, job.request_id(), FromTimestamp(job.create_time()),
      job.progress().total_epochs(), store));
  absl::MutexLock lock(&record->mu_);
  JobRecord& r = *record;
  r.state_ = job.state();
  if (job.has_start_time()) r.start_time_ = FromTimestamp(job.start_time());
  r.total_steps_ = job.progress().total_steps();
  r.epoch_ = job.progress().epoch();
  // A running job continues from its checkpoint: its last loss is the one trained before it.
  r.train_loss_ = last_loss;
  if (job.has_validation_loss()) r.validation_loss_ = job.validation_loss();
  if (job.has_train_metrics()) r.train_metrics_ = job.train_metrics();
  if (job.has_validation_metrics()) r.validation_metrics_ = job.validation_metrics();
  if (job.has_diagnosis()) r.diagnosis_ = job.diagnosis();
  r.error_ = job.error();
  r.runner_ = job.runner();
  r.history_ = std::move(window);
  r.stored_steps_ = r.history_.steps();
  r.stored_events_ = r.history_.events_end();
  return record;
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
  if (lr_find_) *job.mutable_lr_find() = *lr_find_;
  job.set_error(error_);
  job.set_request_id(request_id_);
  job.set_runner(runner_);
  return job;
}

v1::WatchJobResponse JobRecord::StateEventLocked(absl::Time now) const {
  v1::WatchJobResponse event;
  v1::StateChange& change = *event.mutable_state();
  change.set_state(state_);
  // Stored without the spec (it never changes and can be large); readers add it back.
  *change.mutable_job() = SnapshotLocked(now, /*include_spec=*/false);
  return event;
}

void JobRecord::AppendEventLocked(v1::WatchJobResponse event) {
  history_.AppendEvent(std::move(event));
  WakeWatchersLocked();
}

void JobRecord::WakeWatchers() {
  absl::MutexLock lock(&mu_);
  WakeWatchersLocked();
}

void JobRecord::WakeWatchersLocked() {
  ++wake_ups_;
  changed_.SignalAll();
}

JobWrite JobRecord::PendingWriteLocked(const v1::WatchJobResponse* next_event) const {
  JobWrite write;
  write.sequence = sequence_;
  write.lease_token = lease_token_;
  write.job = SnapshotLocked(absl::Now(), /*include_spec=*/false);
  write.first_step = stored_steps_ + 1;
  write.losses.reserve(static_cast<size_t>(history_.steps() - stored_steps_));
  for (int64_t step = stored_steps_ + 1; step <= history_.steps(); ++step) {
    write.losses.push_back(history_.loss(step));
  }
  for (size_t i = stored_events_; i < history_.events_end(); ++i) {
    const LossHistory::Event& event = history_.event(i);
    write.events.push_back(StoredEvent{event.after_step, event.message});
  }
  if (next_event != nullptr) write.events.push_back(StoredEvent{history_.steps(), *next_event});
  return write;
}

absl::Status JobRecord::WriteLocked(const JobWrite& write) {
  if (lease_lost()) return LeaseLostError(sequence_);
  const absl::Status written = store_->Write(write);
  if (IsLeaseLost(written)) LoseLease();
  RETURN_IF_ERROR(written);
  // An event passed to PendingWriteLocked is recorded right after this, under the same lock.
  stored_steps_ = write.first_step - 1 + static_cast<int64_t>(write.losses.size());
  stored_events_ += write.events.size();
  // What is stored is read back from the store when a watcher needs it.
  history_.Trim(stored_steps_);
  return absl::OkStatus();
}

bool JobRecord::FullyStored() const {
  absl::MutexLock lock(&mu_);
  return store_ != nullptr && stored_steps_ == history_.steps() &&
         stored_events_ == history_.events_end();
}

absl::Status JobRecord::Insert() {
  if (store_ == nullptr) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  JobWrite write = PendingWriteLocked(nullptr);
  RETURN_IF_ERROR(store_->Insert(spec_, write));
  stored_steps_ = history_.steps();
  stored_events_ = history_.events_end();
  return absl::OkStatus();
}

void JobRecord::TransitionLocked(v1::JobState to, absl::Time now, JobEventListener* listener) {
  const absl::Time entered = state_ == v1::QUEUED ? create_time_ : start_time_;
  if (listener != nullptr) listener->OnStateChange(labels_, state_, to, now - entered);
  state_ = to;
}

absl::Status JobRecord::Start(absl::Time now, JobEventListener* listener) {
  absl::MutexLock lock(&mu_);
  DESCENT_CHECK(state_ == v1::QUEUED);
  TransitionLocked(v1::RUNNING, now, listener);
  start_time_ = now;
  v1::WatchJobResponse event = StateEventLocked(now);
  absl::Status stored = absl::OkStatus();
  if (store_ != nullptr) stored = WriteLocked(PendingWriteLocked(&event));
  AppendEventLocked(std::move(event));
  return stored;
}

void JobRecord::Finish(JobOutcome outcome, absl::Time now, JobEventListener* listener) {
  DESCENT_CHECK(IsTerminal(outcome.state));
  DESCENT_CHECK(outcome.state == v1::SUCCEEDED || outcome.model == nullptr);
  absl::MutexLock lock(&mu_);
  DESCENT_CHECK(state_ == v1::QUEUED || state_ == v1::RUNNING);
  const v1::JobState from = state_;
  // What a write refused for a lost lease puts back.
  std::string error_before = error_;
  std::optional<v1::Diagnosis> diagnosis_before = diagnosis_;
  // Results first, so the terminal row and event carry them; the listener hears of the
  // transition once the outcome is final.
  state_ = outcome.state;
  end_time_ = now;
  error_ = std::move(outcome.error);
  if (outcome.diagnosis) diagnosis_ = ToProto(*outcome.diagnosis);
  lr_find_ = std::move(outcome.lr_find);
  model_ = std::move(outcome.model);
  input_.reset();
  if (store_ != nullptr) {
    v1::WatchJobResponse event = StateEventLocked(now);
    JobWrite write = PendingWriteLocked(&event);
    write.clear_checkpoint = true;
    if (model_ != nullptr) write.model = ToStored(*model_);
    absl::Status stored = WriteLocked(write);
    if (IsLeaseLost(stored)) {
      state_ = from;
      end_time_ = absl::InfinitePast();
      error_ = std::move(error_before);
      diagnosis_ = std::move(diagnosis_before);
      model_.reset();
      suspended_ = true;
      WakeWatchersLocked();
      return;
    }
    if (!stored.ok() && state_ == v1::SUCCEEDED) {
      state_ = v1::FAILED;
      error_ = absl::StrCat("training completed but its model could not be stored: ",
                            stored.message());
      model_.reset();
      event = StateEventLocked(now);
      write = PendingWriteLocked(&event);
      write.clear_checkpoint = true;
      stored = WriteLocked(write);
    }
    if (!stored.ok() && listener != nullptr) {
      // The store keeps the job as it last wrote it (a running job resumes from its last
      // checkpoint at the next start); this process reports the outcome it has.
      listener->OnEndNotStored(labels_, state_, stored);
    }
  }
  const absl::Time entered = from == v1::QUEUED ? create_time_ : start_time_;
  if (listener != nullptr) {
    listener->OnStateChange(labels_, from, state_, now - entered);
    listener->OnFinished(SnapshotLocked(now, /*include_spec=*/false));
  }
  AppendEventLocked(StateEventLocked(now));
}

void JobRecord::SetLease(int64_t token) {
  absl::MutexLock lock(&mu_);
  lease_token_ = token;
}

int64_t JobRecord::lease_token() const {
  absl::MutexLock lock(&mu_);
  return lease_token_;
}

void JobRecord::SetRunner(std::string runner) {
  absl::MutexLock lock(&mu_);
  runner_ = std::move(runner);
}

void JobRecord::SetTrainingInput(TrainingInput input,
                                 std::function<bool(const v1::EpochSummary&)> epoch_gate) {
  absl::MutexLock lock(&mu_);
  DESCENT_CHECK(!input_.has_value() && !IsTerminal(state_));
  input_ = std::move(input);
  // Before a worker takes the job, whose training thread alone reads it (happens-before
  // through the queue's lock).
  epoch_gate_ = std::move(epoch_gate);
}

absl::Status JobRecord::SaveCheckpoint(store::v1::Checkpoint checkpoint) {
  if (store_ == nullptr) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  JobWrite write = PendingWriteLocked(nullptr);
  write.checkpoint = std::move(checkpoint);
  return WriteLocked(write);
}

absl::Status JobRecord::SaveProgress() {
  if (store_ == nullptr) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  return WriteLocked(PendingWriteLocked(nullptr));
}

void JobRecord::RecordResumed() {
  absl::MutexLock lock(&mu_);
  v1::WatchJobResponse event;
  event.mutable_resumed()->set_step(history_.steps());
  resumed_at_ = history_.steps();
  AppendEventLocked(std::move(event));
}

std::optional<v1::WatchJobResponse> JobRecord::ResumedBefore(int64_t after_step) const {
  absl::MutexLock lock(&mu_);
  if (resumed_at_ < 0 || resumed_at_ >= after_step) return std::nullopt;
  v1::WatchJobResponse event;
  event.mutable_resumed()->set_step(resumed_at_);
  return event;
}

std::optional<int64_t> JobRecord::resumed_at() const {
  absl::MutexLock lock(&mu_);
  if (resumed_at_ < 0) return std::nullopt;
  return resumed_at_;
}

void JobRecord::MarkSuspended() {
  absl::MutexLock lock(&mu_);
  suspended_ = true;
  WakeWatchersLocked();
}

void JobRecord::MarkHandedOver() {
  absl::MutexLock lock(&mu_);
  handed_over_ = true;
  suspended_ = true;
  WakeWatchersLocked();
}

bool JobRecord::handed_over() const {
  absl::MutexLock lock(&mu_);
  return handed_over_;
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
  epoch_ = std::max(epoch_, 1);  // a resumed run keeps its epoch
}

void JobRecord::RecordSteps(int64_t first_step, absl::Span<const double> losses, int epoch) {
  if (losses.empty()) return;
  absl::MutexLock lock(&mu_);
  DESCENT_CHECK(first_step == history_.steps() + 1);
  for (double loss : losses) history_.AppendStep(loss);
  epoch_ = epoch;
  train_loss_ = losses.back();
}

void JobRecord::RecordEpoch(const EpochSummary& summary) {
  v1::WatchJobResponse event;
  *event.mutable_epoch() = ToProto(summary);
  const bool gated = epoch_gate_ != nullptr;
  const v1::EpochSummary gated_summary = gated ? event.epoch() : v1::EpochSummary();
  {
    absl::MutexLock lock(&mu_);
    train_metrics_ = event.epoch().train();
    if (event.epoch().has_validation()) {
      validation_metrics_ = event.epoch().validation();
      validation_loss_ = event.epoch().validation().loss();
    }
    history_.AppendEvent(std::move(event));
  }
  if (gated && !epoch_gate_(gated_summary)) RequestCancel();
}

absl::Status NoModelError(const std::string& id, v1::JobState state, const std::string& error) {
  std::string why = absl::StrCat("job ", id, " is ", v1::JobState_Name(state));
  if (state == v1::FAILED) absl::StrAppend(&why, " (", error, ")");
  absl::StrAppend(&why, IsTerminal(state) ? "; only a SUCCEEDED job has a model, submit it again"
                                          : "; its model is available once it has SUCCEEDED");
  return absl::FailedPreconditionError(why);
}

absl::Status RangeTestModelError(const std::string& id) {
  return absl::FailedPreconditionError(absl::StrCat(
      "job ", id, " is a learning-rate range test (lr-find), which keeps no model; submit the "
      "job file with the suggested learning rate to train one"));
}

absl::StatusOr<TrainedModel> JobRecord::Model() const {
  if (spec_.has_lr_find()) return RangeTestModelError(labels_.id);
  absl::MutexLock lock(&mu_);
  if (state_ != v1::SUCCEEDED) return NoModelError(labels_.id, state_, error_);
  DESCENT_CHECK(model_ != nullptr);
  return *model_;
}

LossHistory::Cursor JobRecord::WatchCursor(int64_t after_step) const {
  absl::MutexLock lock(&mu_);
  return LossHistory::Cursor::After(after_step, history_.ended_at());
}

ReadResult JobRecord::ReadOrWait(LossHistory::Cursor* cursor, int max_points, int max_messages,
                                 absl::Time deadline, uint64_t* wake_ups_read,
                                 std::vector<v1::WatchJobResponse>* messages,
                                 int64_t* steps_recorded) const {
  const size_t first = messages->size();
  {
    absl::MutexLock lock(&mu_);
    while (true) {
      if (!history_.Holds(*cursor)) {
        *steps_recorded = history_.steps();
        return ReadResult::kBehind;
      }
      const bool past_deadline = absl::Now() >= deadline;
      if (!history_.AtEnd(*cursor)) {
        if (wake_ups_ != *wake_ups_read || suspended_ || past_deadline ||
            history_.steps() - cursor->position() >= max_points) {
          break;
        }
      } else if (suspended_ || past_deadline) {
        *steps_recorded = history_.steps();
        return suspended_ ? ReadResult::kSuspended : ReadResult::kTimedOut;
      }
      // Spurious and early wake-ups just go round again.
      changed_.WaitWithDeadline(&mu_, deadline);
    }
    *steps_recorded = history_.steps();
    history_.ReadMessages(cursor, max_points, max_messages, messages);
    // A read cut short by max_messages or max_points leaves the wake-up for the next one,
    // which then reads on at once.
    if (history_.AtEnd(*cursor)) *wake_ups_read = wake_ups_;
  }
  // The spec is immutable: copy it outside the lock so training never waits for it.
  for (size_t i = first; i < messages->size(); ++i) {
    v1::WatchJobResponse& message = (*messages)[i];
    if (message.has_state()) *message.mutable_state()->mutable_job()->mutable_spec() = spec_;
  }
  return ReadResult::kRead;
}

}  // namespace descent::server
