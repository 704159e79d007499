// SweepManager on a shared store (several replicas on one PostgreSQL database): the sweeps'
// leases (claimed, renewed, lost, taken over, given up) and the watch of a sweep another
// replica drives.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status_macros.h"
#include "server/sweeps/sweep_manager.h"

namespace descent::server {
namespace {

// How often a watch of a sweep another replica drives looks for new events in the store.
constexpr absl::Duration kStoredWatchPoll = absl::Milliseconds(250);
// At most this many sweeps claimed per round, so renewals never wait long behind claims.
constexpr int kClaimsPerRound = 8;

}  // namespace

void SweepManager::StartLeasing(LeaseHolder holder) {
  if (!shared()) return;
  {
    absl::MutexLock lock(&mutex_);
    if (holder_.has_value() || shutting_down_) return;
    holder_ = std::move(holder);
  }
  leasing_ = std::thread(&SweepManager::LeaseLoop, this);
}

void SweepManager::Abandon() {
  absl::MutexLock lock(&mutex_);
  abandoned_ = true;
  changed_.SignalAll();
}

void SweepManager::LeaseLoop() {
  absl::Duration interval;
  {
    absl::MutexLock lock(&mutex_);
    // A lease outlives two failed renewals; a dead driver's sweep is claimed within a second
    // of its lease's expiry.
    interval = std::min(absl::Seconds(1), holder_->timeout / 3);
  }
  for (;;) {
    {
      absl::MutexLock lock(&mutex_);
      const absl::Time deadline = absl::Now() + interval;
      while (!shutting_down_ && !abandoned_ && !changed_.WaitWithDeadline(&mutex_, deadline)) {
      }
      if (shutting_down_ || abandoned_) return;
    }
    RenewLeases();
    ClaimExpired();
    ReapFollowers();
  }
}

void SweepManager::RenewLeases() {
  std::vector<std::pair<std::string, int64_t>> leases;
  absl::Duration timeout;
  {
    absl::MutexLock lock(&mutex_);
    timeout = holder_->timeout;
    for (auto it = sweeps_.begin(); it != sweeps_.end();) {
      // A stale run drives nothing: the replica that claimed the sweep does. Forgotten here.
      if (it->second->lease_lost()) {
        order_.erase(std::find(order_.begin(), order_.end(), it->first));
        it = sweeps_.erase(it);
        continue;
      }
      // An ended sweep is no longer claimable (ClaimSweep takes RUNNING ones only): its
      // writes stay fenced by the token without renewals.
      if (it->second->state().state() == v1::SWEEP_RUNNING) {
        leases.emplace_back(it->first, it->second->lease_token());
      }
      ++it;
    }
  }
  std::vector<std::string> cancelled;  // asked of another replica
  for (const auto& [id, token] : leases) {
    const absl::StatusOr<bool> renewed = store_->RenewSweepLease(id, token, timeout);
    if (renewed.ok() && *renewed) cancelled.push_back(id);
    // Any other failure is retried at the next round, well before the lease expires.
    if (!IsLeaseLost(renewed.status())) continue;
    absl::MutexLock lock(&mutex_);
    const auto found = sweeps_.find(id);
    if (found != sweeps_.end() && found->second->lease_token() == token) {
      found->second->LoseLease();
      changed_.SignalAll();
    }
  }
  // Driven here: Cancel cancels it as if asked here. An error (the sweep ended meanwhile,
  // or this replica lost it) leaves it to whoever holds it now.
  for (const std::string& id : cancelled) (void)Cancel(id);
}

void SweepManager::ClaimExpired() {
  for (int i = 0; i < kClaimsPerRound; ++i) {
    LeaseHolder holder;
    {
      absl::MutexLock lock(&mutex_);
      if (shutting_down_ || abandoned_) return;
      holder = *holder_;
    }
    const absl::StatusOr<std::optional<SweepLease>> lease =
        store_->ClaimSweep(holder, std::nullopt);
    if (!lease.ok() || !lease->has_value()) return;
    TakeOver(**lease);
  }
}

void SweepManager::TakeOver(const SweepLease& lease) {
  absl::StatusOr<v1::Sweep> sweep = store_->ReadSweep(lease.id);
  absl::StatusOr<std::vector<v1::TrialEvent>> events =
      sweep.ok() ? store_->ReadSweepEvents(lease.id, 0) : sweep.status();
  if (!events.ok()) {
    // Claimable again at once; the next round tries again.
    (void)store_->ReleaseSweepLease(lease.id, lease.token);
    return;
  }
  // What the stored row says, with the rule's records replayed from the stored reports: the
  // trials sampled, the decisions made and the jobs submitted are the dead driver's.
  auto run = std::make_shared<SweepRun>(*std::move(sweep), *std::move(events));
  run->set_lease_token(lease.token);
  {
    absl::MutexLock lock(&mutex_);
    if (!sweeps_.contains(lease.id)) order_.push_back(lease.id);
    // A stale run of this sweep (this replica drove it before) gives way; its followers,
    // which follow for its token, stop.
    sweeps_[lease.id] = std::move(run);
    Announce(*sweeps_[lease.id]);
    changed_.SignalAll();
  }
  Resume(lease.id);
}

void SweepManager::ReleaseLeases() {
  std::vector<std::pair<std::string, int64_t>> leases;
  {
    absl::MutexLock lock(&mutex_);
    if (!shared() || abandoned_) return;
    for (auto& [id, run] : sweeps_) {
      if (run->lease_lost() || run->state().state() != v1::SWEEP_RUNNING) continue;
      leases.emplace_back(id, run->lease_token());
      run->LoseLease();
    }
  }
  for (const auto& [id, token] : leases) (void)store_->ReleaseSweepLease(id, token);
}

absl::Status SweepManager::WatchStored(
    const std::string& id, int64_t sent,
    const std::function<bool(const v1::WatchSweepResponse&)>& send,
    const std::function<bool()>& alive) {
  absl::Time asked_alive = absl::Now();
  for (;;) {
    {
      absl::MutexLock lock(&mutex_);
      if (shutting_down_) return absl::UnavailableError("the server is shutting down; watch again");
    }
    // The row first: events stored before it was read are all in the read that follows, so
    // a sweep seen ended has sent every event.
    ASSIGN_OR_RETURN(const v1::Sweep sweep, store_->ReadSweep(id));
    ASSIGN_OR_RETURN(const std::vector<v1::TrialEvent> events, store_->ReadSweepEvents(id, sent));
    for (const v1::TrialEvent& event : events) {
      v1::WatchSweepResponse message;
      *message.mutable_trial() = event;
      if (!send(message)) return absl::CancelledError("the watcher went away");
      sent = event.sequence();
    }
    const bool ended =
        sweep.state() != v1::SWEEP_RUNNING &&
        std::none_of(sweep.trials().begin(), sweep.trials().end(),
                     [](const v1::Trial& trial) { return trial.state() == v1::TRIAL_RUNNING; });
    if (ended) {
      v1::WatchSweepResponse last;
      *last.mutable_sweep() = sweep;
      return send(last) ? absl::OkStatus() : absl::CancelledError("the watcher went away");
    }
    if (!events.empty()) asked_alive = absl::Now();
    if (absl::Now() - asked_alive >= absl::Seconds(1)) {
      if (!alive()) return absl::CancelledError("the watcher went away");
      asked_alive = absl::Now();
    }
    {
      absl::MutexLock lock(&mutex_);
      // Woken early only by a change here (this replica took the sweep over, or stops).
      (void)changed_.WaitWithDeadline(&mutex_, absl::Now() + kStoredWatchPoll);
    }
  }
}

}  // namespace descent::server
