#include "server/loss_history.h"

#include <algorithm>
#include <utility>

#include "engine/status_macros.h"

namespace descent::server {
namespace {

bool IsTerminal(const v1::WatchJobResponse& message) {
  if (!message.has_state()) return false;
  const v1::JobState state = message.state().state();
  return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED;
}

}  // namespace

void LossHistory::AppendEvent(v1::WatchJobResponse message) {
  DESCENT_CHECK(message.has_state() || message.has_epoch() || message.has_resumed());
  DESCENT_CHECK(events_.empty() || !IsTerminal(events_.back().message));
  events_.push_back(Event{steps(), std::move(message)});
}

double LossHistory::loss(int64_t step) const {
  DESCENT_CHECK(step >= 1 && step <= steps());
  return losses_[static_cast<size_t>(step - 1)];
}

LossHistory::Cursor LossHistory::CursorAfter(int64_t after_step) const {
  DESCENT_CHECK(after_step >= 0);
  Cursor cursor;
  cursor.next_step = after_step + 1;
  const auto first =
      std::lower_bound(events_.begin(), events_.end(), after_step,
                       [](const Event& event, int64_t step) { return event.after_step < step; });
  cursor.next_event = static_cast<size_t>(first - events_.begin());
  if (!events_.empty() && IsTerminal(events_.back().message)) {
    cursor.next_event = std::min(cursor.next_event, events_.size() - 1);
  }
  return cursor;
}

const LossHistory::Event* LossHistory::Read(Cursor* cursor, int max_points, int64_t* first_step,
                                            google::protobuf::RepeatedField<double>* points) const {
  DESCENT_CHECK(max_points >= 1);
  points->Clear();
  // Steps before the next event's position come first; an event whose position the cursor
  // has passed (or reached) comes next.
  int64_t last_readable = steps();
  if (cursor->next_event < events_.size()) {
    const Event& event = events_[cursor->next_event];
    if (event.after_step < cursor->next_step) {
      ++cursor->next_event;
      return &event;
    }
    last_readable = std::min(last_readable, event.after_step);
  }
  if (cursor->next_step > last_readable) return nullptr;
  const int64_t count = std::min<int64_t>(last_readable - cursor->next_step + 1, max_points);
  const auto begin = losses_.begin() + (cursor->next_step - 1);
  points->Reserve(static_cast<int>(count));
  for (auto it = begin; it != begin + count; ++it) points->AddAlreadyReserved(*it);
  *first_step = cursor->next_step;
  cursor->next_step += count;
  return nullptr;
}

}  // namespace descent::server
