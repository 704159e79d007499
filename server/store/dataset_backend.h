// Where uploaded datasets are kept, behind one interface with two implementations: files in
// --data-dir/datasets (dataset_files.h, the single box) and the PostgreSQL database replicas
// share (postgres/postgres_datasets.h), so that any replica serves any dataset without another
// replica's disk. A dataset is its bytes as uploaded (the CSV) and its metadata (a
// descent.v1.Dataset: id, rows, columns, size, create time); its id is a hash of its bytes
// (computed by the caller, datasets/dataset_store.h), so identical bytes are stored once, and
// its names are aliases: one content may have several names, a name refers to one content.
// The parsing, validation and description of the bytes are the caller's; a backend stores
// what it is given. Implementations are thread-safe.
#ifndef DESCENT_SERVER_STORE_DATASET_BACKEND_H_
#define DESCENT_SERVER_STORE_DATASET_BACKEND_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "descent/v1/datasets.pb.h"

namespace descent::server {

struct PutResult {
  v1::Dataset dataset;
  bool already_stored = false;  // identical bytes were stored before; `dataset` is that one
};

struct DeleteResult {
  v1::Dataset dataset;                       // as it was before the call
  std::vector<std::string> remaining_names;  // empty: the content was deleted
};

class DatasetBackend {
 public:
  virtual ~DatasetBackend() = default;

  // True when other processes (replicas) read and write the same datasets, so what this one
  // reads may have been written elsewhere (the caller caches parsed tables by id then, which
  // stay valid: an id's bytes never change).
  virtual bool shared() const = 0;

  // Stores `bytes` with `dataset` as their metadata (id set, names empty) unless that id is
  // stored already, then adds `name` (empty: none) to the content's names. The result is the
  // dataset as stored (an earlier upload's create time, every name), already_stored telling
  // whether the id was stored before. ALREADY_EXISTS naming header.name when other content
  // has that name; INTERNAL or UNAVAILABLE naming the place when it cannot be written. Nothing
  // changes on failure. Two processes storing the same bytes at once end with one content.
  virtual absl::StatusOr<PutResult> Put(const v1::Dataset& dataset, absl::string_view name,
                                        absl::string_view bytes) = 0;

  // By id or any of its names. NOT_FOUND naming the reference otherwise (DatasetNotFound).
  virtual absl::StatusOr<v1::Dataset> Get(absl::string_view id_or_name) const = 0;

  // Every dataset, newest first (NewerFirst). UNAVAILABLE when the database cannot be read.
  virtual absl::StatusOr<std::vector<v1::Dataset>> List() const = 0;

  // By a name that is not the content's last: removes that name only. Otherwise (the last
  // name, or the id) removes the content with all its names if `may_delete` returns OK, else
  // returns its status and keeps everything; no other call changes the dataset while
  // `may_delete` runs. NOT_FOUND for an unknown reference; INTERNAL or UNAVAILABLE when it
  // cannot be removed (nothing changes).
  virtual absl::StatusOr<DeleteResult> Delete(
      absl::string_view id_or_name,
      const std::function<absl::Status(const v1::Dataset&)>& may_delete) = 0;

  // The bytes of the stored content `id`. NOT_FOUND when no such content is stored (deleted
  // meanwhile); DATA_LOSS naming it when its bytes are gone from where they were kept.
  virtual absl::StatusOr<std::string> ReadBytes(absl::string_view id) const = 0;
};

// NOT_FOUND for a reference that names no dataset, as every backend says it.
absl::Status DatasetNotFound(absl::string_view id_or_name);

// ALREADY_EXISTS for header.name `name`, which content `other_id` has.
absl::Status DatasetNameTaken(absl::string_view name, absl::string_view other_id);

// Dataset.name follows the names: the first one, or the id when there is none.
void RefreshDatasetName(v1::Dataset& dataset);

// List's order: newer create_time first, then by id.
bool NewerDatasetFirst(const v1::Dataset& a, const v1::Dataset& b);

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_DATASET_BACKEND_H_
