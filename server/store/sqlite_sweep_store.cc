#include "server/store/sqlite_sweep_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/store/sqlite_statement.h"
#include "server/store/sqlite_transaction.h"

namespace descent::server {

absl::Status SqliteSweepStore::Corrupt(const std::string& id, const char* what) const {
  return absl::DataLossError(absl::StrCat("the job store ", path_, " holds a malformed ", what,
                                          " for sweep ", id, "; move the file aside to start "
                                          "afresh"));
}

int SqliteSweepStore::WriteLocked(const SweepWrite& write) {
  Statement update(db_, "UPDATE sweeps SET state = ?2, sweep = ?3 WHERE id = ?1");
  update.Bind(1, write.sweep.id()).Bind(2, write.sweep.state())
      .BindBlob(3, write.sweep.SerializeAsString());
  if (const int code = update.Run(); code != SQLITE_OK) return code;
  Statement insert(db_, "INSERT INTO sweep_events (sweep, sequence, event) VALUES (?1, ?2, ?3)");
  for (const v1::TrialEvent& event : write.events) {
    insert.Bind(1, write.sweep.id()).Bind(2, event.sequence()).BindBlob(3, event.SerializeAsString());
    if (const int code = insert.Run(); code != SQLITE_OK) return code;
  }
  return SQLITE_OK;
}

absl::Status SqliteSweepStore::InsertSweep(const SweepWrite& write) {
  absl::MutexLock lock(&mu_);
  {
    Statement exists(db_, "SELECT 1 FROM sweeps WHERE id = ?1");
    exists.Bind(1, write.sweep.id());
    if (exists.Next()) {
      return absl::AlreadyExistsError(absl::StrCat("sweep ", write.sweep.id(), " is stored already"));
    }
  }
  return SqliteTransaction(db_, path_, [&] {
    Statement insert(db_, "INSERT INTO sweeps (id, state, sweep) VALUES (?1, 0, x'')");
    insert.Bind(1, write.sweep.id());
    if (const int code = insert.Run(); code != SQLITE_OK) return code;
    return WriteLocked(write);
  });
}

absl::Status SqliteSweepStore::WriteSweep(const SweepWrite& write) {
  absl::MutexLock lock(&mu_);
  {
    Statement exists(db_, "SELECT 1 FROM sweeps WHERE id = ?1");
    exists.Bind(1, write.sweep.id());
    if (!exists.Next()) {
      return absl::NotFoundError(absl::StrCat("sweep ", write.sweep.id(), " is not stored"));
    }
  }
  return SqliteTransaction(db_, path_, [&] { return WriteLocked(write); });
}

absl::StatusOr<std::vector<v1::Sweep>> SqliteSweepStore::LoadSweeps() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Sweep> sweeps;
  Statement rows(db_, "SELECT id, sweep FROM sweeps ORDER BY ordinal");
  while (rows.Next()) {
    const std::string_view bytes = rows.Blob(1);
    if (!sweeps.emplace_back().ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return Corrupt(std::string(rows.Blob(0)), "sweep row");
    }
  }
  if (!rows.ok()) return SqliteWriteError(db_, rows.code(), path_);
  return sweeps;
}

absl::StatusOr<v1::Sweep> SqliteSweepStore::ReadSweep(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  Statement row(db_, "SELECT sweep FROM sweeps WHERE id = ?1");
  row.Bind(1, id);
  if (!row.Next()) {
    if (!row.ok()) return SqliteWriteError(db_, row.code(), path_);
    return absl::NotFoundError(absl::StrCat("sweep ", id, " is not stored"));
  }
  v1::Sweep sweep;
  const std::string_view bytes = row.Blob(0);
  if (!sweep.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Corrupt(id, "sweep row");
  }
  return sweep;
}

absl::StatusOr<std::vector<v1::TrialEvent>> SqliteSweepStore::ReadSweepEvents(
    const std::string& id, int64_t after) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::TrialEvent> events;
  Statement rows(db_,
                 "SELECT event FROM sweep_events WHERE sweep = ?1 AND sequence > ?2 "
                 "ORDER BY sequence");
  rows.Bind(1, id).Bind(2, after);
  while (rows.Next()) {
    const std::string_view bytes = rows.Blob(0);
    if (!events.emplace_back().ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return Corrupt(id, "trial event");
    }
  }
  if (!rows.ok()) return SqliteWriteError(db_, rows.code(), path_);
  return events;
}

}  // namespace descent::server
