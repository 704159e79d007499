// The job manager's paths for a store several replicas share (JobStore::shared): workers
// claim jobs from the store under leases, jobs another replica took leave this one, and
// Cancel reaches jobs this replica does not train through the store.
#include <algorithm>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "server/jobs/job_manager_impl.h"
#include "server/jobs/job_recovery.h"
#include "server/jobs/job_runner.h"
#include "server/jobs/list_page_token.h"

namespace descent::server {
namespace {

// How often a running job's new steps reach the shared store between checkpoints: the
// latency of a watcher on another replica (woken by the store's notification of the write).
constexpr absl::Duration kProgressEvery = absl::Milliseconds(250);

}  // namespace

void JobManager::Impl::SharedWorkerLoop() {
  const CheckpointPolicy checkpoints{options.checkpoint_every_steps, options.checkpoint_every,
                                     kProgressEvery};
  while (true) {
    uint64_t heard = 0;  // announcements before this claim, which may have missed their jobs
    {
      absl::MutexLock lock(&mu);
      if (shutting_down) return;
      heard = claimable_heard;
    }
    absl::StatusOr<std::shared_ptr<JobRecord>> claimed = ClaimNext();
    if (!claimed.ok() || *claimed == nullptr) {
      // Nothing claimable: a local submission or the store's announcement of a job wakes the
      // worker. The store is away: only the interval does. Either way look again after it.
      absl::MutexLock lock(&mu);
      const bool store_ok = claimed.ok();
      const auto woken = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
        return shutting_down || (store_ok && (!queue.empty() || claimable_heard != heard));
      };
      mu.AwaitWithTimeout(absl::Condition(&woken), ClaimPollInterval());
      continue;
    }
    std::shared_ptr<JobRecord> job = *std::move(claimed);
    renewer->Add(job);
    absl::Status started;
    {
      absl::MutexLock lock(&mu);
      ++running_jobs;
      ShareCoresLocked();
      job->SetRunner(runner);
      if (job->state() == v1::QUEUED) started = job->Start(absl::Now(), listener);
    }
    if (!started.ok() && !job->lease_lost()) {
      job->Finish(JobOutcome::Failed(absl::StrCat("could not record the job's start: ",
                                                  started.message())),
                  absl::Now(), listener);
    } else if (started.ok()) {
      RunJob(*job, listener, checkpoints);
    }
    renewer->Remove(job.get());
    absl::MutexLock lock(&mu);
    --running_jobs;
    ShareCoresLocked();
    if (job->lease_lost()) {
      HandOverLocked(*job);
    } else if (!IsTerminal(job->state())) {
      // Stopping: the job checkpointed and stays RUNNING; the next replica may take it now.
      (void)options.store->ReleaseLease(job->sequence(), job->lease_token());
    }
    SettleLocked(*job);
  }
}

absl::StatusOr<std::shared_ptr<JobRecord>> JobManager::Impl::ClaimNext() {
  LeaseHolder holder;
  {
    absl::MutexLock lock(&mu);
    holder = Holder();
  }
  ASSIGN_OR_RETURN(std::optional<Lease> lease, options.store->Claim(holder, std::nullopt));
  if (lease) {
    {
      absl::MutexLock lock(&mu);
      if (std::shared_ptr<JobRecord> local = TakeQueuedLocked(lease->sequence)) {
        if (lease->state == v1::QUEUED) {
          local->SetLease(lease->token);
          if (lease->cancel_requested) local->RequestCancel();
          return local;
        }
        // Submitted here, but another replica started it meanwhile and its lease has expired
        // since: what that replica stored (steps, events, a checkpoint) is newer than this
        // queued record, which goes; the job resumes from the store below.
        HandOverLocked(*local);
      }
      // Cancelled here since the claim (Cancel took the job over from this claim).
      if (EndedHereLocked(lease->sequence)) return nullptr;
    }
    ASSIGN_OR_RETURN(std::shared_ptr<JobRecord> record,
                     LoadUnfinishedJob(*options.store, lease->sequence, options.prepare,
                                       listener, lease->token));
    absl::MutexLock lock(&mu);
    // Cancelled here while it loaded: Cancel counted it recovered and ended it. This copy
    // goes uncounted.
    if (EndedHereLocked(lease->sequence)) return nullptr;
    if (listener != nullptr && !IsTerminal(record->state())) {
      listener->OnRecovered(record->labels(), record->state());
    }
    AddLocked(record);
    if (IsTerminal(record->state())) {  // it could not be prepared again: FAILED, with why
      SettleLocked(*record);
      return nullptr;
    }
    // A cancel asked of the replica that held it: the run ends CANCELLED before a step.
    if (lease->cancel_requested) record->RequestCancel();
    return record;
  }
  std::vector<std::shared_ptr<JobRecord>> local;
  {
    absl::MutexLock lock(&mu);
    local.assign(queue.begin(), queue.end());
  }
  for (const std::shared_ptr<JobRecord>& job : local) {
    ASSIGN_OR_RETURN(std::optional<Lease> mine, options.store->Claim(holder, job->sequence()));
    absl::MutexLock lock(&mu);
    if (TakeQueuedLocked(job->sequence()) == nullptr) continue;  // cancelled meanwhile
    if (mine) {
      job->SetLease(mine->token);
      if (mine->cancel_requested) job->RequestCancel();
      return job;
    }
    HandOverLocked(*job);
  }
  return nullptr;
}

