#include "server/watch_stream.h"

#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"
#include "server/engine_to_proto.h"

namespace descent::server {
namespace {

// Messages taken from the history per lock hold: enough to amortise the lock when epochs are
// a few steps long, few enough to keep the hold (and the trainer's wait) short.
constexpr int kMaxMessagesPerRead = 64;

}  // namespace

absl::Status ServeWatch(const JobRecord& job, int64_t after_step, const WatchStreamOptions& options,
                        JobEventListener* listener,
                        const std::function<bool(const v1::WatchJobResponse&)>& send) {
  DESCENT_CHECK(after_step >= 0);
  DESCENT_CHECK(options.max_points_per_message >= 1);
  LossHistory::Cursor cursor = job.WatchCursor(after_step);
  if (std::optional<v1::WatchJobResponse> resumed = job.ResumedBefore(after_step)) {
    if (!send(*resumed)) {
      return absl::CancelledError(
          absl::StrCat("the watcher of job ", job.id(), " stopped reading the stream"));
    }
  }
  bool reported_behind = false;
  absl::Time last_sent = absl::Now();
  std::vector<v1::WatchJobResponse> messages;
  while (true) {
    messages.clear();
    int64_t steps_recorded = 0;
    const ReadResult read =
        job.ReadOrWait(&cursor, options.max_points_per_message, kMaxMessagesPerRead,
                       last_sent + options.heartbeat_interval, &messages, &steps_recorded);
    if (read == ReadResult::kSuspended) {
      return absl::UnavailableError(absl::StrCat(
          "the server is stopping; job ", job.id(), " continues when it is back: watch again "
          "with after_step = ", cursor.next_step - 1));
    }
    if (read == ReadResult::kTimedOut) {
      v1::Heartbeat& heartbeat = *messages.emplace_back().mutable_heartbeat();
      heartbeat.set_latest_step(steps_recorded);
      *heartbeat.mutable_time() = ToTimestamp(absl::Now());
    }
    if (!reported_behind && steps_recorded - (cursor.next_step - 1) > options.fell_behind_steps) {
      reported_behind = true;
      if (listener != nullptr) listener->OnWatcherFellBehind();
    }
    for (const v1::WatchJobResponse& message : messages) {
      if (!send(message)) {
        return absl::CancelledError(
            absl::StrCat("the watcher of job ", job.id(), " stopped reading the stream"));
      }
      if (message.has_losses() && listener != nullptr) {
        listener->OnLossPointsSent(message.losses().losses_size());
      }
      if (message.has_state() && IsTerminal(message.state().state())) return absl::OkStatus();
    }
    last_sent = absl::Now();
  }
}

}  // namespace descent::server
