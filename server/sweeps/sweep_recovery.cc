// SweepManager's start after a restart: the stored sweeps loaded, the unfinished ones resumed.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status_macros.h"
#include "proto/job_state.h"
#include "server/sweeps/sweep_manager.h"

namespace descent::server {
namespace {

// Whether the trial's job may still be queued or running: the jobs a recovered sweep
// follows. A SUCCEEDED sweep had none left; a cancelled one, those it was cancelling.
bool MayHaveRunningJob(const v1::Sweep& sweep, const v1::Trial& trial) {
  if (trial.job_id().empty() || sweep.state() == v1::SWEEP_SUCCEEDED) return false;
  return trial.state() == v1::TRIAL_RUNNING ||
         (sweep.state() == v1::SWEEP_RUNNING && trial.state() == v1::TRIAL_STOPPED);
}

}  // namespace

absl::StatusOr<int> SweepManager::Recover() {
  // A shared store holds the sweeps of every replica: resuming them all here would have two
  // replicas drive one sweep. There a sweep is claimed under its lease (StartLeasing), and a
  // restarted replica claims the sweeps whose drivers are gone as their leases expire.
  if (store_ == nullptr || store_->shared()) return 0;
  ASSIGN_OR_RETURN(std::vector<v1::Sweep> stored, store_->LoadSweeps());
  std::vector<std::shared_ptr<SweepRun>> runs;
  for (v1::Sweep& sweep : stored) {
    ASSIGN_OR_RETURN(std::vector<v1::TrialEvent> events, store_->ReadSweepEvents(sweep.id(), 0));
    runs.push_back(std::make_shared<SweepRun>(std::move(sweep), std::move(events)));
  }
  std::vector<std::string> unfinished;
  {
    absl::MutexLock lock(&mutex_);
    for (std::shared_ptr<SweepRun>& run : runs) {
      const std::string id = run->state().id();
      if (run->state().state() != v1::SWEEP_SUCCEEDED) unfinished.push_back(id);
      Announce(*run);
      order_.push_back(id);
      sweeps_[id] = std::move(run);
    }
  }
  int running = 0;
  for (const std::string& id : unfinished) {
    Resume(id);
    absl::MutexLock lock(&mutex_);
    running += sweeps_.at(id)->state().state() == v1::SWEEP_RUNNING;
  }
  return running;
}

void SweepManager::Resume(const std::string& id) {
  std::vector<std::pair<int, std::string>> jobs;  // (trial, job id) to look at
  {
    absl::MutexLock lock(&mutex_);
    if (DrivenLocked(id) == nullptr) return;
    SweepRun& run = *DrivenLocked(id);
    for (const v1::Trial& trial : run.state().trials()) {
      if (MayHaveRunningJob(run.state(), trial)) jobs.emplace_back(trial.index(), trial.job_id());
      // Claimed, but its job never recorded: submitted again below (the same job, by its
      // request_id, if it was submitted).
      if (trial.state() == v1::TRIAL_RUNNING && trial.job_id().empty()) run.Unclaim(trial.index());
    }
  }
  std::vector<std::string> to_cancel;
  for (const auto& [trial, job_id] : jobs) {
    const absl::StatusOr<v1::Job> job = jobs_->Get(job_id);
    absl::MutexLock lock(&mutex_);
    if (DrivenLocked(id) == nullptr) return;
    SweepRun& run = *DrivenLocked(id);
    run.JobRunning(trial);
    if (!job.ok()) {
      // Retention deleted it while the sweep was not looking.
      run.Finished(trial, v1::Job(), absl::Now());
      continue;
    }
    // Followed even when it ended while the sweep was not looking (on a shared store another
    // replica may have trained it to its end before this one claimed the sweep): its stored
    // epochs the rule has not read yet reach it, then its end.
    if (!v1::IsTerminal(job->state()) &&
        (run.state().trials(trial).state() == v1::TRIAL_STOPPED ||
         run.state().state() == v1::SWEEP_CANCELLED)) {
      to_cancel.push_back(job_id);
    }
    FollowLocked(id, trial, job_id);
  }
  for (const std::string& job_id : to_cancel) (void)jobs_->Cancel(job_id);
  {
    absl::MutexLock lock(&mutex_);
    if (DrivenLocked(id) == nullptr) return;
    SweepRun& run = *DrivenLocked(id);
    Persist(run);
    Announce(run);
    changed_.SignalAll();
  }
  StartTrials(id);
}

}  // namespace descent::server
