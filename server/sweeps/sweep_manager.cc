#include "server/sweeps/sweep_manager.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "server/sweeps/sweep_spec.h"
#include "server/sweeps/trial_sampling.h"

namespace descent::server {
namespace {

constexpr int kMaxJobNameLength = 128;

std::string TrialJobName(const v1::SweepSpec& spec, int trial) {
  const std::string& base = spec.base().name().empty() ? spec.name() : spec.base().name();
  const std::string suffix = absl::StrCat(" trial ", trial);
  return base.substr(0, kMaxJobNameLength - suffix.size()) + suffix;
}

absl::StatusOr<v1::JobSpec> TrialJobSpec(const v1::SweepSpec& spec, const TrialValues& values,
                                         int trial, absl::string_view id) {
  ASSIGN_OR_RETURN(v1::JobSpec job, TrialSpec(spec, values, trial, id));
  job.set_name(TrialJobName(spec, trial));
  return job;
}

constexpr absl::string_view kTrialRequestInfix = "/trial-";

// The request_id of a trial's job: submitted again, it is the same job.
std::string TrialRequestId(absl::string_view id, int trial) {
  return absl::StrCat(id, kTrialRequestInfix, trial);
}

TrialValues ValuesOf(const v1::Trial& trial) {
  TrialValues values;
  for (const v1::TrialParameter& parameter : trial.parameters()) values.push_back(parameter.value());
  return values;
}

}  // namespace

SweepManager::SweepManager(JobManager* jobs, SweepEventListener* listener, TrialPreparer prepare,
                           SweepStore* store)
    : jobs_(jobs),
      listener_(listener),
      prepare_(std::move(prepare)),
      store_(store),
      gatekeeper_(std::make_shared<Gatekeeper>()) {
  absl::MutexLock lock(&gatekeeper_->mutex);
  gatekeeper_->manager = this;
}

SweepManager::~SweepManager() { Shutdown(); }

absl::StatusOr<v1::Sweep> SweepManager::Create(const v1::SweepSpec& spec) {
  ReapFollowers();
  RETURN_IF_ERROR(ValidateSweepSpec(spec));
  ASSIGN_OR_RETURN(const std::vector<TrialValues> trials, SampleTrials(spec));
  // Every trial's job is checked now, so a sweep never fails half-way on a spec it accepted.
  for (size_t t = 0; t < trials.size(); ++t) {
    ASSIGN_OR_RETURN(const v1::JobSpec job, TrialJobSpec(spec, trials[t], t, "sweep-check"));
    const auto prepared = prepare_(job);
    if (!prepared.ok()) {
      return absl::Status(prepared.status().code(),
                          absl::StrCat("trial ", t, ": ", prepared.status().message()));
    }
  }
  std::string id;
  {
    absl::MutexLock lock(&mutex_);
    if (shutting_down_) return absl::UnavailableError("the server is shutting down; retry");
    if (shared() && !holder_.has_value()) {
      return absl::UnavailableError("the server is starting; retry");
    }
    do {
      id = absl::StrFormat("sweep-%012x", absl::Uniform<uint64_t>(random_, 0, uint64_t{1} << 48));
    } while (sweeps_.contains(id));
    auto run = std::make_shared<SweepRun>(id, spec, trials, absl::Now());
    // Stored before it is answered or any trial starts: an acknowledged sweep survives.
    if (store_ != nullptr) {
      const SweepWrite write = run->PendingWrite();
      RETURN_IF_ERROR(store_->InsertSweep(write));
      run->MarkStored();
      run->MarkSaved(write.events.size());
    }
    if (shared()) {
      // Another replica's claim may come first (the row is claimable once inserted): then
      // that replica drives the sweep, and this one answers from the store.
      const absl::StatusOr<std::optional<SweepLease>> lease = store_->ClaimSweep(*holder_, id);
      if (!lease.ok() || !lease->has_value()) run.reset();
      if (run != nullptr) run->set_lease_token((*lease)->token);
    }
    if (run != nullptr) {
      sweeps_[id] = std::move(run);
      order_.push_back(id);
      Announce(*sweeps_[id]);
    }
  }
  StartTrials(id);
  return Get(id);
}

absl::StatusOr<v1::Sweep> SweepManager::Get(absl::string_view id) const {
  {
    absl::MutexLock lock(&mutex_);
    const auto found = sweeps_.find(std::string(id));
    if (found != sweeps_.end() && (!shared() || DrivenLocked(found->first) != nullptr)) {
      return found->second->sweep();
    }
  }
  if (shared()) {
    absl::StatusOr<v1::Sweep> stored = store_->ReadSweep(std::string(id));
    if (!absl::IsNotFound(stored.status())) return stored;
  }
  return absl::NotFoundError(absl::StrCat("no sweep ", id, "; descent sweep list shows them"));
}

absl::StatusOr<std::vector<v1::Sweep>> SweepManager::List() const {
  std::vector<v1::Sweep> sweeps;
  if (shared()) {
    ASSIGN_OR_RETURN(std::vector<v1::Sweep> stored, store_->LoadSweeps());
    absl::MutexLock lock(&mutex_);
    for (auto sweep = stored.rbegin(); sweep != stored.rend(); ++sweep) {
      const SweepRun* run = DrivenLocked(sweep->id());
      sweeps.push_back(run != nullptr ? run->sweep() : std::move(*sweep));
    }
  } else {
    absl::MutexLock lock(&mutex_);
    for (auto id = order_.rbegin(); id != order_.rend(); ++id) {
      sweeps.push_back(sweeps_.at(*id)->sweep());
    }
  }
  for (v1::Sweep& sweep : sweeps) {
    for (v1::Trial& trial : *sweep.mutable_trials()) trial.clear_reports();
  }
  return sweeps;
}

SweepRun* SweepManager::DrivenLocked(const std::string& id) const {
  if (abandoned_) return nullptr;
  const auto found = sweeps_.find(id);
  if (found == sweeps_.end() || found->second->lease_lost()) return nullptr;
  return found->second.get();
}

absl::StatusOr<v1::Sweep> SweepManager::Cancel(absl::string_view id) {
  if (shared()) {
    bool driven;
    {
      absl::MutexLock lock(&mutex_);
      driven = DrivenLocked(std::string(id)) != nullptr;
    }
    if (!driven) {
      // Recorded for the replica that drives it, which cancels it at its next renewal (within
      // a third of the lease timeout), or for the one that claims it next.
      ASSIGN_OR_RETURN(const v1::SweepState state, store_->RequestSweepCancel(std::string(id)));
      if (state != v1::SWEEP_RUNNING) {
        return absl::FailedPreconditionError(absl::StrCat(
            "sweep ", id, " has already ended (", v1::SweepState_Name(state), ")"));
      }
      return Get(id);
    }
  }
  std::vector<std::string> running;
  {
    absl::MutexLock lock(&mutex_);
    SweepRun* const run = DrivenLocked(std::string(id));
    if (run == nullptr) return absl::NotFoundError(absl::StrCat("no sweep ", id));
    if (run->state().state() != v1::SWEEP_RUNNING) {
      return absl::FailedPreconditionError(absl::StrCat(
          "sweep ", id, " has already ended (", v1::SweepState_Name(run->state().state()), ")"));
    }
    running = run->Cancel(absl::Now());
    Persist(*run);
    Announce(*run);
    changed_.SignalAll();
  }
  for (const std::string& job_id : running) {
    // A job that ended meanwhile is FAILED_PRECONDITION: its end reaches the sweep anyway.
    (void)jobs_->Cancel(job_id);
  }
  return Get(id);
}

void SweepManager::StartTrials(const std::string& id) {
  for (;;) {
    int trial;
    v1::SweepSpec spec;
    TrialValues values;
    {
      absl::MutexLock lock(&mutex_);
      if (shutting_down_ || DrivenLocked(id) == nullptr) return;
      SweepRun& run = *DrivenLocked(id);
      const std::optional<int> next = run.ClaimNextTrial();
      if (!next.has_value()) return;
      trial = *next;
      spec = run.state().spec();
      values = ValuesOf(run.state().trials(trial));
    }
    absl::StatusOr<PreparedJob> prepared = [&]() -> absl::StatusOr<PreparedJob> {
      ASSIGN_OR_RETURN(v1::JobSpec job_spec, TrialJobSpec(spec, values, trial, id));
      return prepare_(job_spec);
    }();
    if (prepared.ok()) {
      prepared->request_id = TrialRequestId(id, trial);
      GateTrial(&*prepared);
    }
    // Submitted under the lock, so the trial's STARTED event comes before anything its epoch
    // gate reports (the job manager calls no code of this class while it holds its own locks).
    absl::MutexLock lock(&mutex_);
    // A run that went stale meanwhile submits nothing: whoever took it over submits the trial
    // (still PENDING in the store) as the same job, by its request_id.
    if (DrivenLocked(id) == nullptr) return;
    const absl::StatusOr<v1::Job> job =
        prepared.ok() ? jobs_->Submit(*std::move(prepared)) : prepared.status();
    SweepRun& run = *DrivenLocked(id);
    if (!job.ok() && (shutting_down_ || job.status().code() == absl::StatusCode::kUnavailable)) {
      run.Unclaim(trial);
      Persist(run);
      Announce(run);
      return;
    }
    if (!job.ok()) {
      run.StartFailed(trial, job.status());
    } else {
      run.Started(trial, *job);
      FollowLocked(id, trial, job->id());
    }
    Persist(run);
    Announce(run);
    changed_.SignalAll();
  }
}

void SweepManager::FollowLocked(const std::string& id, int trial, const std::string& job_id) {
  Follower& follower = followers_.emplace_back();
  follower.thread = std::thread(&SweepManager::FollowTrial, this, id, trial, job_id,
                                sweeps_.at(id)->lease_token(), &follower);
}

void SweepManager::GateTrial(PreparedJob* job) const {
  const std::string& id = job->spec.group();
  const std::string prefix = absl::StrCat(id, kTrialRequestInfix);
  int trial = 0;
  if (id.empty() || !absl::StartsWith(job->request_id, prefix) ||
      !absl::SimpleAtoi(absl::string_view(job->request_id).substr(prefix.size()), &trial) ||
      trial < 0) {
    return;
  }
  job->epoch_gate = [gatekeeper = gatekeeper_, id, trial](const v1::EpochSummary& epoch) {
    absl::MutexLock lock(&gatekeeper->mutex);
    return gatekeeper->manager == nullptr || gatekeeper->manager->PassEpoch(id, trial, epoch);
  };
}

bool SweepManager::PassEpoch(const std::string& id, int trial, const v1::EpochSummary& epoch) {
  absl::MutexLock lock(&mutex_);
  SweepRun* const driven = DrivenLocked(id);
  if (driven == nullptr || trial >= driven->state().trials_size()) return true;
  SweepRun& run = *driven;
  // A trial stopped (or a sweep cancelled) before a restart whose job came back running.
  if (run.state().trials(trial).state() == v1::TRIAL_STOPPED ||
      run.state().state() == v1::SWEEP_CANCELLED) {
    return false;
  }
  const bool stop = run.Epoch(trial, epoch);
  Persist(run);
  if (stop) Announce(run);
  changed_.SignalAll();
  return !stop;
}

void SweepManager::Persist(SweepRun& run) {
  if (store_ == nullptr || !run.stored() || run.lease_lost() || abandoned_) return;
  const SweepWrite write = run.PendingWrite();
  const absl::Status written = store_->WriteSweep(write);
  if (written.ok()) run.MarkSaved(write.events.size());
  if (IsLeaseLost(written)) run.LoseLease();
}

void SweepManager::FollowTrial(const std::string& id, int trial, const std::string& job_id,
                               int64_t token, Follower* follower) {
  // A trial this replica trains reaches the rule through its job's epoch gate (PassEpoch, on
  // the training thread, which stops the job before its next step): the gate runs right after
  // the epoch is recorded, before the job's next step, so whichever of it and this watch
  // hands the epoch over first, the gate stops the job (PassEpoch refuses a STOPPED trial).
  // A trial another replica trains has no gate that reaches this rule: its epochs come from
  // this watch (streamed from the store) and a stop is a cancel, which its runner obeys at
  // once. The watch follows the trial's steps to its job's end, so a stopped trial's steps
  // are the steps its job really ran.
  const auto current = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) -> SweepRun* {
    SweepRun* run = DrivenLocked(id);
    return run != nullptr && run->lease_token() == token ? run : nullptr;
  };
  const auto follow = [&](const v1::WatchJobResponse& message) {
    bool stop = false;
    {
      absl::MutexLock lock(&mutex_);
      SweepRun* const run = current();
      if (run == nullptr) return false;  // no longer driven here
      const size_t events = run->events().size();
      if (message.has_epoch()) stop = run->Epoch(trial, message.epoch());
      if (run->events().size() > events) {  // not an epoch the gate reported first
        Persist(*run);
        if (stop) Announce(*run);
        changed_.SignalAll();
      }
    }
    // A job that ended meanwhile is FAILED_PRECONDITION: its end reaches the sweep anyway.
    if (stop) (void)jobs_->Cancel(job_id);
    absl::MutexLock lock(&mutex_);
    SweepRun* const driven = current();
    if (driven == nullptr) return false;
    SweepRun& run = *driven;
    if (message.has_losses() && message.losses().losses_size() > 0) {
      run.Progress(trial, message.losses().first_step() + message.losses().losses_size() - 1);
    } else if (message.has_state() && (message.state().state() == v1::SUCCEEDED ||
                                       message.state().state() == v1::FAILED ||
                                       message.state().state() == v1::CANCELLED)) {
      run.Finished(trial, message.state().job(), absl::Now());
      Persist(run);
      Announce(run);
      changed_.SignalAll();
    }
    return true;
  };
  // On a shared store a trial's job submitted here but trained by another replica leaves
  // this replica's memory once claimed there (its watch ends UNAVAILABLE as if the server
  // stopped): from then on it is followed in the store. Again from step 0: what was seen
  // already is seen again harmlessly (steps only grow, an epoch is reported once).
  absl::Status watched;
  for (;;) {
    watched = jobs_->Watch(job_id, 0, follow);
    if (watched.code() != absl::StatusCode::kUnavailable || !shared()) break;
    absl::MutexLock lock(&mutex_);
    (void)changed_.WaitWithDeadline(&mutex_, absl::Now() + absl::Milliseconds(100));
    if (shutting_down_ || current() == nullptr) break;
  }
  if (watched.code() == absl::StatusCode::kNotFound) {
    absl::MutexLock lock(&mutex_);
    if (SweepRun* const run = current(); run != nullptr) {
      run->Finished(trial, v1::Job(), absl::Now());  // deleted by retention
      Persist(*run);
    }
  }
  // UNAVAILABLE: the server stops, and the trial's job continues at its next start.
  if (watched.ok()) StartTrials(id);
  absl::MutexLock lock(&mutex_);
  follower->done = true;
  changed_.SignalAll();
}

