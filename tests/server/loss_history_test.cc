#include "server/jobs/loss_history.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/stream_events.h"

namespace descent::server {
namespace {

using ::descent::testing::EpochMessage;
using ::descent::testing::StateMessage;
using ::testing::ElementsAre;

// One read of the history, flattened for assertions.
struct Item {
  bool is_event = false;
  int64_t first_step = 0;
  std::vector<double> losses;
  v1::WatchJobResponse event;
};

std::vector<Item> ReadAll(const LossHistory& history, LossHistory::Cursor* cursor, int max_points) {
  std::vector<Item> items;
  while (true) {
    Item item;
    google::protobuf::RepeatedField<double> points;
    const LossHistory::Event* event = history.Read(cursor, max_points, &item.first_step, &points);
    if (event != nullptr) {
      item.is_event = true;
      item.event = event->message;
    } else if (!points.empty()) {
      item.losses.assign(points.begin(), points.end());
    } else {
      return items;
    }
    items.push_back(std::move(item));
  }
}

// History of 2 epochs of 3 steps: QUEUED, RUNNING, 1 2 3, epoch 1, 4 5 6, epoch 2, SUCCEEDED.
LossHistory TwoEpochs() {
  LossHistory history;
  history.AppendEvent(StateMessage(v1::QUEUED));
  history.AppendEvent(StateMessage(v1::RUNNING));
  for (int step = 1; step <= 6; ++step) {
    history.AppendStep(step * 0.5);
    if (step % 3 == 0) history.AppendEvent(EpochMessage(step / 3, step));
  }
  history.AppendEvent(StateMessage(v1::SUCCEEDED));
  return history;
}

TEST(LossHistoryTest, StoresEveryStepNumberedFromOne) {
  LossHistory history = TwoEpochs();
  EXPECT_EQ(history.steps(), 6);
  EXPECT_EQ(history.loss(1), 0.5);
  EXPECT_EQ(history.loss(6), 3.0);
  EXPECT_EQ(history.events_end(), 5u);
  EXPECT_EQ(history.event(2).after_step, 3);
  EXPECT_EQ(history.event(4).after_step, 6);
}

TEST(LossHistoryTest, ReadsStepsAndEventsInOrderWithoutCrossingAnEvent) {
  LossHistory history = TwoEpochs();
  LossHistory::Cursor cursor = LossHistory::Cursor::After(0, history.ended_at());
  std::vector<Item> items = ReadAll(history, &cursor, /*max_points=*/2);
  ASSERT_EQ(items.size(), 9u);
  EXPECT_EQ(items[0].event.state().state(), v1::QUEUED);
  EXPECT_EQ(items[1].event.state().state(), v1::RUNNING);
  EXPECT_EQ(items[2].first_step, 1);
  EXPECT_THAT(items[2].losses, ElementsAre(0.5, 1.0));  // batch limit
  EXPECT_EQ(items[3].first_step, 3);
  EXPECT_THAT(items[3].losses, ElementsAre(1.5));  // stops at the epoch boundary
  EXPECT_EQ(items[4].event.epoch().epoch(), 1);
  EXPECT_THAT(items[5].losses, ElementsAre(2.0, 2.5));
  EXPECT_THAT(items[6].losses, ElementsAre(3.0));
  EXPECT_EQ(items[7].event.epoch().epoch(), 2);
  EXPECT_EQ(items[8].event.state().state(), v1::SUCCEEDED);
  EXPECT_TRUE(history.AtEnd(cursor));
}

TEST(LossHistoryTest, ReaderPicksUpWhatIsAppendedLater) {
  LossHistory history;
  history.AppendEvent(StateMessage(v1::RUNNING));
  LossHistory::Cursor cursor = LossHistory::Cursor::After(0, history.ended_at());
  EXPECT_EQ(ReadAll(history, &cursor, 100).size(), 1u);
  EXPECT_TRUE(history.AtEnd(cursor));
  history.AppendStep(1.0);
  history.AppendStep(2.0);
  EXPECT_FALSE(history.AtEnd(cursor));
  std::vector<Item> items = ReadAll(history, &cursor, 100);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].first_step, 1);
  EXPECT_THAT(items[0].losses, ElementsAre(1.0, 2.0));
  history.AppendStep(3.0);
  items = ReadAll(history, &cursor, 100);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].first_step, 3);
}

TEST(LossHistoryTest, ResumeRepeatsEventsAtTheResumeStepButNoSteps) {
  LossHistory history = TwoEpochs();
  LossHistory::Cursor cursor = LossHistory::Cursor::After(3, history.ended_at());
  std::vector<Item> items = ReadAll(history, &cursor, 100);
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].event.epoch().epoch(), 1);  // closed step 3: may have been lost
  EXPECT_EQ(items[1].first_step, 4);
  EXPECT_THAT(items[1].losses, ElementsAre(2.0, 2.5, 3.0));
  EXPECT_EQ(items[2].event.epoch().epoch(), 2);
  EXPECT_EQ(items[3].event.state().state(), v1::SUCCEEDED);

  cursor = LossHistory::Cursor::After(4, history.ended_at());
  items = ReadAll(history, &cursor, 100);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].first_step, 5);
}

