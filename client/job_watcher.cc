#include "client/job_watcher.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace descent::client {
namespace {

// Errors a retry cannot fix: the request or the job itself is wrong.
bool IsPermanent(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

// One WatchJob stream's worth of state: trims replayed steps, rejects gaps, remembers the
// terminal event.
class StreamReader {
 public:
  StreamReader(WatchSink& sink, int64_t& last_step, int64_t stop_after_step)
      : sink_(sink), last_step_(last_step), stop_after_step_(stop_after_step) {}

  bool OnEvent(const v1::WatchJobResponse& event) {
    received_any_ = true;
    switch (event.event_case()) {
      case v1::WatchJobResponse::kLosses:
        return OnLosses(event);
      case v1::WatchJobResponse::kEpoch:
        sink_.OnRawEvent(event);
        sink_.OnEpoch(event.epoch());
        return true;
      case v1::WatchJobResponse::kState:
        sink_.OnRawEvent(event);
        if (IsTerminal(event.state().state())) {
          terminal_ = event.state().job();
          terminal_->set_state(event.state().state());
        } else {
          v1::Job job = event.state().job();
          job.set_state(event.state().state());
          sink_.OnStateChange(job);
        }
        return true;
      case v1::WatchJobResponse::kHeartbeat:
        sink_.OnRawEvent(event);
        sink_.OnHeartbeat(event.heartbeat());
        return true;
      case v1::WatchJobResponse::kResumed:
        sink_.OnRawEvent(event);
        sink_.OnResumed(event.resumed());
        return true;
      case v1::WatchJobResponse::EVENT_NOT_SET:
        return true;  // a newer server's event this client does not know: skip it
    }
    return true;
  }

  bool received_any() const { return received_any_; }
  bool reached_stop() const { return reached_stop_; }
  const std::optional<v1::Job>& terminal() const { return terminal_; }
  const absl::Status& contract_error() const { return contract_error_; }

 private:
  bool OnLosses(const v1::WatchJobResponse& event) {
    const v1::LossPoints& points = event.losses();
    const int64_t first = points.first_step();
    const int count = points.losses_size();
    if (count == 0 || first + count - 1 <= last_step_) return true;  // replayed history
    if (first > last_step_ + 1) {
      contract_error_ = absl::DataLossError(absl::StrCat(
          "the server skipped steps ", last_step_ + 1, "..", first - 1, " of the watch stream"));
      return false;
    }
    const int skip = static_cast<int>(last_step_ + 1 - first);
    if (skip == 0) {
      sink_.OnRawEvent(event);
    } else {
      v1::WatchJobResponse trimmed;
      trimmed.mutable_losses()->set_first_step(last_step_ + 1);
      trimmed.mutable_losses()->mutable_losses()->Add(points.losses().begin() + skip,
                                                      points.losses().end());
      sink_.OnRawEvent(trimmed);
    }
    sink_.OnLosses(last_step_ + 1, points.losses().data() + skip, count - skip);
    last_step_ = first + count - 1;
    if (stop_after_step_ > 0 && last_step_ >= stop_after_step_) {
      reached_stop_ = true;
      return false;
    }
    return true;
  }

  WatchSink& sink_;
  int64_t& last_step_;
  const int64_t stop_after_step_;
  bool received_any_ = false;
  bool reached_stop_ = false;
  std::optional<v1::Job> terminal_;
  absl::Status contract_error_;
};

}  // namespace

absl::StatusOr<v1::Job> WatchUntilDone(DescentClient& client, const std::string& job_id,
                                       const JobWatcherOptions& options, WatchSink& sink) {
  int64_t last_step = options.after_step;
  absl::Duration backoff = options.initial_backoff;
  absl::Time last_contact = absl::Now();
  bool ever_connected = options.server_reached;
  while (true) {
    StreamReader reader(sink, last_step, options.stop_after_step);
    absl::Status status = client.WatchJob(
        job_id, last_step, options.idle_timeout,
        [&reader](const v1::WatchJobResponse& event) { return reader.OnEvent(event); });
    if (!reader.contract_error().ok()) return reader.contract_error();
    if (reader.reached_stop()) return client.GetJob(job_id);
    if (reader.received_any()) {
      ever_connected = true;
      last_contact = absl::Now();
      backoff = options.initial_backoff;
    }
    if (reader.terminal().has_value()) {
      const v1::Job& job = *reader.terminal();
      if (job.progress().step() > last_step) {
        return absl::DataLossError(absl::StrCat("job ", job_id, " ended at step ",
                                                job.progress().step(),
                                                " but its stream stopped at step ", last_step));
      }
      return job;
    }
    if (!status.ok() && IsPermanent(status.code())) return status;
    if (status.ok()) {
      status = absl::UnavailableError("the stream ended before the job's final state");
    }

    // A drop. The job's own state decides whether anything is left to fetch.
    absl::StatusOr<v1::Job> job = client.GetJob(job_id);
    if (job.ok()) {
      sink.OnPolled(*job);
      ever_connected = true;
      last_contact = absl::Now();
      if (IsTerminal(job->state()) && job->progress().step() <= last_step) return *job;
    } else if (IsPermanent(job.status().code())) {
      return job.status();
    } else if (!ever_connected) {
      // Never reached the server at all: report that now rather than retrying.
      return status;
    }
    if (absl::Now() - last_contact >= options.give_up_after) {
      return absl::UnavailableError(absl::StrCat(
          "lost the stream of job ", job_id, " after step ", last_step, " (", status.message(),
          ") and could not get it back for ", absl::FormatDuration(options.give_up_after)));
    }
    sink.OnReconnecting(status, backoff);
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, options.max_backoff);
  }
}

}  // namespace descent::client
