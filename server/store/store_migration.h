// Store versions (PRAGMA user_version) and the step from each older one to the next. A
// migration runs inside SqliteJobStore::Open's transaction: it either completes, with the new
// version set, or leaves the store exactly as it was.
#ifndef DESCENT_SERVER_STORE_STORE_MIGRATION_H_
#define DESCENT_SERVER_STORE_STORE_MIGRATION_H_

#include <sqlite3.h>

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "descent/v1/training.pb.h"

namespace descent::server {

// The version this descentd writes. 1: checkpoints and models in a hand-rolled binary
// format, models in the jobs table. 2: checkpoints and models as descent.store.v1 messages,
// models in their own table, and the jobs table led by the columns start-up reads (state,
// request_id, end time), so that loading 100,000 finished jobs reads a few megabytes.
// 3: the sweeps and their trial events (sqlite_sweep_store.h), tables a version-2 store gets
// when it is opened.
inline constexpr int64_t kStoreVersion = 3;

// Rewrites a version-1 store as version 2 in the open transaction of `db`: the jobs table
// is renamed aside, `schema` (version 2's, IF NOT EXISTS throughout) creates the new tables,
// and every row, model and checkpoint is copied over with its blob decoded from version 1's
// format (legacy_blobs.h) and encoded as the store's message. Returns an SQLite code;
// SQLITE_OK when done. A blob that cannot be read sets `*problem` (DATA_LOSS naming the job)
// and returns SQLITE_ABORT, so the caller rolls back.
int MigrateFromVersion1(sqlite3* db, const char* schema, absl::Status* problem);

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_STORE_MIGRATION_H_
