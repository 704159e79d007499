#include "server/datasets/dataset_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <set>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/files.h"
#include "base/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace descent::server {
namespace {

namespace fs = std::filesystem;
using ::absl::StrCat;

constexpr absl::string_view kIdPrefix = "ds-";
constexpr char kTempMarker[] = ".tmp-";
// More distinct values than this in a numeric column are reported as this number.
constexpr int kDistinctValuesCap = 1001;

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(StrCat("cannot ", what, " ", path, ": ", std::strerror(errno)));
}

// Writes `contents` to `path` so that readers see the old file or the whole new one: a
// temporary file in the same directory, fsync'd, then renamed over `path`.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  const std::string temp = StrCat(path, kTempMarker, ::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("create", temp);
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status status = ErrnoError("write", temp);
      ::close(fd);
      ::unlink(temp.c_str());
      return status;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    absl::Status status = ErrnoError("flush", temp);
    ::unlink(temp.c_str());
    return status;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    absl::Status status = ErrnoError("rename into place", path);
    ::unlink(temp.c_str());
    return status;
  }
  return absl::OkStatus();
}

bool NewerFirst(const v1::Dataset& a, const v1::Dataset& b) {
  if (a.create_time().seconds() != b.create_time().seconds()) {
    return a.create_time().seconds() > b.create_time().seconds();
  }
  if (a.create_time().nanos() != b.create_time().nanos()) {
    return a.create_time().nanos() > b.create_time().nanos();
  }
  return a.id() < b.id();
}

// Dataset.name follows the names: the first one, or the id when there is none.
void RefreshName(v1::Dataset& dataset) {
  dataset.set_name(dataset.names().empty() ? dataset.id() : dataset.names(0));
}

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

absl::StatusOr<std::unique_ptr<DatasetStore>> DatasetStore::Open(const std::string& directory) {
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec || !fs::is_directory(directory)) {
    return absl::InternalError(StrCat("cannot create the dataset directory ", directory, ": ",
                                      ec ? ec.message() : "not a directory"));
  }
  std::unique_ptr<DatasetStore> store(new DatasetStore(directory));
  std::vector<fs::path> data_files;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, ec)) {
    const fs::path& path = entry.path();
    const std::string file = path.filename().string();
    if (absl::StrContains(file, kTempMarker)) {
      fs::remove(path, ec);  // an interrupted write
      continue;
    }
    if (path.extension() == ".csv") data_files.push_back(path);
    if (path.extension() != ".json") continue;
    absl::StatusOr<std::string> json = base::ReadFile(path.string());
    v1::Dataset dataset;
    if (!json.ok() ||
        !google::protobuf::util::JsonStringToMessage(*json, &dataset).ok() ||
        StrCat(dataset.id(), ".json") != file || !fs::exists(store->DataPath(dataset.id()))) {
      fs::remove(path, ec);  // metadata without its data is no dataset
      continue;
    }
    // Metadata written before datasets had several names holds only `name`.
    if (dataset.names().empty() && dataset.name() != dataset.id()) {
      dataset.add_names(dataset.name());
    }
    RefreshName(dataset);
    absl::MutexLock lock(&store->mu_);
    for (const std::string& name : dataset.names()) store->id_by_name_[name] = dataset.id();
    store->by_id_[dataset.id()] = std::move(dataset);
  }
  if (ec) {
    return absl::InternalError(
        StrCat("cannot read the dataset directory ", directory, ": ", ec.message()));
  }
  absl::MutexLock lock(&store->mu_);
  for (const fs::path& path : data_files) {
    if (!store->by_id_.contains(path.stem().string())) fs::remove(path, ec);  // no metadata
  }
  return store;
}

std::string DatasetStore::DataPath(absl::string_view id) const {
  return (fs::path(directory_) / StrCat(id, ".csv")).string();
}

std::string DatasetStore::MetadataPath(absl::string_view id) const {
  return (fs::path(directory_) / StrCat(id, ".json")).string();
}

absl::Status DatasetStore::WriteMetadata(const v1::Dataset& dataset) const {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  DESCENT_CHECK(google::protobuf::util::MessageToJsonString(dataset, &json, options).ok());
  return WriteFileAtomically(MetadataPath(dataset.id()), json);
}

const v1::Dataset* DatasetStore::FindLocked(absl::string_view id_or_name) const {
  auto by_id = by_id_.find(id_or_name);
  if (by_id != by_id_.end()) return &by_id->second;
  auto by_name = id_by_name_.find(id_or_name);
  if (by_name == id_by_name_.end()) return nullptr;
  return &by_id_.at(by_name->second);
}

