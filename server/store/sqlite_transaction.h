// What both tables of the SQLite store (the jobs' and the sweeps') do alike on one connection:
// a write error as the service reports it, and a write transaction that commits or leaves the
// database as it was.
#ifndef DESCENT_SERVER_STORE_SQLITE_TRANSACTION_H_
#define DESCENT_SERVER_STORE_SQLITE_TRANSACTION_H_

#include <sqlite3.h>

#include <string>

#include "absl/status/status.h"

namespace descent::server {

// A failure of SQLite `code` on `db` (the store at `path`) as the service reports it: no room
// (a full disk, a quota, the file size limit: RESOURCE_EXHAUSTED, the client may retry once
// space is freed) or another I/O problem (UNAVAILABLE), naming the database so an operator
// knows where to look.
absl::Status SqliteWriteError(sqlite3* db, int code, const std::string& path);

// Runs `body` (returning an SQLite code) inside BEGIN IMMEDIATE .. COMMIT, rolling back when
// it or the commit fails; the error is `*problem` when the body set one, else the SQLite
// error (SqliteWriteError). The caller holds the connection's lock.
template <typename Body>
absl::Status SqliteTransaction(sqlite3* db, const std::string& path, Body body,
                               const absl::Status* problem = nullptr) {
  int code = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (code == SQLITE_OK) code = body();
  if (code == SQLITE_OK) code = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  if (code == SQLITE_OK) return absl::OkStatus();
  absl::Status error =
      problem != nullptr && !problem->ok() ? *problem : SqliteWriteError(db, code, path);
  // SQLite may already have rolled back (after an I/O error); otherwise undo the partial
  // transaction so the store stays as it was.
  if (sqlite3_get_autocommit(db) == 0) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return error;
}

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_SQLITE_TRANSACTION_H_
