#include "server/store/stored_rows.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "server/store/job_store.h"
#include "server/store/sweep_store.h"

namespace descent::server {

std::string_view LossChunkBytes(const double* losses, size_t count) {
  return std::string_view(reinterpret_cast<const char*>(losses), count * sizeof(double));
}

bool AppendLossChunk(int64_t first_step, std::string_view bytes, int64_t* next_step,
                     std::vector<double>* losses) {
  const int64_t count = static_cast<int64_t>(bytes.size() / sizeof(double));
  if (bytes.size() % sizeof(double) != 0 || first_step > *next_step) return false;
  if (first_step + count <= *next_step) return true;  // a chunk that ends before the page
  const size_t skip = static_cast<size_t>(*next_step - first_step);
  const size_t old = losses->size();
  losses->resize(old + static_cast<size_t>(count) - skip);
  std::memcpy(losses->data() + old, bytes.data() + skip * sizeof(double),
              (static_cast<size_t>(count) - skip) * sizeof(double));
  *next_step = first_step + count;
  return true;
}

bool ParseStoredEvent(std::string_view bytes, v1::WatchJobResponse* message) {
  return message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) &&
         (message->has_state() || message->has_epoch() || message->has_resumed());
}

std::optional<int64_t> EndTimeColumn(const v1::Job& job) {
  if (!job.has_end_time()) return std::nullopt;
  return job.end_time().seconds() * 1'000'000'000 + job.end_time().nanos();
}

absl::Status LeaseLostError(int64_t sequence) {
  return absl::AbortedError(absl::StrCat(
      "job sequence ", sequence,
      ": this replica's lease on the job was lost (another replica claimed it after the lease "
      "expired); it writes nothing more for the job"));
}

absl::Status SweepLeaseLostError(const std::string& id) {
  return absl::AbortedError(absl::StrCat(
      "sweep ", id,
      ": this replica's lease on the sweep was lost (another replica claimed it after the "
      "lease expired); it writes nothing more for the sweep"));
}

bool IsLeaseLost(const absl::Status& status) { return absl::IsAborted(status); }

}  // namespace descent::server
