// The builtin datasets generated last, kept so that jobs on the same generated data (a
// sweep's trials, a spec submitted again, a job another replica accepted and this one
// claims, which prepares it again) copy it instead of generating it again. Every generator
// is deterministic in its options (engine/dataset.h), so a copy holds the same bytes as a new
// run. Generating the service benchmarks' small dataset (blobs, 32,000 x 64 Gaussian
// samples) took ~8% of the CPU of the job that trained on it; a copy is a memcpy.
//
// Bounded: at most max_bytes of features and targets, least recently used first out; a
// dataset larger than that is generated every time and never kept. Thread-safe.
#ifndef DESCENT_SERVER_CONVERSION_BUILTIN_DATASET_CACHE_H_
#define DESCENT_SERVER_CONVERSION_BUILTIN_DATASET_CACHE_H_

#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/dataset.h"

namespace descent::server {

class BuiltinDatasetCache {
 public:
  // What the process's cache keeps: the benchmarks' and examples' datasets several times
  // over, and little next to a running job's memory.
  static constexpr size_t kDefaultMaxBytes = size_t{32} << 20;

  explicit BuiltinDatasetCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  BuiltinDatasetCache(const BuiltinDatasetCache&) = delete;
  BuiltinDatasetCache& operator=(const BuiltinDatasetCache&) = delete;

  // The process's cache (kDefaultMaxBytes), used by job preparation.
  static BuiltinDatasetCache& Shared();

  // What MakeBuiltinDataset(name, options) returns, as a copy the caller owns: generated on
  // a miss (outside the lock: two misses at once both generate, and the second keeps its
  // own), copied on a hit. Errors are MakeBuiltinDataset's, and are never kept.
  absl::StatusOr<Dataset> Get(std::string_view name, const BuiltinOptions& options)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Bytes of features and targets kept, and how many datasets.
  size_t bytes() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const Dataset> dataset;
    size_t bytes = 0;
  };

  const size_t max_bytes_;
  mutable absl::Mutex mu_;
  std::list<Entry> entries_ ABSL_GUARDED_BY(mu_);  // most recently used first
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_CONVERSION_BUILTIN_DATASET_CACHE_H_
