#include "server/jobs/model_cache.h"

#include <utility>

namespace descent::server {

int64_t ModelBytes(const TrainedModel& model) {
  int64_t floats = 0;
  for (const LayerParameters& layer : model.parameters) {
    floats += static_cast<int64_t>(layer.weight.values().size() + layer.bias.size());
  }
  return floats * static_cast<int64_t>(sizeof(float));
}

std::shared_ptr<const TrainedModel> ModelCache::Find(int64_t sequence) {
  absl::MutexLock lock(&mu_);
  auto it = by_sequence_.find(sequence);
  if (it == by_sequence_.end()) return nullptr;
  entries_.splice(entries_.begin(), entries_, it->second);
  return it->second->model;
}

void ModelCache::Add(int64_t sequence, std::shared_ptr<const TrainedModel> model) {
  const int64_t bytes = ModelBytes(*model);
  if (bytes > capacity_bytes_) return;
  absl::MutexLock lock(&mu_);
  if (auto it = by_sequence_.find(sequence); it != by_sequence_.end()) EraseLocked(it->second);
  while (bytes_ + bytes > capacity_bytes_) EraseLocked(std::prev(entries_.end()));
  entries_.push_front(Entry{sequence, std::move(model), bytes});
  by_sequence_[sequence] = entries_.begin();
  bytes_ += bytes;
}

void ModelCache::Erase(int64_t sequence) {
  absl::MutexLock lock(&mu_);
  if (auto it = by_sequence_.find(sequence); it != by_sequence_.end()) EraseLocked(it->second);
}

int64_t ModelCache::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

void ModelCache::EraseLocked(std::list<Entry>::iterator entry) {
  bytes_ -= entry->bytes;
  by_sequence_.erase(entry->sequence);
  entries_.erase(entry);
}

}  // namespace descent::server
