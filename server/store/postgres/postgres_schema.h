// The PostgreSQL job store's schema, created and versioned by descentd: the version lives in
// a one-row table schema_version, and each version's migration runs in one transaction under
// an advisory lock, so replicas starting together migrate once. Versions here are this
// store's own, independent of the SQLite store's.
#ifndef DESCENT_SERVER_STORE_POSTGRES_POSTGRES_SCHEMA_H_
#define DESCENT_SERVER_STORE_POSTGRES_POSTGRES_SCHEMA_H_

#include <cstdint>

#include "absl/status/status.h"
#include "server/store/postgres/pg_connection.h"

namespace descent::server {

// The version this descentd writes. 1: jobs, checkpoints, models, losses and events, the
// rows and blobs (bytea) as the SQLite store's version 2. 2: leases in the jobs table
// (runner, lease_instance, lease_token, lease_expires). 3: cancel_requested in the jobs
// table, an index of request ids. kSweepsSchemaVersion: the sweeps and their trial events
// (postgres_sweep_store.h), leased as jobs are. kDatasetsSchemaVersion: uploaded datasets
// and their names (postgres_datasets.h). kSweepCancelSchemaVersion: cancel_requested in the
// sweeps table (SweepStore::RequestSweepCancel).
inline constexpr int64_t kSweepsSchemaVersion = 4;
inline constexpr int64_t kDatasetsSchemaVersion = 5;
inline constexpr int64_t kSweepCancelSchemaVersion = 6;
inline constexpr int64_t kPostgresSchemaVersion = kSweepCancelSchemaVersion;

// Brings the database to kPostgresSchemaVersion: creates the tables in an empty database, or
// runs the migrations from its version. FAILED_PRECONDITION naming both versions for a
// database newer than this descentd reads (left untouched); the connection's errors otherwise
// (nothing changes then).
absl::Status PrepareSchema(PgConnection& db);

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_POSTGRES_POSTGRES_SCHEMA_H_
