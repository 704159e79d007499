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
    do {
      id = absl::StrFormat("sweep-%012x", absl::Uniform<uint64_t>(random_, 0, uint64_t{1} << 48));
    } while (sweeps_.contains(id));
    auto run = std::make_unique<SweepRun>(id, spec, trials, absl::Now());
    // Stored before it is answered or any trial starts: an acknowledged sweep survives.
    if (store_ != nullptr) {
      const SweepWrite write = run->PendingWrite();
      RETURN_IF_ERROR(store_->InsertSweep(write));
      run->MarkStored();
      run->MarkSaved(write.events.size());
    }
    sweeps_[id] = std::move(run);
    order_.push_back(id);
    Announce(*sweeps_[id]);
  }
  StartTrials(id);
  return Get(id);
}

absl::StatusOr<v1::Sweep> SweepManager::Get(absl::string_view id) const {
  absl::MutexLock lock(&mutex_);
  const auto found = sweeps_.find(std::string(id));
  if (found == sweeps_.end()) {
    return absl::NotFoundError(absl::StrCat("no sweep ", id, "; descent sweep list shows them"));
  }
  return found->second->sweep();
}

std::vector<v1::Sweep> SweepManager::List() const {
  absl::MutexLock lock(&mutex_);
  std::vector<v1::Sweep> sweeps;
  for (auto id = order_.rbegin(); id != order_.rend(); ++id) {
    v1::Sweep sweep = sweeps_.at(*id)->sweep();
    for (v1::Trial& trial : *sweep.mutable_trials()) trial.clear_reports();
    sweeps.push_back(std::move(sweep));
  }
  return sweeps;
}

absl::StatusOr<v1::Sweep> SweepManager::Cancel(absl::string_view id) {
  std::vector<std::string> running;
  {
    absl::MutexLock lock(&mutex_);
    const auto found = sweeps_.find(std::string(id));
    if (found == sweeps_.end()) return absl::NotFoundError(absl::StrCat("no sweep ", id));
    if (found->second->state().state() != v1::SWEEP_RUNNING) {
      return absl::FailedPreconditionError(absl::StrCat(
          "sweep ", id, " has already ended (", v1::SweepState_Name(found->second->state().state()),
          ")"));
    }
    running = found->second->Cancel(absl::Now());
    Persist(*found->second);
    Announce(*found->second);
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
      if (shutting_down_) return;
      SweepRun& run = *sweeps_.at(id);
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
    const absl::StatusOr<v1::Job> job =
        prepared.ok() ? jobs_->Submit(*std::move(prepared)) : prepared.status();
    SweepRun& run = *sweeps_.at(id);
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
  follower.thread = std::thread(&SweepManager::FollowTrial, this, id, trial, job_id, &follower);
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
  const auto found = sweeps_.find(id);
  if (found == sweeps_.end() || trial >= found->second->state().trials_size()) return true;
  SweepRun& run = *found->second;
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
  if (store_ == nullptr || !run.stored()) return;
  const SweepWrite write = run.PendingWrite();
  if (store_->WriteSweep(write).ok()) run.MarkSaved(write.events.size());
}

void SweepManager::FollowTrial(const std::string& id, int trial, const std::string& job_id,
                               Follower* follower) {
  // The epochs reach the rule through the job's epoch gate alone (PassEpoch, on the training
  // thread, which stops the job before its next step); the watch follows the trial's steps to
  // its job's end, so a stopped trial's steps are the steps its job really ran.
  const absl::Status watched =
      jobs_->Watch(job_id, 0, [&](const v1::WatchJobResponse& message) {
        absl::MutexLock lock(&mutex_);
        SweepRun& run = *sweeps_.at(id);
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
      });
  if (watched.code() == absl::StatusCode::kNotFound) {
    absl::MutexLock lock(&mutex_);
    SweepRun& run = *sweeps_.at(id);
    run.Finished(trial, v1::Job(), absl::Now());  // deleted by retention
    Persist(run);
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
  v1::WatchSweepResponse first;
  {
    absl::MutexLock lock(&mutex_);
    const auto found = sweeps_.find(std::string(id));
    if (found == sweeps_.end()) return absl::NotFoundError(absl::StrCat("no sweep ", id));
    *first.mutable_sweep() = found->second->sweep();
  }
  if (!send(first)) return absl::CancelledError("the watcher went away");
  int64_t sent = std::max<int64_t>(after_event, 0);
  for (;;) {
    std::vector<v1::WatchSweepResponse> batch;
    bool ended = false;
    bool stopping = false;
    {
      absl::MutexLock lock(&mutex_);
      const SweepRun& run = *sweeps_.at(std::string(id));
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
  for (;;) {
    std::list<Follower> all;
    {
      absl::MutexLock lock(&mutex_);
      if (followers_.empty()) return;
      all.swap(followers_);
    }
    for (Follower& follower : all) follower.thread.join();
  }
}

}  // namespace descent::server
