#include "server/sweeps/sweep_run.h"

#include <utility>

#include "server/conversion/engine_to_proto.h"
#include "server/sweeps/sweep_spec.h"

namespace descent::server {
namespace {

bool IsTerminal(v1::TrialState state) {
  return state != v1::TRIAL_PENDING && state != v1::TRIAL_RUNNING;
}

}  // namespace

std::optional<double> ObjectiveValue(v1::ObjectiveMetric metric, const v1::EpochSummary& epoch) {
  switch (metric) {
    case v1::TRAIN_LOSS:
      return epoch.has_train() ? std::optional<double>(epoch.train().loss()) : std::nullopt;
    case v1::TRAIN_ACCURACY:
      return epoch.train().has_accuracy() ? std::optional<double>(epoch.train().accuracy())
                                          : std::nullopt;
    case v1::VALIDATION_ACCURACY:
      return epoch.validation().has_accuracy()
                 ? std::optional<double>(epoch.validation().accuracy())
                 : std::nullopt;
    case v1::VALIDATION_R2:
      return epoch.validation().has_r2() ? std::optional<double>(epoch.validation().r2())
                                         : std::nullopt;
    default:
      return epoch.has_validation() ? std::optional<double>(epoch.validation().loss())
                                    : std::nullopt;
  }
}

SweepRun::SweepRun(std::string id, v1::SweepSpec spec, const std::vector<TrialValues>& trials,
                   absl::Time now)
    : job_running_(trials.size(), false), stopper_(MakeEarlyStopper(spec)) {
  sweep_.set_id(std::move(id));
  sweep_.set_state(v1::SWEEP_RUNNING);
  *sweep_.mutable_create_time() = ToTimestamp(now);
  for (size_t t = 0; t < trials.size(); ++t) {
    v1::Trial* trial = sweep_.add_trials();
    trial->set_index(static_cast<int>(t));
    trial->set_state(v1::TRIAL_PENDING);
    for (int j = 0; j < spec.parameters_size() && j < static_cast<int>(trials[t].size()); ++j) {
      v1::TrialParameter* parameter = trial->add_parameters();
      parameter->set_path(spec.parameters(j).path());
      *parameter->mutable_value() = trials[t][j];
    }
  }
  *sweep_.mutable_spec() = std::move(spec);
}

SweepRun::SweepRun(v1::Sweep stored, std::vector<v1::TrialEvent> events)
    : sweep_(std::move(stored)),
      job_running_(sweep_.trials_size(), false),
      events_(std::move(events)),
      stopper_(MakeEarlyStopper(sweep_.spec())),
      saved_events_(events_.size()),
      stored_(true) {
  for (const v1::TrialEvent& event : events_) {
    if (event.kind() != v1::TrialEvent::REPORTED) continue;
    // Its decision is stored already (a STOPPED event follows a stop): only the records count.
    (void)stopper_->Report(event.trial(), event.report().step(), event.report().value());
  }
}

SweepWrite SweepRun::PendingWrite() const {
  SweepWrite write;
  write.sweep = sweep();
  write.lease_token = lease_token_;
  write.events.assign(events_.begin() + static_cast<std::ptrdiff_t>(saved_events_), events_.end());
  return write;
}

v1::Sweep SweepRun::sweep() const {
  v1::Sweep sweep = sweep_;
  int64_t run = 0, full = 0;
  for (const v1::Trial& trial : sweep.trials()) {
    run += trial.step();
    full += trial.total_steps();
  }
  sweep.set_steps_run(run);
  sweep.set_steps_full(full);
  return sweep;
}

bool SweepRun::ended() const {
  if (sweep_.state() == v1::SWEEP_RUNNING) return false;
  for (const v1::Trial& trial : sweep_.trials()) {
    if (trial.state() == v1::TRIAL_RUNNING || job_running_[trial.index()]) return false;
  }
  return true;
}

std::optional<int> SweepRun::ClaimNextTrial() {
  if (sweep_.state() != v1::SWEEP_RUNNING) return std::nullopt;
  int running = 0;
  std::optional<int> next;
  for (const v1::Trial& trial : sweep_.trials()) {
    if (trial.state() == v1::TRIAL_RUNNING) ++running;
    if (trial.state() == v1::TRIAL_PENDING && !next.has_value()) next = trial.index();
  }
  if (!next.has_value() || running >= MaxConcurrentTrials(sweep_.spec())) return std::nullopt;
  sweep_.mutable_trials(*next)->set_state(v1::TRIAL_RUNNING);
  return next;
}

void SweepRun::Unclaim(int trial) { sweep_.mutable_trials(trial)->set_state(v1::TRIAL_PENDING); }

v1::TrialEvent& SweepRun::AddEvent(int trial, v1::TrialEvent::Kind kind) {
  v1::TrialEvent& event = events_.emplace_back();
  event.set_sequence(static_cast<int64_t>(events_.size()));
  event.set_trial(trial);
  event.set_kind(kind);
  event.set_job_id(sweep_.trials(trial).job_id());
  return event;
}

void SweepRun::Started(int trial, const v1::Job& job) {
  v1::Trial* t = sweep_.mutable_trials(trial);
  t->set_job_id(job.id());
  t->set_total_steps(job.progress().total_steps());
  job_running_[trial] = true;
  AddEvent(trial, v1::TrialEvent::STARTED);
}

void SweepRun::StartFailed(int trial, const absl::Status& error) {
  v1::Trial* t = sweep_.mutable_trials(trial);
  t->set_state(v1::TRIAL_FAILED);
  t->set_error(std::string(error.message()));
  AddEvent(trial, v1::TrialEvent::FINISHED).set_state(v1::TRIAL_FAILED);
  EndIfDone(absl::Now());
}

void SweepRun::Progress(int trial, int64_t step) {
  v1::Trial* t = sweep_.mutable_trials(trial);
  if (t->state() == v1::TRIAL_RUNNING && step > t->step()) t->set_step(step);
}

bool SweepRun::Epoch(int trial, const v1::EpochSummary& epoch) {
  v1::Trial* t = sweep_.mutable_trials(trial);
  if (t->state() != v1::TRIAL_RUNNING) return false;
  const std::optional<double> value =
      ObjectiveValue(MetricOf(sweep_.spec().objective()), epoch);
  if (!value.has_value()) return false;
  if (!t->reports().empty() && epoch.last_step() <= t->reports().rbegin()->step()) return false;
  v1::TrialReport* report = t->add_reports();
  report->set_step(epoch.last_step());
  report->set_value(*value);
  t->set_objective(*value);
  if (epoch.last_step() > t->step()) t->set_step(epoch.last_step());
  *AddEvent(trial, v1::TrialEvent::REPORTED).mutable_report() = *report;
  std::optional<std::string> stop = stopper_->Report(trial, epoch.last_step(), *value);
  if (!stop.has_value()) return false;
  t->set_state(v1::TRIAL_STOPPED);
  t->set_stop_reason(*stop);
  AddEvent(trial, v1::TrialEvent::STOPPED).set_reason(*stop);
  EndIfDone(absl::Now());
  return true;
}

void SweepRun::Finished(int trial, const v1::Job& job, absl::Time now) {
  v1::Trial* t = sweep_.mutable_trials(trial);
  if (job.progress().step() > t->step()) t->set_step(job.progress().step());
  job_running_[trial] = false;
  if (IsTerminal(t->state())) {  // stopped by the rule: its reason stands
    EndIfDone(now);
    return;
  }
  switch (job.state()) {
    case v1::SUCCEEDED:
      t->set_state(v1::TRIAL_SUCCEEDED);
      break;
    case v1::FAILED:
      t->set_state(v1::TRIAL_FAILED);
      t->set_error(job.error());
      break;
    default:
      t->set_state(v1::TRIAL_CANCELLED);
      break;
  }
  AddEvent(trial, v1::TrialEvent::FINISHED).set_state(t->state());
  EndIfDone(now);
}

std::vector<std::string> SweepRun::Cancel(absl::Time now) {
  std::vector<std::string> running;
  if (sweep_.state() != v1::SWEEP_RUNNING) return running;
  sweep_.set_state(v1::SWEEP_CANCELLED);
  *sweep_.mutable_end_time() = ToTimestamp(now);
  for (v1::Trial& trial : *sweep_.mutable_trials()) {
    if (trial.state() == v1::TRIAL_PENDING) {
      trial.set_state(v1::TRIAL_CANCELLED);
      AddEvent(trial.index(), v1::TrialEvent::FINISHED).set_state(v1::TRIAL_CANCELLED);
    } else if (job_running_[trial.index()]) {
      running.push_back(trial.job_id());
    }
  }
  return running;
}

void SweepRun::EndIfDone(absl::Time now) {
  std::optional<int> best;
  const v1::Goal goal = GoalOf(sweep_.spec().objective());
  for (const v1::Trial& trial : sweep_.trials()) {
    if (trial.state() == v1::TRIAL_SUCCEEDED && trial.has_objective() &&
        (!best.has_value() ||
         IsBetter(trial.objective(), sweep_.trials(*best).objective(), goal))) {
      best = trial.index();
    }
  }
  if (best.has_value()) sweep_.set_best_trial(*best);
  if (sweep_.state() != v1::SWEEP_RUNNING) return;
  for (const v1::Trial& trial : sweep_.trials()) {
    if (!IsTerminal(trial.state()) || job_running_[trial.index()]) return;
  }
  sweep_.set_state(v1::SWEEP_SUCCEEDED);
  *sweep_.mutable_end_time() = ToTimestamp(now);
}

}  // namespace descent::server
