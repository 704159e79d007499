#include "server/jobs/finished_jobs.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "server/store/job_store.h"

namespace descent::server {
namespace {

// Jobs deleted per store transaction.
constexpr size_t kDeletesPerTransaction = 256;

}  // namespace

std::vector<int64_t> FinishedJobs::TakeExpired(absl::Time now) {
  std::vector<int64_t> expired;
  while (!by_end_time_.empty()) {
    const auto& [end_time, sequence] = *by_end_time_.begin();
    const bool too_many =
        keep_newest_ > 0 && by_end_time_.size() > static_cast<size_t>(keep_newest_);
    const bool too_old = HasAgeLimit() && end_time < now - keep_for_;
    if (!too_many && !too_old) break;
    expired.push_back(sequence);
    by_end_time_.erase(by_end_time_.begin());
  }
  return expired;
}

absl::Duration FinishedJobs::CheckInterval() const {
  return std::clamp(keep_for_ / 10, absl::Milliseconds(100), absl::Minutes(1));
}

void DeleteFromStore(JobStore& store, const std::vector<int64_t>& sequences) {
  for (size_t first = 0; first < sequences.size(); first += kDeletesPerTransaction) {
    const size_t last = std::min(sequences.size(), first + kDeletesPerTransaction);
    const std::vector<int64_t> batch(sequences.begin() + first, sequences.begin() + last);
    if (absl::Status deleted = store.Delete(batch); !deleted.ok()) {
      std::fprintf(stderr, "descentd: could not delete %zu finished jobs from the store: %s\n",
                   batch.size(), std::string(deleted.message()).c_str());
    }
  }
}

}  // namespace descent::server
