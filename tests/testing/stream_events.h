// What a WatchJob stream promises, apart from how it happened to be framed: every step's
// loss, the epoch summaries, the state changes and the resumptions, in order, each exactly
// once. How many points one message batches depends on when the watcher woke up, and
// heartbeats on how long the job was quiet; neither is promised, so tests that compare two
// streams (live against replayed, one watcher against another) compare these events.
#ifndef DESCENT_TESTS_TESTING_STREAM_EVENTS_H_
#define DESCENT_TESTS_TESTING_STREAM_EVENTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "descent/v1/training.pb.h"

namespace descent::testing {

// The stream's events in order, one string each, naming everything the event carries: a
// step as "step 7 loss 0.52..." (the loss to the last bit, with " rate ..." in a range
// test's stream), an epoch summary, a state change
// (its whole Job) and a resumption as their text form. Heartbeats are left out; an empty
// message shows as "empty message" so it cannot go unnoticed. Two streams promised the same
// thing exactly when their StreamEvents are equal, and gMock prints where they part.
inline std::vector<std::string> StreamEvents(const std::vector<v1::WatchJobResponse>& messages) {
  std::vector<std::string> events;
  for (const v1::WatchJobResponse& message : messages) {
    switch (message.event_case()) {
      case v1::WatchJobResponse::kLosses:
        for (int i = 0; i < message.losses().losses_size(); ++i) {
          events.push_back(absl::StrFormat("step %d loss %.17g", message.losses().first_step() + i,
                                           message.losses().losses(i)));
          // A range test's rates go with their steps.
          if (i < message.losses().learning_rates_size()) {
            absl::StrAppendFormat(&events.back(), " rate %.17g", message.losses().learning_rates(i));
          }
        }
        break;
      case v1::WatchJobResponse::kEpoch:
        events.push_back(absl::StrCat("epoch ", message.epoch().ShortDebugString()));
        break;
      case v1::WatchJobResponse::kState:
        events.push_back(absl::StrCat("state ", message.state().ShortDebugString()));
        break;
      case v1::WatchJobResponse::kResumed:
        events.push_back(absl::StrCat("resumed ", message.resumed().ShortDebugString()));
        break;
      case v1::WatchJobResponse::kHeartbeat:
        break;
      case v1::WatchJobResponse::EVENT_NOT_SET:
        events.push_back("empty message");
        break;
    }
  }
  return events;
}

// Single messages, for tests that build streams or histories by hand.
inline v1::WatchJobResponse LossesMessage(int64_t first_step, const std::vector<double>& losses) {
  v1::WatchJobResponse message;
  message.mutable_losses()->set_first_step(first_step);
  for (double loss : losses) message.mutable_losses()->add_losses(loss);
  return message;
}

inline v1::WatchJobResponse EpochMessage(int epoch, int64_t last_step) {
  v1::WatchJobResponse message;
  message.mutable_epoch()->set_epoch(epoch);
  message.mutable_epoch()->set_last_step(last_step);
  return message;
}

inline v1::WatchJobResponse StateMessage(v1::JobState state) {
  v1::WatchJobResponse message;
  message.mutable_state()->set_state(state);
  return message;
}

}  // namespace descent::testing

#endif  // DESCENT_TESTS_TESTING_STREAM_EVENTS_H_
