// One job's progress log, append-only for the job's lifetime: every optimizer step's loss
// (8 bytes a step, in blocks that never move, so appending never copies what is there) and
// the events that happened between steps (state changes, epoch summaries), each placed
// after the step count at which it occurred. Watchers read it with their own cursor, so a
// watcher far behind is served from here by construction.
//
// Not thread-safe: JobRecord guards it with its mutex.
#ifndef DESCENT_SERVER_LOSS_HISTORY_H_
#define DESCENT_SERVER_LOSS_HISTORY_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "descent/v1/training.pb.h"
#include "google/protobuf/repeated_field.h"

namespace descent::server {

class LossHistory {
 public:
  // An event between steps: `message` holds an epoch summary, a state change or a
  // resumption (losses and heartbeats are never stored as events).
  struct Event {
    int64_t after_step = 0;  // steps recorded before the event
    v1::WatchJobResponse message;
  };

  // Where a reader is: the next step to read (1-based) and the next event to read.
  struct Cursor {
    int64_t next_step = 1;
    size_t next_event = 0;
  };

  // Records the loss of step steps() + 1.
  void AppendStep(double loss) { losses_.push_back(loss); }
  // Records an event after the steps recorded so far.
  void AppendEvent(v1::WatchJobResponse message);

  int64_t steps() const { return static_cast<int64_t>(losses_.size()); }
  // The loss of `step` (1-based); CHECK-fails outside [1, steps()].
  double loss(int64_t step) const;
  size_t events() const { return events_.size(); }
  const Event& event(size_t index) const { return events_[index]; }

  // A cursor for a reader that already has every step up to `after_step` and wants what
  // follows: steps after it and the events placed at or after it (an epoch summary that
  // closed step `after_step` is repeated, since a dropped stream may have lost it; steps
  // never are). A terminal state event, always the last event, is never skipped.
  Cursor CursorAfter(int64_t after_step) const;

  // What `cursor` reads next, if anything: either the next event (returned, cursor moved past
  // it) or up to `max_points` consecutive losses (appended to *points, first step in
  // *first_step, cursor moved past them), never crossing an event's position. Returns
  // nullptr and leaves *points empty when the cursor is at the end.
  const Event* Read(Cursor* cursor, int max_points, int64_t* first_step,
                    google::protobuf::RepeatedField<double>* points) const;

  // Whether `cursor` has read everything recorded so far.
  bool AtEnd(const Cursor& cursor) const {
    return cursor.next_event >= events_.size() && cursor.next_step > steps();
  }

 private:
  std::deque<double> losses_;  // losses_[i] is step i + 1
  std::vector<Event> events_;  // ordered by after_step
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_LOSS_HISTORY_H_
