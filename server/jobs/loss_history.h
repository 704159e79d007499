// A window onto one job's progress log: the losses of consecutive steps (8 bytes a step, in
// blocks that never move, so appending never copies what is there) and the events that
// happened between steps (state changes, epoch summaries, resumptions), each placed after
// the step count at which it occurred. The window starts after `base()` steps: it holds the
// losses of steps base() + 1 .. steps() and every event placed at base() or later. A running
// job's record keeps the steps its store has not got yet (Trim drops the rest once they are
// stored); a page read from the store is a window too, so readers use one cursor for both.
//
// Not thread-safe: JobRecord guards it with its mutex.
#ifndef DESCENT_SERVER_JOBS_LOSS_HISTORY_H_
#define DESCENT_SERVER_JOBS_LOSS_HISTORY_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "descent/v1/training.pb.h"
#include "google/protobuf/repeated_field.h"

namespace descent::server {

// Whether `message` is a state change into SUCCEEDED, FAILED or CANCELLED.
bool IsTerminalEvent(const v1::WatchJobResponse& message);

class LossHistory {
 public:
  // An event between steps: `message` holds an epoch summary, a state change or a
  // resumption (losses and heartbeats are never stored as events).
  struct Event {
    int64_t after_step = 0;  // steps recorded before the event
    v1::WatchJobResponse message;
  };

  // Where a reader is, independent of the window it reads from: it has every step before
  // next_step and the first `skip` events placed at next_step - 1 (events placed earlier
  // come before step next_step - 1 and were read with it). With terminal_only, the events at
  // next_step - 1 other than the terminal state change are passed over.
  struct Cursor {
    int64_t next_step = 1;
    int64_t skip = 0;
    bool terminal_only = false;

    int64_t position() const { return next_step - 1; }
    // For a reader that already has every step up to `after_step` and wants what follows:
    // steps after it and the events placed at or after it (an epoch summary that closed step
    // `after_step` is repeated, since a dropped stream may have lost it; steps never are).
    // `ended_at` is the step count of a job that ended: a reader beyond it gets the
    // terminal state event alone, which is never skipped.
    static Cursor After(int64_t after_step, std::optional<int64_t> ended_at);
  };

  // An empty window after `base` steps.
  explicit LossHistory(int64_t base = 0) : base_(base) {}

  // Records the loss of step steps() + 1.
  void AppendStep(double loss) { losses_.push_back(loss); }
  // Records an event after the steps recorded so far (CHECK-fails after a terminal one).
  void AppendEvent(v1::WatchJobResponse message);
  // Records an event read back from the store at `after_step` (in [base(), steps()]).
  void AppendStoredEvent(int64_t after_step, v1::WatchJobResponse message);

  // Steps before the window.
  int64_t base() const { return base_; }
  // Steps recorded: the last step the window holds (base() when it holds none).
  int64_t steps() const { return base_ + static_cast<int64_t>(losses_.size()); }
  // The loss of `step`; CHECK-fails outside [base() + 1, steps()].
  double loss(int64_t step) const;
  // Events are numbered from 0 in the order they were appended, those dropped by Trim
  // included: [first_event(), events_end()) are held.
  size_t first_event() const { return dropped_events_; }
  size_t events_end() const { return dropped_events_ + events_.size(); }
  const Event& event(size_t number) const;
  // The step count at which the job ended (its terminal event), if it has.
  std::optional<int64_t> ended_at() const;

  // Moves the window's start to `base` (in [base(), steps()]): drops the losses of steps up
  // to it and the events placed before it.
  void Trim(int64_t base);

  // Whether `cursor` can be served from this window (it is not before its start).
  bool Holds(const Cursor& cursor) const { return cursor.position() >= base_; }

  // What `cursor` (Holds it) reads next, if anything: either the next event (returned,
  // cursor moved past it) or up to `max_points` consecutive losses (appended to *points,
  // first step in *first_step, cursor moved past them), never crossing an event's position.
  // Returns nullptr and leaves *points empty when the cursor is at the window's end.
  const Event* Read(Cursor* cursor, int max_points, int64_t* first_step,
                    google::protobuf::RepeatedField<double>* points) const;

  // Appends to *messages what `cursor` (Holds it) reads next, in order: events and losses
  // batched up to `max_points` per message, at most `max_messages` messages and
  // `max_points` losses in all. Returns the number of messages appended (0 at the end).
  int ReadMessages(Cursor* cursor, int max_points, int max_messages,
                   std::vector<v1::WatchJobResponse>* messages) const;

  // Whether `cursor` (Holds it) has read everything the window holds.
  bool AtEnd(const Cursor& cursor) const;

 private:
  // A cursor beyond the step count at which the job ended (it was placed there while the job
  // ran) reads the terminal event alone.
  void FollowToEnd(Cursor* cursor) const;
  // Index in events_ of the first event placed at or after `step`.
  size_t FirstEventAt(int64_t step) const;
  // Index in events_ past the events placed at `step` from index `first` on.
  size_t EventsFrom(size_t first, int64_t step) const;

  int64_t base_ = 0;
  size_t dropped_events_ = 0;
  std::deque<double> losses_;  // losses_[i] is step base_ + i + 1
  std::deque<Event> events_;   // ordered by after_step, all >= base_
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOBS_LOSS_HISTORY_H_
