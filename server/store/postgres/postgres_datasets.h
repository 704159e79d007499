// Uploaded datasets (dataset_backend.h) in the PostgreSQL database replicas share, so that a
// dataset uploaded to one replica serves jobs, listings and deletes on every other: the table
// datasets holds each content once (its id, its metadata as a descent.v1.Dataset without names,
// its bytes as one bytea: uploads are at most --max-dataset-bytes, which descentd keeps below
// PostgreSQL's 1 GiB per value), dataset_names its names (schema version
// kDatasetsSchemaVersion, postgres_schema.h). The bytes are stored uncompressed (STORAGE
// EXTERNAL): a 48 MB CSV of random numbers took 2.4-3.8 s to upload so against 5.5-8.0 s with
// PostgreSQL's default pglz compression (2.1-2.7 s into --data-dir files), on a loaded 2-core
// machine, for 49 MB stored instead of 29 MB.
//
// Its own connection, not the job store's: a large upload or read does not hold up the runners'
// writes and lease renewals. Outages are retried as the job store's are (pg_connection.h).
// Concurrent calls on several replicas behave as on one box: the same bytes stored at once end
// as one row (INSERT ... ON CONFLICT), a name taken by other content is ALREADY_EXISTS, and a
// delete holds the content's row locked while its check runs, so no upload adds a name to it
// meanwhile.
#ifndef DESCENT_SERVER_STORE_POSTGRES_POSTGRES_DATASETS_H_
#define DESCENT_SERVER_STORE_POSTGRES_POSTGRES_DATASETS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/dataset_backend.h"
#include "server/store/postgres/pg_connection.h"

namespace descent::server {

// The largest dataset PostgreSQL stores in one bytea value (1 GiB less its header), less a
// margin; descentd with a PostgreSQL --store refuses a larger --max-dataset-bytes.
inline constexpr int64_t kMaxPostgresDatasetBytes = (int64_t{1} << 30) - (int64_t{1} << 20);

class PostgresDatasets final : public DatasetBackend {
 public:
  // Connects to `url` and creates or migrates the schema (postgres_schema.h), as
  // PostgresJobStore::Open does, with its errors. Calls are retried through outages for
  // `retry_for`.
  static absl::StatusOr<std::unique_ptr<PostgresDatasets>> Open(
      const std::string& url, absl::Duration retry_for = absl::ZeroDuration());

  // DatasetBackend's operations; the connection's errors (UNAVAILABLE naming the database)
  // when it cannot be reached, DATA_LOSS naming the dataset for metadata that does not parse.
  bool shared() const override { return true; }
  absl::StatusOr<PutResult> Put(const v1::Dataset& dataset, absl::string_view name,
                                absl::string_view bytes) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::Dataset> Get(absl::string_view id_or_name) const override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<v1::Dataset>> List() const override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<DeleteResult> Delete(
      absl::string_view id_or_name,
      const std::function<absl::Status(const v1::Dataset&)>& may_delete) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::string> ReadBytes(absl::string_view id) const override
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit PostgresDatasets(std::unique_ptr<PgConnection> db) : db_(std::move(db)) {}
  // The dataset `id_or_name` refers to with its names; NOT_FOUND otherwise. `lock` takes its
  // content row FOR UPDATE (inside a transaction) first.
  absl::StatusOr<v1::Dataset> FindLocked(absl::string_view id_or_name, bool lock) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The datasets of rows of (metadata, names joined by ',').
  absl::StatusOr<std::vector<v1::Dataset>> Datasets(const PgResult& rows) const;

  mutable absl::Mutex mu_;
  const std::unique_ptr<PgConnection> db_ ABSL_PT_GUARDED_BY(mu_);
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_POSTGRES_POSTGRES_DATASETS_H_
