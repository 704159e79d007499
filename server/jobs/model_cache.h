// The decoded models of finished jobs most recently exported or predicted with, so repeated
// Predict calls do not decode the stored model every time. Bounded by the models' parameter
// bytes; the least recently used model goes first, and a model larger than the whole
// capacity is never kept. Thread-safe.
#ifndef DESCENT_SERVER_JOBS_MODEL_CACHE_H_
#define DESCENT_SERVER_JOBS_MODEL_CACHE_H_

#include <cstdint>
#include <list>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "server/conversion/trained_model.h"

namespace descent::server {

// The bytes a model's parameters take in memory (float weights and biases).
int64_t ModelBytes(const TrainedModel& model);

class ModelCache {
 public:
  explicit ModelCache(int64_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

  // The model of job `sequence`, or null when it is not cached.
  std::shared_ptr<const TrainedModel> Find(int64_t sequence) ABSL_LOCKS_EXCLUDED(mu_);
  // Keeps `model` (evicting the least recently used ones to make room) unless it is larger
  // than the capacity.
  void Add(int64_t sequence, std::shared_ptr<const TrainedModel> model) ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets job `sequence`'s model (the job was deleted).
  void Erase(int64_t sequence) ABSL_LOCKS_EXCLUDED(mu_);
  int64_t bytes() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    int64_t sequence;
    std::shared_ptr<const TrainedModel> model;
    int64_t bytes;
  };
  void EraseLocked(std::list<Entry>::iterator entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t capacity_bytes_;
  mutable absl::Mutex mu_;
  std::list<Entry> entries_ ABSL_GUARDED_BY(mu_);  // most recently used first
  absl::flat_hash_map<int64_t, std::list<Entry>::iterator> by_sequence_ ABSL_GUARDED_BY(mu_);
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOBS_MODEL_CACHE_H_
