// Serves one WatchJob stream from a job's history: the caller's thread reads with its own
// cursor and sends; the training thread never waits for it. What the job's record no longer
// holds (stored steps, or a finished job's whole history) is read from the job store a page
// at a time.
#ifndef DESCENT_SERVER_JOBS_WATCH_STREAM_H_
#define DESCENT_SERVER_JOBS_WATCH_STREAM_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "descent/v1/training.pb.h"
#include "server/jobs/job_events.h"
#include "server/jobs/job_record.h"
#include "server/store/job_store.h"

namespace descent::server {

struct WatchStreamOptions {
  absl::Duration heartbeat_interval = absl::Seconds(5);
  int max_points_per_message = 4096;
  // A watcher of a running job this many steps behind its history is reported once as fallen
  // behind. A replay of a job that had ended when the watch began is not falling behind.
  int64_t fell_behind_steps = 100'000;
  // Steps read from the store per page (whole stored chunks may add some).
  int64_t page_steps = 16384;
};

// The job a stream follows: its record while the server holds one (unfinished jobs, and
// finished ones a stream still follows), else a finished job in the store alone, or (with
// `follow`) an unfinished one another replica sharing the store trains.
struct WatchedJob {
  const JobRecord* record = nullptr;  // may be null: then `ended_at` or `follow` says what
  const JobStore* store = nullptr;    // may be null only with a record (memory-only server)
  std::string id;
  int64_t sequence = 0;
  const v1::JobSpec* spec = nullptr;  // put into state events read from the store
  std::optional<int64_t> ended_at;    // without a record: the finished job's step count
  // Without a record: the step this process resumed the job at, if it did (what
  // JobRecord::ResumedBefore tells while there is a record).
  std::optional<int64_t> resumed_at;
  // Without a record: a job another replica trains, read from the store as that replica
  // writes it (JobStore::AwaitChange wakes the stream), to its end.
  bool follow = false;
};

// Sends what follows `after_step` (>= 0) in order (the job's resumption in this process
// at an earlier step, which the cursor would skip, before the first message read after it:
// see JobRecord::ResumedBefore) — losses batched up to
// max_points_per_message, epoch summaries after their last step, state changes, heartbeats
// after heartbeat_interval without a message — and returns OK right after sending the
// terminal state event. CANCELLED as soon as `send` returns false. UNAVAILABLE once the job
// is suspended (the server is stopping) and every step recorded was sent. NOT_FOUND when the
// job's history leaves the store while it is read (retention deleted the job); store read
// errors as JobStore::ReadHistory. `listener` may be null.
// A followed job's steps come as its replica writes them (JobStore's notifications, else a
// read every kFollowPollInterval). When that replica fails and another resumes the job from
// its checkpoint, the stream pauses while the steps it has sent are trained again, and goes
// on with the next one: no step twice. The resumption is sent where it sits in the history,
// so a stream past the checkpoint's step does not get it. A job this replica held and
// another took over (JobRecord::handed_over: claimed elsewhere while queued here, or its
// lease lost) is followed in the store from there on, the same way.
// How often a stream following a job another replica trains reads the store when no
// notification woke it (notifications may be lost with a dropped connection).
inline constexpr absl::Duration kFollowPollInterval = absl::Seconds(1);

absl::Status ServeWatch(const WatchedJob& job, int64_t after_step,
                        const WatchStreamOptions& options, JobEventListener* listener,
                        const std::function<bool(const v1::WatchJobResponse&)>& send);

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOBS_WATCH_STREAM_H_
