#include "server/jobs/loss_history.h"

#include <algorithm>
#include <utility>

#include "base/status_macros.h"

namespace descent::server {

bool IsTerminalEvent(const v1::WatchJobResponse& message) {
  if (!message.has_state()) return false;
  const v1::JobState state = message.state().state();
  return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED;
}

LossHistory::Cursor LossHistory::Cursor::After(int64_t after_step,
                                               std::optional<int64_t> ended_at) {
  DESCENT_CHECK(after_step >= 0);
  Cursor cursor;
  cursor.next_step = after_step + 1;
  if (ended_at && after_step > *ended_at) {
    cursor.next_step = *ended_at + 1;
    cursor.terminal_only = true;
  }
  return cursor;
}

void LossHistory::AppendEvent(v1::WatchJobResponse message) {
  AppendStoredEvent(steps(), std::move(message));
}

void LossHistory::AppendStoredEvent(int64_t after_step, v1::WatchJobResponse message) {
  DESCENT_CHECK(message.has_state() || message.has_epoch() || message.has_resumed());
  DESCENT_CHECK(events_.empty() || !IsTerminalEvent(events_.back().message));
  DESCENT_CHECK(after_step >= base_ && after_step <= steps());
  DESCENT_CHECK(events_.empty() || after_step >= events_.back().after_step);
  events_.push_back(Event{after_step, std::move(message)});
}

double LossHistory::loss(int64_t step) const {
  DESCENT_CHECK(step > base_ && step <= steps());
  return losses_[static_cast<size_t>(step - base_ - 1)];
}

const LossHistory::Event& LossHistory::event(size_t number) const {
  DESCENT_CHECK(number >= dropped_events_ && number < events_end());
  return events_[number - dropped_events_];
}

std::optional<int64_t> LossHistory::ended_at() const {
  if (events_.empty() || !IsTerminalEvent(events_.back().message)) return std::nullopt;
  return events_.back().after_step;
}

void LossHistory::Trim(int64_t base) {
  DESCENT_CHECK(base >= base_ && base <= steps());
  losses_.erase(losses_.begin(), losses_.begin() + (base - base_));
  const size_t drop = FirstEventAt(base);
  events_.erase(events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(drop));
  dropped_events_ += drop;
  base_ = base;
}

size_t LossHistory::FirstEventAt(int64_t step) const {
  const auto first =
      std::lower_bound(events_.begin(), events_.end(), step,
                       [](const Event& event, int64_t at) { return event.after_step < at; });
  return static_cast<size_t>(first - events_.begin());
}

const LossHistory::Event* LossHistory::Read(Cursor* cursor, int max_points, int64_t* first_step,
                                            google::protobuf::RepeatedField<double>* points) const {
  DESCENT_CHECK(max_points >= 1);
  DESCENT_CHECK(Holds(*cursor));
  points->Clear();
  FollowToEnd(cursor);
  // The events at the cursor's position it has not read come first, then the steps up to the
  // next event's position.
  const size_t here = FirstEventAt(cursor->position());
  const size_t later = EventsFrom(here, cursor->position());
  while (here + static_cast<size_t>(cursor->skip) < later) {
    const Event& event = events_[here + static_cast<size_t>(cursor->skip)];
    ++cursor->skip;
    if (cursor->terminal_only && !IsTerminalEvent(event.message)) continue;
    return &event;
  }
  if (cursor->terminal_only) return nullptr;  // nothing but the terminal event is wanted
  int64_t last_readable = steps();
  if (later < events_.size()) last_readable = std::min(last_readable, events_[later].after_step);
  if (cursor->next_step > last_readable) return nullptr;
  const int64_t count = std::min<int64_t>(last_readable - cursor->next_step + 1, max_points);
  const auto begin = losses_.begin() + (cursor->next_step - base_ - 1);
  points->Reserve(static_cast<int>(count));
  for (auto it = begin; it != begin + count; ++it) points->AddAlreadyReserved(*it);
  *first_step = cursor->next_step;
  cursor->next_step += count;
  cursor->skip = 0;
  return nullptr;
}

int LossHistory::ReadMessages(Cursor* cursor, int max_points, int max_messages,
                              std::vector<v1::WatchJobResponse>* messages) const {
  int points_left = max_points;
  int read = 0;
  google::protobuf::RepeatedField<double> points;
  for (; read < max_messages && points_left > 0; ++read) {
    int64_t first_step = 0;
    const Event* event = Read(cursor, points_left, &first_step, &points);
    if (event != nullptr) {
      messages->push_back(event->message);
    } else if (!points.empty()) {
      points_left -= points.size();
      v1::LossPoints& losses = *messages->emplace_back().mutable_losses();
      losses.set_first_step(first_step);
      losses.mutable_losses()->Swap(&points);
    } else {
      break;
    }
  }
  return read;
}

void LossHistory::FollowToEnd(Cursor* cursor) const {
  if (const std::optional<int64_t> end = ended_at(); end && cursor->position() > *end) {
    *cursor = Cursor::After(cursor->position(), end);
  }
}

bool LossHistory::AtEnd(const Cursor& reader) const {
  DESCENT_CHECK(Holds(reader));
  Cursor cursor = reader;
  FollowToEnd(&cursor);
  const size_t here = FirstEventAt(cursor.position());
  const size_t later = EventsFrom(here, cursor.position());
  for (size_t i = here + static_cast<size_t>(cursor.skip); i < later; ++i) {
    if (!cursor.terminal_only || IsTerminalEvent(events_[i].message)) return false;
  }
  return cursor.terminal_only || cursor.next_step > steps();
}

size_t LossHistory::EventsFrom(size_t first, int64_t step) const {
  while (first < events_.size() && events_[first].after_step == step) ++first;
  return first;
}

}  // namespace descent::server
