#include "server/jobs/lease_renewer.h"

#include <algorithm>
#include <utility>

namespace descent::server {

LeaseRenewer::LeaseRenewer(JobStore& store, absl::Duration timeout)
    : store_(store), timeout_(timeout), thread_([this] { Loop(); }) {
  store_.SetCancelHandler([this](int64_t sequence) { CancelRequested(sequence); });
}

LeaseRenewer::~LeaseRenewer() {
  store_.SetCancelHandler(nullptr);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void LeaseRenewer::Add(std::shared_ptr<JobRecord> job) {
  absl::MutexLock lock(&mu_);
  jobs_.push_back(std::move(job));
}

void LeaseRenewer::Remove(const JobRecord* job) {
  absl::MutexLock lock(&mu_);
  jobs_.erase(std::remove_if(jobs_.begin(), jobs_.end(),
                             [job](const std::shared_ptr<JobRecord>& held) {
                               return held.get() == job;
                             }),
              jobs_.end());
}

void LeaseRenewer::CancelRequested(int64_t sequence) {
  absl::MutexLock lock(&mu_);
  for (const std::shared_ptr<JobRecord>& job : jobs_) {
    if (job->sequence() == sequence) job->RequestCancel();
  }
}

void LeaseRenewer::Loop() {
  while (true) {
    std::vector<std::shared_ptr<JobRecord>> held;
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(this, &LeaseRenewer::Stopping), timeout_ / 3)) {
        return;
      }
      held = jobs_;
    }
    // Outside the lock: a renewal waits for the database, Add and Remove must not.
    for (const std::shared_ptr<JobRecord>& job : held) {
      const absl::StatusOr<bool> renewed =
          store_.RenewLease(job->sequence(), job->lease_token(), timeout_);
      // Other errors (the database away) are retried at the next round; a lease that
      // expires meanwhile is fenced off by the store once another replica claims the job.
      if (IsLeaseLost(renewed.status())) job->LoseLease();
      if (renewed.ok() && *renewed) job->RequestCancel();
    }
  }
}

}  // namespace descent::server
