#include "server/watch_stream.h"

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"
#include "server/engine_to_proto.h"

namespace descent::server {

absl::Status ServeWatch(const JobRecord& job, int64_t after_step, const WatchStreamOptions& options,
                        JobEventListener* listener,
                        const std::function<bool(const v1::WatchJobResponse&)>& send) {
  DESCENT_CHECK(after_step >= 0);
  DESCENT_CHECK(options.max_points_per_message >= 1);
  LossHistory::Cursor cursor = job.WatchCursor(after_step);
  bool reported_behind = false;
  absl::Time last_sent = absl::Now();
  while (true) {
    v1::WatchJobResponse message;
    int64_t steps_recorded = 0;
    const JobRecord::ReadStatus status =
        job.ReadOrWait(&cursor, options.max_points_per_message,
                       last_sent + options.heartbeat_interval, &message, &steps_recorded);
    if (status == JobRecord::ReadStatus::kTimedOut) {
      v1::Heartbeat& heartbeat = *message.mutable_heartbeat();
      heartbeat.set_latest_step(steps_recorded);
      *heartbeat.mutable_time() = ToTimestamp(absl::Now());
    }
    if (!reported_behind && steps_recorded - (cursor.next_step - 1) > options.fell_behind_steps) {
      reported_behind = true;
      if (listener != nullptr) listener->OnWatcherFellBehind();
    }
    if (!send(message)) {
      return absl::CancelledError(
          absl::StrCat("the watcher of job ", job.id(), " stopped reading the stream"));
    }
    last_sent = absl::Now();
    if (message.has_losses() && listener != nullptr) {
      listener->OnLossPointsSent(message.losses().losses_size());
    }
    if (message.has_state() && IsTerminal(message.state().state())) return absl::OkStatus();
  }
}

}  // namespace descent::server
