// Follows one job to its end across dropped streams. The server ends a finished job's
// stream with a terminal `state` event after every loss point; any other end (transport
// error, a server restart, OK without that event, silence past the idle timeout) is a drop.
// On a drop the watcher asks GetJob for the job's state, then reopens the stream with
// after_step = the last step it delivered, backing off exponentially while the server is
// unreachable (a restarting descentd: its jobs continue where they were checkpointed). The sink therefore sees every step exactly once, in order, from
// options.after_step + 1 on.
#ifndef DESCENT_CLIENT_JOB_WATCHER_H_
#define DESCENT_CLIENT_JOB_WATCHER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/descent_client.h"
#include "descent/v1/training.pb.h"
#include "proto/job_state.h"

namespace descent::client {

// Receives the job's events on the watching thread.
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  // Consecutive steps' losses: step first_step + i has losses[i]. Never repeats a step.
  virtual void OnLosses(int64_t first_step, const double* losses, int count) = 0;
  virtual void OnEpoch(const v1::EpochSummary& /*summary*/) {}
  // Non-terminal state changes (QUEUED -> RUNNING); the terminal one is the return value.
  virtual void OnStateChange(const v1::Job& /*job*/) {}
  virtual void OnHeartbeat(const v1::Heartbeat& /*heartbeat*/) {}
  // The server restarted and the job continues from its checkpoint at resumed.step(); the
  // steps after it are trained again, and the watcher still delivers each step once.
  virtual void OnResumed(const v1::Resumed& /*resumed*/) {}
  // Every raw message, before the typed callbacks (for `-o json`). Replayed steps a resumed
  // stream repeats are already trimmed from it.
  virtual void OnRawEvent(const v1::WatchJobResponse& /*event*/) {}
  // The stream dropped (`why`); the next attempt starts after `delay`.
  virtual void OnReconnecting(const absl::Status& /*why*/, absl::Duration /*delay*/) {}
  // The job as GetJob reported it after a drop, before the stream is reopened: the steps up
  // to its progress().step() that arrive next are history caught up on, not live progress.
  virtual void OnPolled(const v1::Job& /*job*/) {}
};

struct JobWatcherOptions {
  int64_t after_step = 0;  // deliver steps > after_step
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(5);
  // Give up (UNAVAILABLE) when no stream could be opened and no message arrived for this
  // long. Any message received resets the clock and the backoff.
  absl::Duration give_up_after = absl::Seconds(60);
  // A stream silent for this long (the server heartbeats every few seconds) is a drop.
  absl::Duration idle_timeout = absl::Seconds(30);
  // > 0: stop once this step was delivered and return the job as GetJob reports it then
  // (possibly still running). For snapshots of a running job's history.
  int64_t stop_after_step = 0;
  // The caller has reached the server already (it submitted, got or listed the job): a first
  // stream that fails is a drop to retry, as later ones are. Otherwise a first stream and
  // GetJob that both fail report the server unreachable at once (a wrong address).
  bool server_reached = false;
};

// Watches `job_id` until it reaches a terminal state and returns that final Job
// (SUCCEEDED, FAILED or CANCELLED), or until options.stop_after_step. Errors: NOT_FOUND for an
// unknown job; INVALID_ARGUMENT from the server; UNAVAILABLE when the server stayed unreachable for
// give_up_after; DATA_LOSS when the server skipped steps (a broken contract, never retried).
absl::StatusOr<v1::Job> WatchUntilDone(DescentClient& client, const std::string& job_id,
                                       const JobWatcherOptions& options, WatchSink& sink);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_JOB_WATCHER_H_