std::shared_ptr<JobRecord> JobManager::Impl::TakeQueuedLocked(int64_t sequence) {
  for (auto it = queue.begin(); it != queue.end(); ++it) {
    if ((*it)->sequence() != sequence) continue;
    std::shared_ptr<JobRecord> job = std::move(*it);
    queue.erase(it);
    return job;
  }
  return nullptr;
}

bool JobManager::Impl::ClaimedHereOrEnded(JobManager::Impl::ClaimWait* wait) {
  // Called by Await with mu held.
  const Impl& impl = *wait->impl;
  auto slot = impl.by_sequence.find(wait->sequence);
  return impl.shutting_down || (slot != impl.by_sequence.end() &&
                                (slot->second.record != nullptr ||
                                 IsTerminal(slot->second.state)));
}

absl::StatusOr<v1::Job> JobManager::Impl::CancelElsewhereLocked(std::string_view job_id, const Found& found) {
  std::shared_ptr<JobRecord> job;
  auto queued = std::find(queue.begin(), queue.end(), found.slot.record);
  if (found.slot.record != nullptr && queued != queue.end()) {
    job = found.slot.record;
    queue.erase(queued);
  }
  absl::StatusOr<std::optional<Lease>> lease = options.store->Claim(Holder(), found.sequence);
  if (!lease.ok()) {
    if (job != nullptr) queue.push_front(job);
    return lease.status();
  }
  if (*lease) {
    if (job == nullptr) {
      ASSIGN_OR_RETURN(job, LoadUnfinishedJob(*options.store, found.sequence, options.prepare,
                                              listener, (*lease)->token));
      if (listener != nullptr && !IsTerminal(job->state())) {
        listener->OnRecovered(job->labels(), job->state());
      }
      AddLocked(job);
    } else {
      job->SetLease((*lease)->token);
    }
    if (!IsTerminal(job->state())) job->Finish(JobOutcome::Cancelled(), absl::Now(), listener);
    v1::Job cancelled = job->Snapshot();
    SettleLocked(*job);
    return cancelled;
  }
  if (job != nullptr) HandOverLocked(*job);
  // Another replica holds it: the store carries the cancel there (and to whichever replica
  // claims the job next), and the answer shows the job as it is now, as for a job that
  // trains here.
  ASSIGN_OR_RETURN(const v1::JobState state, options.store->RequestCancel(found.sequence));
  if (IsTerminal(state)) return AlreadyEnded(job_id, state);
  return SnapshotOf(found.sequence, Slot{});
}

void JobManager::Impl::HandOverLocked(JobRecord& job) {
  job.MarkHandedOver();
  if (listener != nullptr) listener->OnHandedOver(job.labels(), job.state());
  jobs.erase(job.id());
  if (auto slot = by_sequence.find(job.sequence()); slot != by_sequence.end()) {
    slot->second = Slot{nullptr, job.state(), job.resumed_at()};
  }
}

void JobManager::Impl::ClusterCountLoop() {
  while (true) {
    // Outside the lock: the count waits for the database. When it is away the gauges keep
    // their last values until it is back.
    absl::StatusOr<std::vector<UnfinishedJobs>> counted = options.store->CountUnfinished();
    if (counted.ok()) {
      std::vector<ClusterJobCount> counts;
      counts.reserve(counted->size());
      for (UnfinishedJobs& count : *counted) {
        counts.push_back(ClusterJobCount{count.state, std::move(count.runner), count.jobs});
      }
      listener->OnClusterJobs(counts);
    }
    absl::MutexLock lock(&mu);
    if (mu.AwaitWithTimeout(absl::Condition(this, &Impl::ShuttingDown), kClusterCountEvery)) {
      return;
    }
  }
}

int JobManager::Impl::RecoverShared(const std::vector<StoredJobSummary>& stored) {
  absl::MutexLock lock(&mu);
  int unfinished = 0;
  for (const StoredJobSummary& job : stored) {
    // The workers run already: a job one of them claimed keeps its record.
    by_sequence.try_emplace(job.sequence, Slot{nullptr, job.state, {}});
    next_sequence = std::max(next_sequence, job.sequence + 1);
    if (!job.request_id.empty()) by_request_id[job.request_id] = job.sequence;
    if (IsTerminal(job.state)) {
      finished.Add(job.end_time, job.sequence);
    } else {
      ++unfinished;
    }
  }
  ApplyRetentionLocked(absl::Now());
  return unfinished;
}

absl::StatusOr<JobPage> JobManager::Impl::ListShared(v1::JobState state, int limit,
                                                     std::string_view page_token) const {
  int64_t bound = std::numeric_limits<int64_t>::max();
  if (!page_token.empty()) {
    ASSIGN_OR_RETURN(bound, DecodeListPageToken(page_token, state, bound));
  }
  // One more than the page holds: whether there is a next page.
  ASSIGN_OR_RETURN(const std::vector<StoredJobSummary> rows,
                   options.store->ListSummaries(state, bound, limit + 1));
  JobPage page;
  absl::MutexLock lock(&mu);
  for (const StoredJobSummary& row : rows) {
    if (static_cast<int>(page.jobs.size()) == limit) {
      page.next_page_token = EncodeListPageToken(state, row.sequence + 1);
      break;
    }
    auto slot = by_sequence.find(row.sequence);
    ASSIGN_OR_RETURN(v1::Job snapshot,
                     SnapshotOf(row.sequence, slot != by_sequence.end() ? slot->second : Slot{}));
    // The job may have moved on since the row was read; the page shows only what matches.
    if (state != v1::JOB_STATE_UNSPECIFIED && snapshot.state() != state) continue;
    page.jobs.push_back(std::move(snapshot));
  }
  return page;
}

}  // namespace descent::server