TEST(LossHistoryTest, ResumeBeyondTheEndStillGetsTheTerminalEvent) {
  LossHistory history = TwoEpochs();
  LossHistory::Cursor cursor = LossHistory::Cursor::After(1000, history.ended_at());
  std::vector<Item> items = ReadAll(history, &cursor, 100);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].event.state().state(), v1::SUCCEEDED);
}

TEST(LossHistoryTest, ResumeBeyondTheStepsOfARunningJobWaitsForLaterSteps) {
  LossHistory history;
  history.AppendEvent(StateMessage(v1::RUNNING));
  history.AppendStep(1.0);
  LossHistory::Cursor cursor = LossHistory::Cursor::After(3, history.ended_at());
  EXPECT_TRUE(ReadAll(history, &cursor, 100).empty());
  for (int i = 0; i < 4; ++i) history.AppendStep(2.0 + i);
  std::vector<Item> items = ReadAll(history, &cursor, 100);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].first_step, 4);
  EXPECT_THAT(items[0].losses, ElementsAre(4.0, 5.0));
}

TEST(LossHistoryTest, AReaderPlacedBeyondARunningJobGetsItsTerminalEventWhenItEnds) {
  LossHistory history;
  history.AppendEvent(StateMessage(v1::RUNNING));
  history.AppendStep(1.0);
  LossHistory::Cursor cursor = LossHistory::Cursor::After(5, history.ended_at());
  EXPECT_TRUE(ReadAll(history, &cursor, 100).empty());
  history.AppendStep(2.0);
  history.AppendEvent(EpochMessage(1, 2));
  history.AppendEvent(StateMessage(v1::CANCELLED));
  EXPECT_FALSE(history.AtEnd(cursor));
  std::vector<Item> items = ReadAll(history, &cursor, 100);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].event.state().state(), v1::CANCELLED);
}

// A window trimmed after step 3 serves cursors from there on; what it dropped is for the
// store to serve, and a reader moving between a store page and the window sees each step and
// event once.
TEST(LossHistoryTest, ATrimmedWindowAndAStorePageServeOneStreamTogether) {
  LossHistory window = TwoEpochs();
  window.Trim(3);
  EXPECT_EQ(window.base(), 3);
  EXPECT_EQ(window.steps(), 6);
  EXPECT_EQ(window.first_event(), 2u);  // QUEUED and RUNNING (before step 3) are dropped
  EXPECT_EQ(window.event(2).message.epoch().epoch(), 1);
  EXPECT_EQ(window.loss(4), 2.0);

  LossHistory::Cursor cursor;
  EXPECT_FALSE(window.Holds(cursor));
  // The "store" page: the first 3 steps and every event at positions 0..3.
  LossHistory page(0);
  page.AppendStoredEvent(0, StateMessage(v1::QUEUED));
  page.AppendStoredEvent(0, StateMessage(v1::RUNNING));
  for (int step = 1; step <= 3; ++step) page.AppendStep(step * 0.5);
  page.AppendStoredEvent(3, EpochMessage(1, 3));
  std::vector<Item> items;
  // Read the page up to the epoch summary at step 3 (not including it), then switch.
  for (int i = 0; i < 3; ++i) {
    Item item;
    google::protobuf::RepeatedField<double> points;
    const LossHistory::Event* event = page.Read(&cursor, 100, &item.first_step, &points);
    ASSERT_TRUE(event != nullptr || !points.empty());
    if (event == nullptr) item.losses.assign(points.begin(), points.end());
    items.push_back(item);
  }
  EXPECT_EQ(cursor.next_step, 4);
  EXPECT_EQ(cursor.skip, 0);
  ASSERT_TRUE(window.Holds(cursor));
  std::vector<Item> rest = ReadAll(window, &cursor, 100);
  ASSERT_EQ(rest.size(), 4u);
  EXPECT_EQ(rest[0].event.epoch().epoch(), 1);
  EXPECT_EQ(rest[1].first_step, 4);
  EXPECT_THAT(rest[1].losses, ElementsAre(2.0, 2.5, 3.0));
  EXPECT_EQ(rest[3].event.state().state(), v1::SUCCEEDED);
  // A reader that had the epoch summary at 3 from the page does not get it twice.
  LossHistory::Cursor after_summary{4, 1, false};
  rest = ReadAll(window, &after_summary, 100);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].first_step, 4);
}

TEST(LossHistoryDeathTest, RejectsEventsAfterTheTerminalOne) {
  LossHistory history = TwoEpochs();
  EXPECT_DEATH(history.AppendEvent(EpochMessage(3, 6)), "IsTerminal");
}

}  // namespace
}  // namespace descent::server
