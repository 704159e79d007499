#include "server/jobs/watch_stream.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "engine/lr_finder.h"
#include "server/conversion/engine_to_proto.h"
#include "server/conversion/spec_conversion.h"
#include "server/jobs/store_conversion.h"

namespace descent::server {
namespace {

// Messages taken from the history per lock hold: enough to amortise the lock when epochs are
// a few steps long, few enough to keep the hold (and the trainer's wait) short.
constexpr int kMaxMessagesPerRead = 64;

// A range test's rates are a function of the step (engine/lr_finder.h), so the history does
// not keep them: each loss message gets its rates as it is sent.
void AddLearningRates(const LrFindSpec& find, v1::LossPoints* points) {
  points->clear_learning_rates();
  points->mutable_learning_rates()->Reserve(points->losses_size());
  for (int i = 0; i < points->losses_size(); ++i) {
    points->add_learning_rates(LrFindLearningRate(find, points->first_step() + i));
  }
}

absl::Status Deleted(const WatchedJob& job) {
  return absl::NotFoundError(absl::StrCat(
      "job ", job.id, " was deleted while it was watched (descentd "
      "--retain-finished-jobs or --retain-finished-for); its history is gone"));
}

// Whether a followed job is still in the store (an empty page of its history is then only
// steps not written yet). True when the store cannot tell now: the next read retries.
bool JobStillStored(const WatchedJob& job) {
  return !absl::IsNotFound(job.store->FindSequence(job.id).status());
}

absl::Status StoppedReading(const WatchedJob& job) {
  return absl::CancelledError(
      absl::StrCat("the watcher of job ", job.id, " stopped reading the stream"));
}

}  // namespace

absl::Status ServeWatch(const WatchedJob& watched, int64_t after_step,
                        const WatchStreamOptions& options, JobEventListener* listener,
                        const std::function<bool(const v1::WatchJobResponse&)>& send) {
  WatchedJob job = watched;  // becomes a followed job if another replica takes the job over
  DESCENT_CHECK(after_step >= 0);
  DESCENT_CHECK(options.max_points_per_message >= 1 && options.page_steps >= 1);
  DESCENT_CHECK(job.record != nullptr ||
                (job.store != nullptr && (job.ended_at.has_value() || job.follow)));
  LossHistory::Cursor cursor = job.record != nullptr
                                   ? job.record->WatchCursor(after_step)
                                   : LossHistory::Cursor::After(after_step, job.ended_at);
  // A resumption before after_step is not at the cursor's position: it is sent on its own,
  // before the first message read after it was recorded (the watch may start before the
  // restarted job resumes).
  bool resumption_pending = after_step > 0 && (job.record != nullptr || job.resumed_at);
  const auto resumption = [&]() -> std::optional<v1::WatchJobResponse> {
    if (job.record != nullptr) return job.record->ResumedBefore(after_step);
    if (!job.resumed_at || *job.resumed_at >= after_step) return std::nullopt;
    v1::WatchJobResponse event;
    event.mutable_resumed()->set_step(*job.resumed_at);
    return event;
  };
  // The page of stored history the cursor is in, once it has fallen behind the record.
  std::optional<LossHistory> page;
  // Only a watcher that joined a job still running can fall behind it.
  bool reported_behind = job.record == nullptr || IsTerminal(job.record->state());
  absl::Time last_sent = absl::Now();
  uint64_t wake_ups_read = 0;  // JobRecord::ReadOrWait's
  int64_t steps_recorded = job.ended_at.value_or(0);
  std::vector<v1::WatchJobResponse> messages;
  const std::optional<LrFindSpec> range_test =
      job.spec != nullptr && job.spec->has_lr_find()
          ? std::optional<LrFindSpec>(ToLrFindSpec(job.spec->lr_find()))
          : std::nullopt;
  while (true) {
    messages.clear();
    ReadResult read = ReadResult::kBehind;
    if (page && page->Holds(cursor) && !page->AtEnd(cursor)) {
      page->ReadMessages(&cursor, options.max_points_per_message, kMaxMessagesPerRead, &messages);
      for (v1::WatchJobResponse& message : messages) {
        if (message.has_state()) *message.mutable_state()->mutable_job()->mutable_spec() = *job.spec;
      }
      read = ReadResult::kRead;
    } else if (job.record != nullptr) {
      read = job.record->ReadOrWait(&cursor, options.max_points_per_message, kMaxMessagesPerRead,
                                    last_sent + options.heartbeat_interval, &wake_ups_read,
                                    &messages, &steps_recorded);
    }
    if (read == ReadResult::kBehind) {
      DESCENT_CHECK(job.store != nullptr);
      // Before the read: a write committed after it wakes the wait below.
      const uint64_t mark = job.store->ChangeMark();
      absl::StatusOr<LossHistory> read_page = ReadStoredHistory(*job.store,
          job.sequence, cursor.position(),
          std::max<int64_t>(options.page_steps, options.max_points_per_message));
      if (!read_page.ok()) return read_page.status();
      page = *std::move(read_page);
      if (!page->AtEnd(cursor)) continue;
      if (!job.follow) return Deleted(job);
      // Nothing new from the replica that trains it yet.
      const absl::Time heartbeat_due = last_sent + options.heartbeat_interval;
      if (job.store->AwaitChange(job.sequence, mark,
                                 std::min(heartbeat_due, absl::Now() + kFollowPollInterval)) ||
          absl::Now() < heartbeat_due) {
        continue;
      }
      if (!JobStillStored(job)) return Deleted(job);
      read = ReadResult::kTimedOut;
      steps_recorded = page->steps();
    }
    if (read == ReadResult::kSuspended && job.record->handed_over() && job.store != nullptr) {
      // Another replica trains the job now: the stream goes on from the store, as for a job
      // it never held (the steps it resumes from its checkpoint are the same ones).
      job.resumed_at = std::nullopt;
      job.record = nullptr;
      job.follow = true;
      page.reset();
      continue;
    }
    if (read == ReadResult::kSuspended) {
      return absl::UnavailableError(absl::StrCat(
          "the server is stopping; job ", job.id, " continues when it is back: watch again "
          "with after_step = ", cursor.position()));
    }
    if (read == ReadResult::kTimedOut) {
      v1::Heartbeat& heartbeat = *messages.emplace_back().mutable_heartbeat();
      heartbeat.set_latest_step(steps_recorded);
      *heartbeat.mutable_time() = ToTimestamp(absl::Now());
    }
    if (!reported_behind && steps_recorded - cursor.position() > options.fell_behind_steps) {
      reported_behind = true;
      if (listener != nullptr) listener->OnWatcherFellBehind();
    }
    if (resumption_pending) {
      if (std::optional<v1::WatchJobResponse> resumed = resumption()) {
        if (!send(*resumed)) return StoppedReading(job);
        resumption_pending = false;
      }
    }
    for (v1::WatchJobResponse& message : messages) {
      if (range_test && message.has_losses()) {
        AddLearningRates(*range_test, message.mutable_losses());
      }
      if (!send(message)) return StoppedReading(job);
      if (message.has_losses() && listener != nullptr) {
        listener->OnLossPointsSent(message.losses().losses_size());
      }
      if (message.has_state() && IsTerminal(message.state().state())) return absl::OkStatus();
    }
    last_sent = absl::Now();
  }
}

}  // namespace descent::server
