// A shared manager's jobs submitted here and claimed by another replica before any worker of
// this one was free: they leave this replica's queue, as an idle worker's claim would make
// them leave it (JobManager::Impl::ClaimNext).
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "server/jobs/job_manager_impl.h"

namespace descent::server {
namespace {

// How often the queue is looked at: a watcher here of a job another replica claimed waits
// this long at most before it follows the job in the store (a sweep's driver decides on
// such a trial's epochs only from then on).
constexpr absl::Duration kHandOverEvery = absl::Milliseconds(200);
// The oldest queued jobs only: replicas claim the queued jobs in submission order, so the
// ones another replica took are at the front, and a pass ends at the first job nobody has
// claimed (a claim that skipped it is seen by a later pass): a long queue costs a read or
// two per pass.
constexpr size_t kHandOverLooksAt = 16;

}  // namespace

void JobManager::Impl::HandOverLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu);
      if (mu.AwaitWithTimeout(absl::Condition(this, &Impl::ShuttingDown),
                              std::min(kHandOverEvery, ClaimPollInterval()))) {
        return;
      }
    }
    HandOverClaimedElsewhere();
  }
}

void JobManager::Impl::HandOverClaimedElsewhere() {
  std::vector<std::shared_ptr<JobRecord>> local;
  std::string mine;
  {
    absl::MutexLock lock(&mu);
    local.assign(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(
                                                    std::min(queue.size(), kHandOverLooksAt)));
    mine = runner;
  }
  for (const std::shared_ptr<JobRecord>& job : local) {
    // The row names the replica of the last claim: none, this one (a worker here is taking
    // it), or another, which trains it (or has trained or cancelled it) by now. A store away
    // is asked again next time.
    const absl::StatusOr<StoredJob> stored = options.store->ReadJobRow(job->sequence());
    if (!stored.ok()) return;
    if (stored->job.state() == v1::QUEUED && stored->job.runner().empty()) return;
    if (stored->job.state() == v1::QUEUED && stored->job.runner() == mine) continue;
    absl::MutexLock lock(&mu);
    if (TakeQueuedLocked(job->sequence()) == nullptr) continue;  // taken or cancelled meanwhile
    HandOverLocked(*job);
  }
}

}  // namespace descent::server
