// The sweeps (sweep_store.h) in the PostgreSQL store's database, on its connection and under
// its lock (PostgresJobStore::sweeps() hands this out), with leases in the sweeps table's
// runner, lease_instance, lease_token and lease_expires columns, as the jobs have.
#ifndef DESCENT_SERVER_STORE_POSTGRES_POSTGRES_SWEEP_STORE_H_
#define DESCENT_SERVER_STORE_POSTGRES_POSTGRES_SWEEP_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store/postgres/pg_connection.h"
#include "server/store/sweep_store.h"

namespace descent::server {

class PostgresSweepStore final : public SweepStore {
 public:
  // On the job store's connection `db`, locked by `mu`; both outlive this.
  PostgresSweepStore(PgConnection* db, absl::Mutex* mu) : mu_(*mu), db_(db) {}

  bool shared() const override { return true; }
  absl::Status InsertSweep(const SweepWrite& write) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status WriteSweep(const SweepWrite& write) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<v1::Sweep>> LoadSweeps() const override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::Sweep> ReadSweep(const std::string& id) const override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<v1::TrialEvent>> ReadSweepEvents(const std::string& id,
                                                              int64_t after) const override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::optional<SweepLease>> ClaimSweep(
      const LeaseHolder& holder, const std::optional<std::string>& only) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<bool> RenewSweepLease(const std::string& id, int64_t token,
                                       absl::Duration timeout) override ABSL_LOCKS_EXCLUDED(mu_);
  // In the sweeps table's cancel_requested column.
  absl::StatusOr<v1::SweepState> RequestSweepCancel(const std::string& id) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status ReleaseSweepLease(const std::string& id, int64_t token) override
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // The events of one write, inside the caller's transaction.
  absl::Status InsertEventsLocked(const SweepWrite& write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Corrupt(const std::string& id, const char* what) const;

  absl::Mutex& mu_;
  PgConnection* const db_ ABSL_PT_GUARDED_BY(mu_);
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_POSTGRES_POSTGRES_SWEEP_STORE_H_
