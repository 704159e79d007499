// Keeps the leases of the jobs a replica trains on a shared job store (JobStore::shared):
// a thread renews each one every third of the lease timeout, so a lease outlives a renewal
// that fails once (a dropped connection the next call re-establishes). A renewal the store
// refuses because the lease moved on tells the job (JobRecord::LoseLease), which stops
// before its next step. A cancel another replica requested (JobStore::RequestCancel) reaches
// the job here: at once through the store's cancel handler, else at the next renewal.
// Thread-safe.
#ifndef DESCENT_SERVER_JOBS_LEASE_RENEWER_H_
#define DESCENT_SERVER_JOBS_LEASE_RENEWER_H_

#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/jobs/job_record.h"
#include "server/store/job_store.h"

namespace descent::server {

class LeaseRenewer {
 public:
  // Starts the renewing thread and becomes the store's cancel handler. `store` must outlive
  // the renewer.
  LeaseRenewer(JobStore& store, absl::Duration timeout);
  // Stops the thread (leases are renewed no more) and the store's calls.
  ~LeaseRenewer();
  LeaseRenewer(const LeaseRenewer&) = delete;
  LeaseRenewer& operator=(const LeaseRenewer&) = delete;

  // Renews `job`'s lease (its JobRecord::lease_token) until Remove.
  void Add(std::shared_ptr<JobRecord> job) ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(const JobRecord* job) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  // Cancels the held job with this sequence, if there is one.
  void CancelRequested(int64_t sequence) ABSL_LOCKS_EXCLUDED(mu_);
  bool Stopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; }

  JobStore& store_;
  const absl::Duration timeout_;
  absl::Mutex mu_;
  std::vector<std::shared_ptr<JobRecord>> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOBS_LEASE_RENEWER_H_
