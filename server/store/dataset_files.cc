#include "server/store/dataset_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/status_macros.h"
#include "google/protobuf/util/json_util.h"

namespace descent::server {
namespace {

namespace fs = std::filesystem;
using ::absl::StrCat;

constexpr char kTempMarker[] = ".tmp-";

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

}  // namespace

absl::StatusOr<std::unique_ptr<DatasetFiles>> DatasetFiles::Open(const std::string& directory) {
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec || !fs::is_directory(directory)) {
    return absl::InternalError(StrCat("cannot create the dataset directory ", directory, ": ",
                                      ec ? ec.message() : "not a directory"));
  }
  std::unique_ptr<DatasetFiles> store(new DatasetFiles(directory));
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
    RefreshDatasetName(dataset);
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

std::string DatasetFiles::DataPath(absl::string_view id) const {
  return (fs::path(directory_) / StrCat(id, ".csv")).string();
}

std::string DatasetFiles::MetadataPath(absl::string_view id) const {
  return (fs::path(directory_) / StrCat(id, ".json")).string();
}

absl::Status DatasetFiles::WriteMetadata(const v1::Dataset& dataset) const {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  DESCENT_CHECK(google::protobuf::util::MessageToJsonString(dataset, &json, options).ok());
  return WriteFileAtomically(MetadataPath(dataset.id()), json);
}

const v1::Dataset* DatasetFiles::FindLocked(absl::string_view id_or_name) const {
  auto by_id = by_id_.find(id_or_name);
  if (by_id != by_id_.end()) return &by_id->second;
  auto by_name = id_by_name_.find(id_or_name);
  if (by_name == id_by_name_.end()) return nullptr;
  return &by_id_.at(by_name->second);
}

absl::StatusOr<PutResult> DatasetFiles::Put(const v1::Dataset& described,
                                            absl::string_view name, absl::string_view bytes) {
  absl::MutexLock lock(&mu_);
  if (!name.empty()) {
    auto taken = id_by_name_.find(name);
    if (taken != id_by_name_.end() && taken->second != described.id()) {
      return DatasetNameTaken(name, taken->second);
    }
  }
  if (auto existing = by_id_.find(described.id()); existing != by_id_.end()) {
    const bool named = name.empty() || id_by_name_.contains(name);
    if (named) return PutResult{existing->second, /*already_stored=*/true};
    v1::Dataset renamed = existing->second;
    renamed.add_names(std::string(name));
    RefreshDatasetName(renamed);
    RETURN_IF_ERROR(WriteMetadata(renamed));
    id_by_name_[std::string(name)] = renamed.id();
    existing->second = renamed;
    return PutResult{std::move(renamed), /*already_stored=*/true};
  }
  v1::Dataset dataset = described;
  if (!name.empty()) dataset.add_names(std::string(name));
  RefreshDatasetName(dataset);
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

absl::StatusOr<v1::Dataset> DatasetFiles::Get(absl::string_view id_or_name) const {
  absl::ReaderMutexLock lock(&mu_);
  const v1::Dataset* dataset = FindLocked(id_or_name);
  if (dataset == nullptr) return DatasetNotFound(id_or_name);
  return *dataset;
}

absl::StatusOr<std::vector<v1::Dataset>> DatasetFiles::List() const {
  std::vector<v1::Dataset> result;
  {
    absl::ReaderMutexLock lock(&mu_);
    result.reserve(by_id_.size());
    for (const auto& [id, dataset] : by_id_) result.push_back(dataset);
  }
  std::sort(result.begin(), result.end(), NewerDatasetFirst);
  return result;
}

absl::StatusOr<DeleteResult> DatasetFiles::Delete(
    absl::string_view id_or_name,
    const std::function<absl::Status(const v1::Dataset&)>& may_delete) {
  absl::MutexLock lock(&mu_);
  const v1::Dataset* found = FindLocked(id_or_name);
  if (found == nullptr) return DatasetNotFound(id_or_name);
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
    RefreshDatasetName(renamed);
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

absl::StatusOr<std::string> DatasetFiles::ReadBytes(absl::string_view id) const {
  // A reader lock: Delete waits until the file has been read.
  absl::ReaderMutexLock lock(&mu_);
  if (!by_id_.contains(id)) return DatasetNotFound(id);
  absl::StatusOr<std::string> bytes = base::ReadFile(DataPath(id));
  if (!bytes.ok()) {
    return absl::DataLossError(
        StrCat("the file of dataset ", id, " is missing from ", directory_, "; upload it again"));
  }
  return bytes;
}

}  // namespace descent::server
