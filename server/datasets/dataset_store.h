// Uploaded tables: what an upload holds (parsed and described here) and where it is kept,
// through a DatasetBackend (server/store/dataset_backend.h): files in --data-dir/datasets on a
// single box, the shared PostgreSQL database for replicas. The id is a hash of the bytes, so
// an identical upload is stored once; its names are aliases: the same content may have several,
// each name refers to one dataset. With a shared backend the parsed tables of recently loaded
// datasets are kept in memory (an id's bytes never change), so a replica fetches a dataset's
// bytes from the database once however many jobs train on it. Thread-safe.
#ifndef DESCENT_SERVER_DATASETS_DATASET_STORE_H_
#define DESCENT_SERVER_DATASETS_DATASET_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "descent/v1/datasets.pb.h"
#include "server/datasets/csv_parser.h"
#include "server/store/dataset_backend.h"

namespace descent::server {

inline constexpr int kMaxDatasetNameLength = 128;

// "ds-" + the first 16 hex digits of SHA-256(bytes).
std::string DatasetIdFor(absl::string_view bytes);

// INVALID_ARGUMENT naming `field` unless `name` is 1-128 letters, digits, '.', '_' or '-'
// and does not start with "ds-" (kept for ids, so a reference is never ambiguous).
absl::Status ValidateDatasetName(absl::string_view name, absl::string_view field);

// The metadata of a parsed table: rows, columns with their types and categories.
v1::Dataset DescribeTable(const CsvTable& table);

struct LoadedDataset {
  v1::Dataset dataset;
  CsvTable table;
};

// The parsed tables a shared DatasetStore keeps, by the size of their uploads.
inline constexpr int64_t kParsedTableCacheBytes = 256 << 20;

class DatasetStore {
 public:
  // Datasets kept by `backend`.
  explicit DatasetStore(std::unique_ptr<DatasetBackend> backend);

  // Datasets kept as files in `directory` (DatasetFiles::Open: created if needed, leftovers
  // of interrupted writes removed). INTERNAL naming the path when it cannot be used.
  static absl::StatusOr<std::unique_ptr<DatasetStore>> Open(const std::string& directory);

  // Parses `bytes` (csv_parser.h) and stores them under `name` (empty: no name, the id
  // refers to it). Identical bytes already stored: that dataset with `name` added to its
  // names, already_stored = true. INVALID_ARGUMENT for a bad name or CSV and ALREADY_EXISTS
  // when other content has that name (nothing changes); the backend's INTERNAL or UNAVAILABLE
  // when it cannot be written (nothing is stored, no name added).
  absl::StatusOr<PutResult> Put(absl::string_view name, absl::string_view bytes, absl::Time now);

  // By id or any of its names. NOT_FOUND naming the reference otherwise.
  absl::StatusOr<v1::Dataset> Get(absl::string_view id_or_name) const;

  // Newest first. UNAVAILABLE when a shared backend cannot be read.
  absl::StatusOr<std::vector<v1::Dataset>> List() const;

  // By a name that is not the content's last: removes that name only. Otherwise (the last
  // name, or the id) removes the content with all its names if `may_delete` (called while no
  // other call can change the dataset) returns OK, else returns its status and keeps
  // everything. NOT_FOUND for an unknown reference; INTERNAL or UNAVAILABLE if it cannot be
  // removed (nothing changes).
  absl::StatusOr<DeleteResult> Delete(
      absl::string_view id_or_name,
      const std::function<absl::Status(const v1::Dataset&)>& may_delete);

  // The dataset's metadata and parsed table. NOT_FOUND for an unknown reference;
  // DATA_LOSS when its bytes are gone or no longer hash to its id.
  absl::StatusOr<LoadedDataset> Load(absl::string_view id_or_name) const
      ABSL_LOCKS_EXCLUDED(cache_mu_);

 private:
  struct CachedTableEntry {
    std::string id;
    int64_t size_bytes = 0;  // of the upload
    uint64_t last_use = 0;
    CsvTable table;
  };
  // A copy of dataset `id`'s parsed table if it is cached.
  std::optional<CsvTable> CachedTable(const std::string& id) const
      ABSL_LOCKS_EXCLUDED(cache_mu_);
  // Caches `table`, dropping the least recently used tables to stay within
  // kParsedTableCacheBytes (a larger one is not cached).
  void CacheTable(const v1::Dataset& dataset, const CsvTable& table) const
      ABSL_LOCKS_EXCLUDED(cache_mu_);

  const std::unique_ptr<DatasetBackend> backend_;
  mutable absl::Mutex cache_mu_;
  mutable std::vector<CachedTableEntry> cache_ ABSL_GUARDED_BY(cache_mu_);
  mutable uint64_t cache_uses_ ABSL_GUARDED_BY(cache_mu_) = 0;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_DATASETS_DATASET_STORE_H_
