// The sweeps (sweep_store.h) in the SQLite store's database, on its connection and under its
// lock: SqliteJobStore::sweeps() hands this out.
#ifndef DESCENT_SERVER_STORE_SQLITE_SWEEP_STORE_H_
#define DESCENT_SERVER_STORE_SQLITE_SWEEP_STORE_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store/sweep_store.h"

namespace descent::server {

// The sweeps' tables, created IF NOT EXISTS when the store opens (store version 3).
inline constexpr char kSqliteSweepSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS sweeps (
  ordinal INTEGER PRIMARY KEY,    -- creation order
  id TEXT NOT NULL UNIQUE,
  state INTEGER NOT NULL,         -- descent.v1.SweepState
  sweep BLOB NOT NULL             -- descent.v1.Sweep as of the last write
);
CREATE TABLE IF NOT EXISTS sweep_events (
  sweep TEXT NOT NULL,
  sequence INTEGER NOT NULL,      -- TrialEvent.sequence, from 1
  event BLOB NOT NULL,            -- descent.v1.TrialEvent
  PRIMARY KEY (sweep, sequence)
) WITHOUT ROWID;
)sql";

class SqliteSweepStore final : public SweepStore {
 public:
  // On the job store's open connection `db` (the database at `path`), locked by `mu`; all
  // three outlive this.
  SqliteSweepStore(sqlite3* db, absl::Mutex* mu, const std::string& path)
      : mu_(*mu), db_(db), path_(path) {}

  absl::Status InsertSweep(const SweepWrite& write) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status WriteSweep(const SweepWrite& write) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<v1::Sweep>> LoadSweeps() const override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::Sweep> ReadSweep(const std::string& id) const override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<v1::TrialEvent>> ReadSweepEvents(const std::string& id,
                                                              int64_t after) const override
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // The row update and the events of one write, inside the caller's transaction.
  int WriteLocked(const SweepWrite& write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Corrupt(const std::string& id, const char* what) const;

  absl::Mutex& mu_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);
  const std::string& path_;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_SQLITE_SWEEP_STORE_H_