absl::StatusOr<PutResult> DatasetStore::Put(absl::string_view name, absl::string_view bytes,
                                            absl::Time now) {
  if (!name.empty()) RETURN_IF_ERROR(ValidateDatasetName(name, "header.name"));
  // Parsed before the lock: a large file does not hold up other calls.
  ASSIGN_OR_RETURN(const CsvTable table, ParseCsv(bytes));
  v1::Dataset dataset = DescribeTable(table);
  dataset.set_id(DatasetIdFor(bytes));
  if (!name.empty()) dataset.add_names(std::string(name));
  RefreshName(dataset);
  dataset.set_size_bytes(static_cast<int64_t>(bytes.size()));
  *dataset.mutable_create_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));

  absl::MutexLock lock(&mu_);
  if (!name.empty()) {
    auto taken = id_by_name_.find(name);
    if (taken != id_by_name_.end() && taken->second != dataset.id()) {
      return absl::AlreadyExistsError(
          StrCat("header.name \"", name, "\" is taken by dataset ", taken->second,
                 " with other content; choose another name, or remove that name first "
                 "(`descent dataset rm ", name, "`)"));
    }
  }
  if (auto existing = by_id_.find(dataset.id()); existing != by_id_.end()) {
    const bool named = name.empty() || id_by_name_.contains(name);
    if (named) return PutResult{existing->second, /*already_stored=*/true};
    v1::Dataset renamed = existing->second;
    renamed.add_names(std::string(name));
    RefreshName(renamed);
    RETURN_IF_ERROR(WriteMetadata(renamed));
    id_by_name_[std::string(name)] = renamed.id();
    existing->second = renamed;
    return PutResult{std::move(renamed), /*already_stored=*/true};
  }
  RETURN_IF_ERROR(WriteFileAtomically(DataPath(dataset.id()), bytes));
  if (absl::Status status = WriteMetadata(dataset); !status.ok()) {
    std::error_code ec;
    fs::remove(DataPath(dataset.id()), ec);
    return status;
  }
  for (const std::string& alias : dataset.names()) id_by_name_[alias] = dataset.id();
  by_id_[dataset.id()] = dataset;
  return PutResult{std::move(dataset), /*already_stored=*/false};
}

absl::StatusOr<v1::Dataset> DatasetStore::Get(absl::string_view id_or_name) const {
  absl::ReaderMutexLock lock(&mu_);
  const v1::Dataset* dataset = FindLocked(id_or_name);
  if (dataset == nullptr) {
    return absl::NotFoundError(StrCat("no dataset has id or name \"", id_or_name,
                                      "\"; `descent datasets` lists them"));
  }
  return *dataset;
}

std::vector<v1::Dataset> DatasetStore::List() const {
  std::vector<v1::Dataset> result;
  {
    absl::ReaderMutexLock lock(&mu_);
    result.reserve(by_id_.size());
    for (const auto& [id, dataset] : by_id_) result.push_back(dataset);
  }
  std::sort(result.begin(), result.end(), NewerFirst);
  return result;
}

absl::StatusOr<DeleteResult> DatasetStore::Delete(
    absl::string_view id_or_name,
    const std::function<absl::Status(const v1::Dataset&)>& may_delete) {
  absl::MutexLock lock(&mu_);
  const v1::Dataset* found = FindLocked(id_or_name);
  if (found == nullptr) {
    return absl::NotFoundError(StrCat("no dataset has id or name \"", id_or_name,
                                      "\"; `descent datasets` lists them"));
  }
  DeleteResult result{*found, {}};
  const v1::Dataset& dataset = result.dataset;
  const bool by_name = id_or_name != dataset.id();
  if (by_name && dataset.names_size() > 1) {
    // One alias of several: the content stays under the others.
    v1::Dataset renamed = dataset;
    renamed.clear_names();
    for (const std::string& name : dataset.names()) {
      if (name != id_or_name) renamed.add_names(name);
    }
    RefreshName(renamed);
    RETURN_IF_ERROR(WriteMetadata(renamed));
    id_by_name_.erase(std::string(id_or_name));
    result.remaining_names.assign(renamed.names().begin(), renamed.names().end());
    by_id_[dataset.id()] = std::move(renamed);
    return result;
  }
  RETURN_IF_ERROR(may_delete(dataset));
  // Metadata first: without it the data file is a leftover that Open removes.
  if (::unlink(MetadataPath(dataset.id()).c_str()) != 0 && errno != ENOENT) {
    return ErrnoError("remove", MetadataPath(dataset.id()));
  }
  for (const std::string& name : dataset.names()) id_by_name_.erase(name);
  std::error_code ec;
  fs::remove(DataPath(dataset.id()), ec);
  by_id_.erase(dataset.id());
  return result;
}

absl::StatusOr<LoadedDataset> DatasetStore::Load(absl::string_view id_or_name) const {
  // A reader lock: Delete waits until the file has been read.
  absl::ReaderMutexLock lock(&mu_);
  const v1::Dataset* found = FindLocked(id_or_name);
  if (found == nullptr) {
    return absl::NotFoundError(StrCat("no dataset has id or name \"", id_or_name,
                                      "\"; `descent datasets` lists them"));
  }
  LoadedDataset loaded;
  loaded.dataset = *found;
  absl::StatusOr<std::string> bytes = base::ReadFile(DataPath(found->id()));
  if (!bytes.ok() || DatasetIdFor(*bytes) != found->id()) {
    return absl::DataLossError(StrCat("the file of dataset ", found->id(),
                                      " is missing or changed on disk; upload it again"));
  }
  ASSIGN_OR_RETURN(loaded.table, ParseCsv(*bytes));
  return loaded;
}

}  // namespace descent::server
