// Uploaded tables on disk: <directory>/<id>.csv holds the bytes as uploaded, <id>.json the
// metadata (a descent.v1.Dataset in JSON, with its names). Both are written to a temporary
// file, flushed and renamed, metadata last, so a crash leaves either a whole dataset or none
// (Open removes the leftovers). The id is a hash of the bytes, so an identical upload is
// stored once; its names are aliases: the same content may have several, each name refers
// to one dataset. Thread-safe.
#ifndef DESCENT_SERVER_DATASETS_DATASET_STORE_H_
#define DESCENT_SERVER_DATASETS_DATASET_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "descent/v1/datasets.pb.h"
#include "server/datasets/csv_parser.h"

namespace descent::server {

inline constexpr int kMaxDatasetNameLength = 128;

// "ds-" + the first 16 hex digits of SHA-256(bytes).
std::string DatasetIdFor(absl::string_view bytes);

// INVALID_ARGUMENT naming `field` unless `name` is 1-128 letters, digits, '.', '_' or '-'
// and does not start with "ds-" (kept for ids, so a reference is never ambiguous).
absl::Status ValidateDatasetName(absl::string_view name, absl::string_view field);

// The metadata of a parsed table: rows, columns with their types and categories.
v1::Dataset DescribeTable(const CsvTable& table);

struct PutResult {
  v1::Dataset dataset;
  bool already_stored = false;  // identical bytes were stored before; `dataset` is that one
};

struct DeleteResult {
  v1::Dataset dataset;                       // as it was before the call
  std::vector<std::string> remaining_names;  // empty: the content was deleted
};

struct LoadedDataset {
  v1::Dataset dataset;
  CsvTable table;
};

class DatasetStore {
 public:
  // Uses `directory`, creating it if needed; loads every complete dataset in it and removes
  // what an interrupted write left (temporary files, a file without its metadata).
  // INTERNAL naming the path when the directory cannot be created or read.
  static absl::StatusOr<std::unique_ptr<DatasetStore>> Open(const std::string& directory);

  // Parses `bytes` (csv_parser.h) and stores them under `name` (empty: no name, the id
  // refers to it). Identical bytes already stored: that dataset with `name` added to its
  // names, already_stored = true. INVALID_ARGUMENT for a bad name or CSV and ALREADY_EXISTS
  // when other content has that name (nothing changes); INTERNAL when the files cannot be
  // written (nothing is stored, no name added).
  absl::StatusOr<PutResult> Put(absl::string_view name, absl::string_view bytes, absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);

  // By id or any of its names. NOT_FOUND naming the reference otherwise.
  absl::StatusOr<v1::Dataset> Get(absl::string_view id_or_name) const ABSL_LOCKS_EXCLUDED(mu_);

  // Newest first.
  std::vector<v1::Dataset> List() const ABSL_LOCKS_EXCLUDED(mu_);

  // By a name that is not the content's last: removes that name only. Otherwise (the last
  // name, or the id) removes the content with all its names if `may_delete` (called with the
  // store locked, so no other store call interleaves) returns OK, else returns its status
  // and keeps everything. NOT_FOUND for an unknown reference; INTERNAL if the files cannot be
  // removed or rewritten (nothing changes).
  absl::StatusOr<DeleteResult> Delete(
      absl::string_view id_or_name,
      const std::function<absl::Status(const v1::Dataset&)>& may_delete) ABSL_LOCKS_EXCLUDED(mu_);

  // The dataset's metadata and parsed table. NOT_FOUND for an unknown reference;
  // DATA_LOSS when its file is gone or no longer hashes to its id.
  absl::StatusOr<LoadedDataset> Load(absl::string_view id_or_name) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit DatasetStore(std::string directory) : directory_(std::move(directory)) {}
  const v1::Dataset* FindLocked(absl::string_view id_or_name) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string DataPath(absl::string_view id) const;
  std::string MetadataPath(absl::string_view id) const;
  // Writes `dataset`'s metadata file (atomically). INTERNAL when it cannot be written.
  absl::Status WriteMetadata(const v1::Dataset& dataset) const;

  const std::string directory_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, v1::Dataset> by_id_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> id_by_name_ ABSL_GUARDED_BY(mu_);  // every alias
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_DATASETS_DATASET_STORE_H_
