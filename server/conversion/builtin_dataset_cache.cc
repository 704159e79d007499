#include "server/conversion/builtin_dataset_cache.h"

#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace descent::server {
namespace {

// Everything the generator reads; noise by its bits, so no two values share a key.
std::string Key(std::string_view name, const BuiltinOptions& options) {
  uint64_t noise_bits = 0;
  static_assert(sizeof(noise_bits) == sizeof(options.noise));
  std::memcpy(&noise_bits, &options.noise, sizeof(noise_bits));
  return absl::StrCat(std::string(name), "|", options.samples, "|", options.seed, "|",
                      options.classes, "|", options.features, "|", noise_bits);
}

size_t BytesOf(const Dataset& dataset) {
  return (dataset.features.size() + dataset.targets.size()) * sizeof(float);
}

}  // namespace

BuiltinDatasetCache& BuiltinDatasetCache::Shared() {
  static BuiltinDatasetCache* const cache = new BuiltinDatasetCache(kDefaultMaxBytes);
  return *cache;
}

absl::StatusOr<Dataset> BuiltinDatasetCache::Get(std::string_view name,
                                                 const BuiltinOptions& options) {
  const std::string key = Key(name, options);
  std::shared_ptr<const Dataset> kept;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->key != key) continue;
      entries_.splice(entries_.begin(), entries_, it);
      kept = it->dataset;
      break;
    }
  }
  // Copied outside the lock; the shared_ptr keeps it alive if it is evicted meanwhile.
  if (kept != nullptr) return Dataset(*kept);

  absl::StatusOr<Dataset> made = MakeBuiltinDataset(name, options);
  if (!made.ok()) return made;
  const size_t bytes = BytesOf(*made);
  if (bytes > max_bytes_) return made;
  auto entry = std::make_shared<const Dataset>(*made);
  absl::MutexLock lock(&mu_);
  for (const Entry& existing : entries_) {
    if (existing.key == key) return made;  // another miss kept it first
  }
  entries_.push_front(Entry{key, std::move(entry), bytes});
  bytes_ += bytes;
  while (bytes_ > max_bytes_) {
    bytes_ -= entries_.back().bytes;
    entries_.pop_back();
  }
  return made;
}

size_t BuiltinDatasetCache::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

size_t BuiltinDatasetCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace descent::server
