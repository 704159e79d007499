// The job store (job_store.h) in PostgreSQL, for descentd replicas sharing one database
// (--store=postgresql://USER@HOST:PORT/DB). Tables and blobs as the SQLite store's (bytea for
// blobs), versioned by postgres_schema.h. One connection, one mutex; a connection lost (the
// server restarted, the network cut) is re-established and the call in flight retried for up
// to the lease timeout (pg_connection.h), so an outage shorter than that fails no call and
// moves no job. A fenced write or renewal that outlasts it fails as lease-lost (IsLeaseLost):
// the job's lease has expired by then, so this replica stops training it, and whichever
// replica claims it once the database is back resumes it from its last checkpoint.
// A second connection listens for the other replicas' writes and cancels
// (pg_notifications.h).
//
// Durability as the SQLite store's: Insert commits synchronously (a job SubmitJob
// acknowledged survives a crash of the database server), other writes with
// synchronous_commit off (the newest checkpoints of a crashed database server may be lost,
// which means training those steps again).
#ifndef DESCENT_SERVER_STORE_POSTGRES_POSTGRES_JOB_STORE_H_
#define DESCENT_SERVER_STORE_POSTGRES_POSTGRES_JOB_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/store/job_store.h"
#include "server/store/postgres/pg_connection.h"
#include "server/store/postgres/pg_notifications.h"
#include "server/store/postgres/postgres_sweep_store.h"

namespace descent::server {

class PostgresJobStore final : public JobStore {
 public:
  // Connects to `url` and creates or migrates the schema (postgres_schema.h). UNAVAILABLE
  // naming the database (never its password) when it cannot connect; FAILED_PRECONDITION
  // naming both versions for a database newer than this descentd reads (left untouched).
  // Calls are retried through outages for `lease_timeout` (zero: not retried).
  static absl::StatusOr<std::unique_ptr<PostgresJobStore>> Open(
      const std::string& url, absl::Duration lease_timeout = absl::ZeroDuration());

  const std::string& location() const override { return location_; }

  // JobStore's operations; the connection's errors as described in pg_connection.h.
  absl::Status Insert(const v1::JobSpec& spec, const JobWrite& write) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Write(const JobWrite& write) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status TruncateAfter(int64_t sequence, int64_t step, int epochs,
                             int64_t lease_token) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<StoredJobSummary>> LoadSummaries() const override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<StoredJob> ReadJob(int64_t sequence) const override ABSL_LOCKS_EXCLUDED(mu_) {
    return ReadJobWith(sequence, /*checkpoint=*/true);
  }
  absl::StatusOr<StoredJob> ReadJobRow(int64_t sequence) const override ABSL_LOCKS_EXCLUDED(mu_) {
    return ReadJobWith(sequence, /*checkpoint=*/false);
  }
  absl::StatusOr<int64_t> FindSequence(const std::string& id) const override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<store::v1::Model> ReadModel(int64_t sequence) const override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<v1::EpochSummary>> ReadEpochs(int64_t sequence, int up_to_epoch) const
      override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<StoredHistory> ReadHistory(int64_t sequence, int64_t after_step,
                                            int64_t max_steps) const override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Delete(const std::vector<int64_t>& sequences) override ABSL_LOCKS_EXCLUDED(mu_);

  // Leases (job_store.h), in the jobs table's runner, lease_instance, lease_token and
  // lease_expires columns.
  bool shared() const override { return true; }
  absl::StatusOr<std::optional<Lease>> Claim(const LeaseHolder& holder,
                                             std::optional<int64_t> only) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<int64_t> NextSequence() override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::optional<int64_t>> FindRequest(const std::string& request_id) const override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<UnfinishedJobs>> CountUnfinished() const override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<StoredJobSummary>> ListSummaries(v1::JobState state, int64_t before,
                                                              int limit) const override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<bool> RenewLease(int64_t sequence, int64_t token, absl::Duration timeout) override
      ABSL_LOCKS_EXCLUDED(mu_);
  // In the jobs table's cancel_requested column, notified on PgNotifications::kCancelChannel.
  absl::StatusOr<v1::JobState> RequestCancel(int64_t sequence) override ABSL_LOCKS_EXCLUDED(mu_);
  void SetCancelHandler(std::function<void(int64_t)> handler) override {
    notifications_->SetCancelHandler(std::move(handler));
  }
  // Insert and ReleaseLease notify PgNotifications::kClaimableChannel.
  void SetClaimableHandler(std::function<void()> handler) override {
    notifications_->SetClaimableHandler(std::move(handler));
  }
  // Every write notifies PgNotifications::kWrittenChannel.
  uint64_t ChangeMark() const override { return notifications_->Mark(); }
  bool AwaitChange(int64_t sequence, uint64_t mark, absl::Time deadline) const override {
    return notifications_->Await(sequence, mark, deadline);
  }
  absl::Status ReleaseLease(int64_t sequence, int64_t token) override ABSL_LOCKS_EXCLUDED(mu_);

  // The sweeps, in the same database (postgres_sweep_store.h).
  SweepStore* sweeps() override { return &sweeps_; }

  // Events are inserted this many to a statement (four parameters each, of PostgreSQL's
  // 65,535 per statement).
  static constexpr size_t kEventsPerStatement = 1000;

 private:
  PostgresJobStore(std::unique_ptr<PgConnection> db,
                   std::unique_ptr<PgNotifications> notifications)
      : location_(db->location()),
        db_(std::move(db)),
        notifications_(std::move(notifications)),
        sweeps_(db_.get(), &mu_) {}
  // The statements of one Write inside the caller's transaction. NOT_FOUND for an unknown job.
  absl::Status WriteLocked(const JobWrite& write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a fenced update matched no row: NOT_FOUND for a job that is not stored, else
  // lease-lost.
  absl::Status MissingOrLeaseLost(int64_t sequence) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The summaries of rows of (sequence, id, state, request_id, end_time).
  static std::vector<StoredJobSummary> Summaries(const PgResult& rows);
  // A fenced write's or renewal's `status`, lease-lost when it failed because the database
  // stayed unreachable for the whole lease timeout.
  absl::Status Fenced(absl::Status status, int64_t sequence, int64_t lease_token) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ReadJob, with or without the checkpoint.
  absl::StatusOr<StoredJob> ReadJobWith(int64_t sequence, bool checkpoint) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // DATA_LOSS naming the job and what of it cannot be parsed.
  absl::Status Corrupt(int64_t sequence, const char* what) const;

  const std::string location_;
  mutable absl::Mutex mu_;
  const std::unique_ptr<PgConnection> db_ ABSL_PT_GUARDED_BY(mu_);
  const std::unique_ptr<PgNotifications> notifications_;
  PostgresSweepStore sweeps_;  // on db_, under mu_
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_POSTGRES_POSTGRES_JOB_STORE_H_
