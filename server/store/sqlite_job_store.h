// The embedded job store (job_store.h): one SQLite database (<data-dir>/descent.db). The
// database carries its schema version in PRAGMA user_version (store_migration.h), and an
// older store is migrated when opened.
//
// The database is opened in exclusive locking mode: a second descentd on the same data dir
// fails at start instead of interleaving writes. Thread-safe (one connection, one mutex).
#ifndef DESCENT_SERVER_STORE_SQLITE_JOB_STORE_H_
#define DESCENT_SERVER_STORE_SQLITE_JOB_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/job_store.h"
#include "server/store/sqlite_sweep_store.h"

struct sqlite3;

namespace descent::server {

class SqliteJobStore final : public JobStore {
 public:
  // Opens or creates the database at `path` (its directory must exist), in WAL mode. A
  // store of an older version is migrated to kStoreVersion in one transaction first.
  // UNAVAILABLE naming the path when it cannot be opened or written, or when another
  // process holds it; FAILED_PRECONDITION naming both versions for a store newer than this
  // descentd reads (left untouched); DATA_LOSS when it is not a descent store, an older
  // store's blob cannot be migrated (the store stays as it was), or the tables start-up
  // reads fail SQLite's quick check.
  static absl::StatusOr<std::unique_ptr<SqliteJobStore>> Open(const std::string& path);
  ~SqliteJobStore() override;
  SqliteJobStore(const SqliteJobStore&) = delete;
  SqliteJobStore& operator=(const SqliteJobStore&) = delete;

  const std::string& location() const override { return path_; }

  // JobStore's operations; SQLite's write errors as described there.
  absl::Status Insert(const v1::JobSpec& spec, const JobWrite& write) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Write(const JobWrite& write) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status TruncateAfter(int64_t sequence, int64_t step, int epochs,
                             int64_t lease_token) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<StoredJobSummary>> LoadSummaries() const override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<StoredJob> ReadJob(int64_t sequence) const override ABSL_LOCKS_EXCLUDED(mu_);
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

  // The sweeps, in the same database (sqlite_sweep_store.h).
  SweepStore* sweeps() override { return &sweeps_; }

  // SQLite's page cache for this connection, shared by every reader of stored histories
  // (least recently used pages go first).
  static constexpr int64_t kPageCacheKib = 8192;

 private:
  SqliteJobStore(std::string path, sqlite3* db)
      : path_(std::move(path)), db_(db), sweeps_(db, &mu_, path_) {}
  int WriteLocked(const JobWrite& write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);  // an SQLite code
  // DATA_LOSS naming the job and what of it cannot be parsed.
  absl::Status Corrupt(int64_t sequence, const char* what) const;
  // Runs `body` (returning an SQLite code) inside BEGIN IMMEDIATE .. COMMIT, rolling back
  // when it or the commit fails; the error is `*problem` when the body set one, else the
  // SQLite error (WriteError).
  template <typename Body>
  absl::Status InTransaction(Body body, const absl::Status* problem = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  mutable absl::Mutex mu_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);
  SqliteSweepStore sweeps_;  // on db_, under mu_
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_SQLITE_JOB_STORE_H_
