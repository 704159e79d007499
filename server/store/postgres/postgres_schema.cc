#include "server/store/postgres/postgres_schema.h"

#include <iterator>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace descent::server {
namespace {

// kMigrations[i] takes the schema from version i to version i + 1.
constexpr const char* kMigrations[] = {
    // Version 1. The columns start-up reads come first, the spec (which can be large) last.
    R"sql(
CREATE TABLE jobs (
  sequence bigint PRIMARY KEY,    -- submission order; List pages by it
  id text NOT NULL UNIQUE,
  state integer NOT NULL,         -- descent.v1.JobState
  request_id text NOT NULL,       -- the submit's idempotency key; '' without
  end_time bigint,                -- unix nanoseconds once the job ended, else NULL
  job bytea NOT NULL,             -- descent.v1.Job without the spec, as of the last write
  spec bytea NOT NULL             -- descent.v1.JobSpec as echoed to clients
);
CREATE TABLE checkpoints (        -- a running job's latest trainer checkpoint
  job bigint PRIMARY KEY,
  checkpoint bytea NOT NULL       -- descent.store.v1.Checkpoint
);
CREATE TABLE models (             -- a SUCCEEDED job's model
  job bigint PRIMARY KEY,
  model bytea NOT NULL            -- descent.store.v1.Model
);
CREATE TABLE losses (             -- consecutive steps' losses as little-endian doubles
  job bigint NOT NULL,
  first_step bigint NOT NULL,
  losses bytea NOT NULL,
  PRIMARY KEY (job, first_step)
);
CREATE TABLE events (
  ordinal bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- write order
  job bigint NOT NULL,
  after_step bigint NOT NULL,
  epoch integer NOT NULL,         -- the summary's epoch; 0 for other events
  message bytea NOT NULL          -- descent.v1.WatchJobResponse
);
CREATE INDEX events_by_step ON events (job, after_step, ordinal);
)sql",
    // Version 2: leases (job_store.h). A job of version 1 has none, so it is claimable.
    R"sql(
ALTER TABLE jobs ADD COLUMN runner text NOT NULL DEFAULT '';  -- Job.runner of the last claim
ALTER TABLE jobs ADD COLUMN lease_instance bigint;          -- the process holding the lease
ALTER TABLE jobs ADD COLUMN lease_token bigint NOT NULL DEFAULT 0;  -- grows with each claim
ALTER TABLE jobs ADD COLUMN lease_expires timestamptz;      -- NULL: free to claim
CREATE INDEX jobs_unfinished ON jobs (state, sequence) WHERE state IN (1, 2);
-- New jobs' sequences, handed out to every replica (nextval is atomic), after the stored ones.
CREATE SEQUENCE job_sequences MINVALUE 0 START 0;
SELECT setval('job_sequences', (SELECT COALESCE(MAX(sequence), -1) + 1 FROM jobs), false);
)sql",
    // Version 3: cancels requested of a job another replica trains (JobStore::RequestCancel),
    // request ids found across the replicas.
    R"sql(
ALTER TABLE jobs ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;
-- Submissions look their request_id up across the replicas (JobStore::FindRequest).
CREATE INDEX jobs_by_request ON jobs (request_id) WHERE request_id <> '';
)sql",
    // kSweepsSchemaVersion: the sweeps (sweep_store.h), leased as jobs are.
    R"sql(
CREATE TABLE sweeps (
  ordinal bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- creation order
  id text NOT NULL UNIQUE,
  state integer NOT NULL,                   -- descent.v1.SweepState
  sweep bytea NOT NULL,                     -- descent.v1.Sweep as of the last write
  runner text NOT NULL DEFAULT '',          -- the replica driving it (its last claim)
  lease_instance bigint,
  lease_token bigint NOT NULL DEFAULT 0,    -- grows with each claim
  lease_expires timestamptz                 -- NULL: free to claim
);
CREATE TABLE sweep_events (
  sweep text NOT NULL,
  sequence bigint NOT NULL,                 -- TrialEvent.sequence, from 1
  event bytea NOT NULL,                     -- descent.v1.TrialEvent
  PRIMARY KEY (sweep, sequence)
);
)sql",
    // kDatasetsSchemaVersion: uploaded datasets (postgres_datasets.h), so that any replica
    // serves any of them.
    R"sql(
CREATE TABLE datasets (
  id text PRIMARY KEY,              -- "ds-" + the SHA-256 prefix of the bytes
  metadata bytea NOT NULL,          -- descent.v1.Dataset without its names
  bytes bytea NOT NULL              -- the CSV as uploaded
);
CREATE TABLE dataset_names (        -- a content's names (aliases); a name has one content
  name text PRIMARY KEY,
  dataset text NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  ordinal bigint GENERATED ALWAYS AS IDENTITY  -- Dataset.names in the order they were given
);
CREATE INDEX dataset_names_by_dataset ON dataset_names (dataset, ordinal);
-- Kept out of line uncompressed: pglz made a 48 MB CSV's upload 2.3x slower than storing it
-- as is, for 1.7x less space (postgres_datasets.h gives the figures).
ALTER TABLE datasets ALTER COLUMN bytes SET STORAGE EXTERNAL;
)sql",
    // kSweepCancelSchemaVersion: cancels asked of a replica that does not drive the sweep
    // (SweepStore::RequestSweepCancel), which the driver hears of at its next renewal.
    R"sql(
ALTER TABLE sweeps ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;
)sql",
};
static_assert(kSweepsSchemaVersion <= std::size(kMigrations));
static_assert(std::size(kMigrations) == kPostgresSchemaVersion);

// Taken for the migration's transaction: a second descentd starting at the same time waits,
// then finds the schema current.
constexpr char kLock[] = "SELECT pg_advisory_xact_lock(7306916376098108468)";  // "descent" + 't'

}  // namespace

absl::Status PrepareSchema(PgConnection& db) {
  return db.InTransaction([&]() -> absl::Status {
    RETURN_IF_ERROR(db.Run(kLock, {}, "lock the schema").status());
    ASSIGN_OR_RETURN(PgResult exists,
                     db.Run("SELECT to_regclass('schema_version') IS NOT NULL", {},
                            "read the schema version"));
    int64_t version = 0;
    if (exists.Bytes(0, 0) == std::string_view("\1", 1)) {
      ASSIGN_OR_RETURN(PgResult row,
                       db.Run("SELECT version FROM schema_version", {}, "read the schema version"));
      if (row.rows() != 1) {
        return absl::DataLossError(absl::StrCat(
            "the job store ", db.location(), " has ", row.rows(),
            " rows in schema_version instead of one; restore the database from a backup"));
      }
      version = row.Int(0, 0);
    } else {
      RETURN_IF_ERROR(db.RunScript(
          "CREATE TABLE schema_version (version bigint NOT NULL); "
          "INSERT INTO schema_version VALUES (0)",
          "create the schema version"));
    }
    if (version > kPostgresSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the job store ", db.location(), " has schema version ", version,
          ", newer than this descentd reads (version ", kPostgresSchemaVersion,
          "); run the descentd that wrote it, or point --store at another database"));
    }
    for (int64_t next = version; next < kPostgresSchemaVersion; ++next) {
      RETURN_IF_ERROR(db.RunScript(kMigrations[next], "create the tables"));
    }
    if (version == kPostgresSchemaVersion) return absl::OkStatus();
    return db.Run("UPDATE schema_version SET version = $1",
                  PgParams().Int(kPostgresSchemaVersion), "set the schema version")
        .status();
  });
}

}  // namespace descent::server