void SweepManager::Announce(const SweepRun& run) {
  if (listener_ == nullptr) return;
  SweepTally tally;
  const v1::Sweep& sweep = run.state();
  tally.sweep_id = sweep.id();
  tally.metric = MetricOf(sweep.spec().objective());
  for (const v1::Trial& trial : sweep.trials()) {
    if (trial.state() > 0 && trial.state() < static_cast<int>(tally.trials_by_state.size())) {
      ++tally.trials_by_state[trial.state()];
    }
  }
  if (sweep.has_best_trial()) tally.best_objective = sweep.trials(sweep.best_trial()).objective();
  listener_->OnSweepChanged(tally);
}

void SweepManager::ReapFollowers() {
  std::list<Follower> done;
  {
    absl::MutexLock lock(&mutex_);
    for (auto it = followers_.begin(); it != followers_.end();) {
      if (it->done) {
        auto next = std::next(it);
        done.splice(done.end(), followers_, it);
        it = next;
      } else {
        ++it;
      }
    }
  }
  for (Follower& follower : done) follower.thread.join();
}

absl::Status SweepManager::Watch(absl::string_view id, int64_t after_event,
                                 const std::function<bool(const v1::WatchSweepResponse&)>& send,
                                 const std::function<bool()>& alive) {
  ReapFollowers();
  const std::string sweep_id(id);
  v1::WatchSweepResponse first;
  ASSIGN_OR_RETURN(*first.mutable_sweep(), Get(sweep_id));
  if (!send(first)) return absl::CancelledError("the watcher went away");
  int64_t sent = std::max<int64_t>(after_event, 0);
  for (;;) {
    std::vector<v1::WatchSweepResponse> batch;
    bool ended = false;
    bool stopping = false;
    std::shared_ptr<SweepRun> driven;  // held while waiting: a takeover may replace it
    {
      absl::MutexLock lock(&mutex_);
      if (DrivenLocked(sweep_id) != nullptr) driven = sweeps_.at(sweep_id);
    }
    // Another replica drives it (or took it over since): its events are in the store.
    if (driven == nullptr) return WatchStored(sweep_id, sent, send, alive);
    {
      absl::MutexLock lock(&mutex_);
      const SweepRun& run = *driven;
      const absl::Time deadline = absl::Now() + absl::Seconds(1);
      while (static_cast<int64_t>(run.events().size()) <= sent && !run.ended() &&
             !shutting_down_ && !changed_.WaitWithDeadline(&mutex_, deadline)) {
      }
      for (int64_t i = sent; i < static_cast<int64_t>(run.events().size()); ++i) {
        *batch.emplace_back().mutable_trial() = run.events()[i];
      }
      sent = std::max<int64_t>(sent, run.events().size());
      ended = run.ended();
      stopping = shutting_down_;
      if (ended) *batch.emplace_back().mutable_sweep() = run.sweep();
    }
    for (const v1::WatchSweepResponse& message : batch) {
      if (!send(message)) return absl::CancelledError("the watcher went away");
    }
    if (ended) return absl::OkStatus();
    if (stopping) return absl::UnavailableError("the server is shutting down; watch again");
    if (batch.empty() && !alive()) return absl::CancelledError("the watcher went away");
  }
}

void SweepManager::Shutdown() {
  {
    absl::MutexLock lock(&gatekeeper_->mutex);
    gatekeeper_->manager = nullptr;
  }
  {
    absl::MutexLock lock(&mutex_);
    shutting_down_ = true;
    changed_.SignalAll();
  }
  if (leasing_.joinable()) leasing_.join();
  for (;;) {
    std::list<Follower> all;
    {
      absl::MutexLock lock(&mutex_);
      if (followers_.empty()) break;
      all.swap(followers_);
    }
    for (Follower& follower : all) follower.thread.join();
  }
  ReleaseLeases();
}

}  // namespace descent::server
