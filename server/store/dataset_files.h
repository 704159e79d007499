// Uploaded datasets as files (dataset_backend.h), for the single box: <directory>/<id>.csv
// holds the bytes as uploaded, <id>.json the metadata (a descent.v1.Dataset in JSON, with its
// names). Both are written to a temporary file, flushed and renamed, metadata last, so a crash
// leaves either a whole dataset or none (Open removes the leftovers). The metadata of every
// dataset is kept in memory; the bytes are read from disk when asked for. One process per
// directory. Thread-safe.
#ifndef DESCENT_SERVER_STORE_DATASET_FILES_H_
#define DESCENT_SERVER_STORE_DATASET_FILES_H_

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
#include "descent/v1/datasets.pb.h"
#include "server/store/dataset_backend.h"

namespace descent::server {

class DatasetFiles final : public DatasetBackend {
 public:
  // Uses `directory`, creating it if needed; loads every complete dataset's metadata and
  // removes what an interrupted write left (temporary files, a file without its metadata).
  // INTERNAL naming the path when the directory cannot be created or read.
  static absl::StatusOr<std::unique_ptr<DatasetFiles>> Open(const std::string& directory);

  // DatasetBackend's operations; INTERNAL naming the file when one cannot be written or
  // removed, DATA_LOSS from ReadBytes when a dataset's file is gone.
  bool shared() const override { return false; }
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
  explicit DatasetFiles(std::string directory) : directory_(std::move(directory)) {}
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

#endif  // DESCENT_SERVER_STORE_DATASET_FILES_H_
