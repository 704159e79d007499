// The stream comparison the watch tests rely on: framing and heartbeats do not count, every
// step, loss bit and event does.
#include "tests/testing/stream_events.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace descent::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::WatchJobResponse Heartbeat(int64_t latest_step) {
  v1::WatchJobResponse message;
  message.mutable_heartbeat()->set_latest_step(latest_step);
  return message;
}

TEST(StreamEventsTest, BatchingAndHeartbeatsDoNotCount) {
  const std::vector<v1::WatchJobResponse> batched = {
      StateMessage(v1::RUNNING), LossesMessage(1, {0.5, 0.25, 0.125}), EpochMessage(1, 3),
      StateMessage(v1::SUCCEEDED)};
  const std::vector<v1::WatchJobResponse> trickled = {StateMessage(v1::RUNNING),
                                                      Heartbeat(0),
                                                      LossesMessage(1, {0.5}),
                                                      LossesMessage(2, {0.25}),
                                                      Heartbeat(2),
                                                      LossesMessage(3, {0.125}),
                                                      EpochMessage(1, 3),
                                                      StateMessage(v1::SUCCEEDED)};
  EXPECT_EQ(StreamEvents(trickled), StreamEvents(batched));
  EXPECT_THAT(StreamEvents(batched),
              ElementsAre(HasSubstr("RUNNING"), "step 1 loss 0.5", "step 2 loss 0.25",
                          "step 3 loss 0.125", HasSubstr("last_step: 3"), HasSubstr("SUCCEEDED")));
}

TEST(StreamEventsTest, ARepeatedLostOrChangedEventCounts) {
  const v1::WatchJobResponse losses = LossesMessage(1, {0.5, 0.25});
  const v1::WatchJobResponse epoch = EpochMessage(1, 2);
  const v1::WatchJobResponse succeeded = StateMessage(v1::SUCCEEDED);
  const std::vector<std::string> expected = StreamEvents({losses, epoch, succeeded});
  // A step repeated, a step lost, a loss one bit off, a summary lost or repeated, another
  // terminal state, an empty message.
  EXPECT_NE(StreamEvents({losses, LossesMessage(2, {0.25}), epoch, succeeded}), expected);
  EXPECT_NE(StreamEvents({LossesMessage(1, {0.5}), epoch, succeeded}), expected);
  EXPECT_NE(StreamEvents({LossesMessage(1, {0.5, std::nextafter(0.25, 1.0)}), epoch, succeeded}),
            expected);
  EXPECT_NE(StreamEvents({losses, succeeded}), expected);
  EXPECT_NE(StreamEvents({losses, epoch, epoch, succeeded}), expected);
  EXPECT_NE(StreamEvents({losses, epoch, StateMessage(v1::CANCELLED)}), expected);
  EXPECT_NE(StreamEvents({losses, epoch, v1::WatchJobResponse(), succeeded}), expected);
}

}  // namespace
}  // namespace descent::testing
