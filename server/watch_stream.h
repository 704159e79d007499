// Serves one WatchJob stream from a job's history: the caller's thread reads with its own
// cursor and sends; the training thread never waits for it.
#ifndef DESCENT_SERVER_WATCH_STREAM_H_
#define DESCENT_SERVER_WATCH_STREAM_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "descent/v1/training.pb.h"
#include "server/job_events.h"
#include "server/job_record.h"

namespace descent::server {

struct WatchStreamOptions {
  absl::Duration heartbeat_interval = absl::Seconds(5);
  int max_points_per_message = 4096;
  // A watcher this many steps behind the history is reported once as fallen behind.
  int64_t fell_behind_steps = 100'000;
};

// Sends what follows `after_step` (>= 0) in order (first the job's resumption when the
// cursor would skip it, see JobRecord::ResumedBefore) — losses batched up to
// max_points_per_message, epoch summaries after their last step, state changes, heartbeats
// after heartbeat_interval without a message — and returns OK right after sending the
// terminal state event. CANCELLED as soon as `send` returns false. UNAVAILABLE once the job
// is suspended (the server is stopping) and every step recorded was sent. `listener` may
// be null.
absl::Status ServeWatch(const JobRecord& job, int64_t after_step, const WatchStreamOptions& options,
                        JobEventListener* listener,
                        const std::function<bool(const v1::WatchJobResponse&)>& send);

}  // namespace descent::server

#endif  // DESCENT_SERVER_WATCH_STREAM_H_
