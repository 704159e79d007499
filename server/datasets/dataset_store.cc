#include "server/datasets/dataset_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/store/dataset_files.h"

namespace descent::server {
namespace {

using ::absl::StrCat;

constexpr absl::string_view kIdPrefix = "ds-";
// More distinct values than this in a numeric column are reported as this number.
constexpr int kDistinctValuesCap = 1001;

}  // namespace

std::string DatasetIdFor(absl::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  DESCENT_CHECK(EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) ==
                1);
  std::string id(kIdPrefix);
  for (int i = 0; i < 8; ++i) absl::StrAppendFormat(&id, "%02x", digest[i]);
  return id;
}

absl::Status ValidateDatasetName(absl::string_view name, absl::string_view field) {
  if (name.empty() || name.size() > static_cast<size_t>(kMaxDatasetNameLength)) {
    return absl::InvalidArgumentError(StrCat(field, " must be 1 to ", kMaxDatasetNameLength,
                                             " characters (got ", name.size(), ")"));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' &&
        c != '-') {
      return absl::InvalidArgumentError(
          StrCat(field, " \"", name, "\" may hold only letters, digits, '.', '_' and '-'"));
    }
  }
  if (absl::StartsWith(name, kIdPrefix)) {
    return absl::InvalidArgumentError(StrCat(field, " \"", name, "\" must not start with \"",
                                             kIdPrefix, "\", which is kept for dataset ids"));
  }
  return absl::OkStatus();
}

v1::Dataset DescribeTable(const CsvTable& table) {
  v1::Dataset dataset;
  dataset.set_rows(table.rows);
  for (const CsvColumn& column : table.columns) {
    v1::Column* out = dataset.add_columns();
    out->set_name(column.name);
    if (column.numeric) {
      out->set_type(v1::NUMERIC);
      std::set<double> distinct;
      for (double value : column.numbers) {
        distinct.insert(value);
        if (distinct.size() >= static_cast<size_t>(kDistinctValuesCap)) break;
      }
      out->set_distinct_values(static_cast<int32_t>(distinct.size()));
    } else {
      out->set_type(v1::TEXT);
      out->mutable_categories()->Add(column.categories.begin(), column.categories.end());
      out->set_first_text_line(column.first_text_line);
    }
  }
  return dataset;
}

DatasetStore::DatasetStore(std::unique_ptr<DatasetBackend> backend)
    : backend_(std::move(backend)) {}

absl::StatusOr<std::unique_ptr<DatasetStore>> DatasetStore::Open(const std::string& directory) {
  ASSIGN_OR_RETURN(std::unique_ptr<DatasetFiles> files, DatasetFiles::Open(directory));
  return std::make_unique<DatasetStore>(std::move(files));
}

absl::StatusOr<PutResult> DatasetStore::Put(absl::string_view name, absl::string_view bytes,
                                            absl::Time now) {
  if (!name.empty()) RETURN_IF_ERROR(ValidateDatasetName(name, "header.name"));
  ASSIGN_OR_RETURN(const CsvTable table, ParseCsv(bytes));
  v1::Dataset dataset = DescribeTable(table);
  dataset.set_id(DatasetIdFor(bytes));
  dataset.set_size_bytes(static_cast<int64_t>(bytes.size()));
  *dataset.mutable_create_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
  return backend_->Put(dataset, name, bytes);
}

absl::StatusOr<v1::Dataset> DatasetStore::Get(absl::string_view id_or_name) const {
  return backend_->Get(id_or_name);
}

absl::StatusOr<std::vector<v1::Dataset>> DatasetStore::List() const { return backend_->List(); }

absl::StatusOr<DeleteResult> DatasetStore::Delete(
    absl::string_view id_or_name,
    const std::function<absl::Status(const v1::Dataset&)>& may_delete) {
  return backend_->Delete(id_or_name, may_delete);
}

std::optional<CsvTable> DatasetStore::CachedTable(const std::string& id) const {
  absl::MutexLock lock(&cache_mu_);
  for (CachedTableEntry& entry : cache_) {
    if (entry.id != id) continue;
    entry.last_use = ++cache_uses_;
    return entry.table;
  }
  return std::nullopt;
}

void DatasetStore::CacheTable(const v1::Dataset& dataset, const CsvTable& table) const {
  const int64_t bytes = dataset.size_bytes();
  if (bytes > kParsedTableCacheBytes) return;
  absl::MutexLock lock(&cache_mu_);
  int64_t total = bytes;
  for (const CachedTableEntry& entry : cache_) {
    if (entry.id == dataset.id()) return;  // another call cached it meanwhile
    total += entry.size_bytes;
  }
  // Least recently used first out, until the new table fits.
  while (total > kParsedTableCacheBytes) {
    auto oldest = std::min_element(cache_.begin(), cache_.end(),
                                   [](const CachedTableEntry& a, const CachedTableEntry& b) {
                                     return a.last_use < b.last_use;
                                   });
    total -= oldest->size_bytes;
    cache_.erase(oldest);
  }
  cache_.push_back(CachedTableEntry{dataset.id(), bytes, ++cache_uses_, table});
}

absl::StatusOr<LoadedDataset> DatasetStore::Load(absl::string_view id_or_name) const {
  LoadedDataset loaded;
  ASSIGN_OR_RETURN(loaded.dataset, backend_->Get(id_or_name));
  const std::string& id = loaded.dataset.id();
  if (backend_->shared()) {
    if (std::optional<CsvTable> table = CachedTable(id)) {
      loaded.table = *std::move(table);
      return loaded;
    }
  }
  absl::StatusOr<std::string> bytes = backend_->ReadBytes(id);
  // Deleted since Get: as if it had not been found.
  if (absl::IsNotFound(bytes.status())) return DatasetNotFound(id_or_name);
  RETURN_IF_ERROR(bytes.status());
  if (DatasetIdFor(*bytes) != id) {
    return absl::DataLossError(
        StrCat("the stored bytes of dataset ", id, " no longer hash to its id; upload it again"));
  }
  ASSIGN_OR_RETURN(loaded.table, ParseCsv(*bytes));
  if (backend_->shared()) CacheTable(loaded.dataset, loaded.table);
  return loaded;
}

}  // namespace descent::server
