// The sweep store's behaviour, the same for both implementations (a test per implementation:
// .../SQLite, .../PostgreSQL): rows and events survive a reopen, writes replace the row and
// append events, unknown and duplicate sweeps are refused; on PostgreSQL, leases fence the
// writes of a replica whose claim was taken over.
#include "server/store/sweep_store.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/store_under_test.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::server::testing::StoreKind;
using ::descent::server::testing::StoreUnderTest;
using ::descent::testing::IsOkAndHolds;
using ::descent::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

class SweepStoreTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override { DESCENT_START_STORE_OR_SKIP(under_test_); }

  // Opens the store (closing the one open before).
  SweepStore& Open() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<JobStore>> store = under_test_->Open();
    EXPECT_OK(store);
    store_ = *std::move(store);
    return *store_->sweeps();
  }

  static SweepWrite Sweep(const std::string& id, v1::SweepState state) {
    SweepWrite write;
    write.sweep.set_id(id);
    write.sweep.set_state(state);
    write.sweep.mutable_spec()->set_name("sweep of " + id);
    return write;
  }
  static v1::TrialEvent Event(int64_t sequence, int trial, v1::TrialEvent::Kind kind) {
    v1::TrialEvent event;
    event.set_sequence(sequence);
    event.set_trial(trial);
    event.set_kind(kind);
    return event;
  }

  std::unique_ptr<StoreUnderTest> under_test_;
  std::unique_ptr<JobStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Stores, SweepStoreTest,
                         ::testing::Values(StoreKind::kSqlite, StoreKind::kPostgres),
                         ::descent::server::testing::StoreKindName);

TEST_P(SweepStoreTest, RowsAndEventsSurviveAReopenInOrder) {
  SweepStore& sweeps = Open();
  SweepWrite first = Sweep("sweep-a", v1::SWEEP_RUNNING);
  first.sweep.add_trials()->set_index(0);
  first.events.push_back(Event(1, 0, v1::TrialEvent::STARTED));
  ASSERT_OK(sweeps.InsertSweep(first));
  ASSERT_OK(sweeps.InsertSweep(Sweep("sweep-b", v1::SWEEP_RUNNING)));
  EXPECT_THAT(sweeps.InsertSweep(Sweep("sweep-a", v1::SWEEP_RUNNING)),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("sweep-a")));

  // A write replaces the row and appends its events.
  SweepWrite second = Sweep("sweep-a", v1::SWEEP_SUCCEEDED);
  v1::Trial* trial = second.sweep.add_trials();
  trial->set_state(v1::TRIAL_STOPPED);
  trial->set_stop_reason("stopped at step 20: validation loss 9 is above the cutoff");
  v1::TrialEvent reported = Event(2, 0, v1::TrialEvent::REPORTED);
  reported.mutable_report()->set_step(20);
  reported.mutable_report()->set_value(9.0);
  second.events = {reported, Event(3, 0, v1::TrialEvent::STOPPED)};
  ASSERT_OK(sweeps.WriteSweep(second));
  EXPECT_THAT(sweeps.WriteSweep(Sweep("sweep-c", v1::SWEEP_RUNNING)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("sweep-c")));

  SweepStore& reopened = Open();
  const auto loaded = reopened.LoadSweeps();
  ASSERT_OK(loaded.status());
  ASSERT_THAT(*loaded, SizeIs(2));
  EXPECT_EQ((*loaded)[0].id(), "sweep-a");  // oldest first
  EXPECT_EQ((*loaded)[0].state(), v1::SWEEP_SUCCEEDED);
  EXPECT_EQ((*loaded)[0].trials(0).stop_reason(), trial->stop_reason());
  EXPECT_EQ((*loaded)[1].id(), "sweep-b");
  const auto events = reopened.ReadSweepEvents("sweep-a", 0);
  ASSERT_OK(events.status());
  ASSERT_THAT(*events, SizeIs(3));
  for (int i = 0; i < 3; ++i) EXPECT_EQ((*events)[i].sequence(), i + 1);
  EXPECT_EQ((*events)[1].report().value(), 9.0);
  const auto later = reopened.ReadSweepEvents("sweep-a", 2);
  ASSERT_OK(later.status());
  ASSERT_THAT(*later, SizeIs(1));
  EXPECT_EQ((*later)[0].kind(), v1::TrialEvent::STOPPED);
  EXPECT_THAT(reopened.ReadSweep("sweep-z").status(), StatusIs(absl::StatusCode::kNotFound, HasSubstr("sweep-z")));
  const auto b = reopened.ReadSweep("sweep-b");
  ASSERT_OK(b.status());
  EXPECT_EQ(b->spec().name(), "sweep of sweep-b");
}

TEST_P(SweepStoreTest, ASharedStoreFencesTheWritesOfAClaimTakenOver) {
  SweepStore& sweeps = Open();
  if (!store_->shared()) {
    EXPECT_THAT(sweeps.ClaimSweep(LeaseHolder{"a:1", 1}, std::nullopt).status(),
                StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("not shared")));
    return;
  }
  ASSERT_OK(sweeps.InsertSweep(Sweep("sweep-a", v1::SWEEP_RUNNING)));
  ASSERT_OK(sweeps.InsertSweep(Sweep("sweep-done", v1::SWEEP_SUCCEEDED)));
  const LeaseHolder a{"a:1", 1, absl::Minutes(1)};
  const LeaseHolder b{"b:1", 2, absl::Minutes(1)};
  const auto claimed = sweeps.ClaimSweep(a, std::string("sweep-a"));
  ASSERT_OK(claimed.status());
  ASSERT_TRUE(claimed->has_value());
  EXPECT_EQ((*claimed)->id, "sweep-a");
  // Held, and the ended sweep is nobody's to drive.
  const auto none = sweeps.ClaimSweep(b, std::nullopt);
  ASSERT_OK(none.status());
  EXPECT_FALSE(none->has_value());
  SweepWrite write = Sweep("sweep-a", v1::SWEEP_RUNNING);
  write.lease_token = (*claimed)->token;
  ASSERT_OK(sweeps.WriteSweep(write));
  EXPECT_THAT(sweeps.RenewSweepLease("sweep-a", (*claimed)->token, absl::Minutes(1)),
              IsOkAndHolds(false));
  // A cancel asked of any replica reaches the holder at its next renewal; an ended sweep's
  // state is the answer, with nothing recorded.
  EXPECT_THAT(sweeps.RequestSweepCancel("sweep-a"), IsOkAndHolds(v1::SWEEP_RUNNING));
  EXPECT_THAT(sweeps.RenewSweepLease("sweep-a", (*claimed)->token, absl::Minutes(1)),
              IsOkAndHolds(true));
  EXPECT_THAT(sweeps.RequestSweepCancel("sweep-done"), IsOkAndHolds(v1::SWEEP_SUCCEEDED));
  EXPECT_THAT(sweeps.RequestSweepCancel("sweep-z").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("sweep-z")));

  // The lease expires (as if a's renewals stopped): b takes the sweep over, and a's writes
  // and renewals are refused from then on.
  ASSERT_TRUE(under_test_->Execute(
      "UPDATE sweeps SET lease_expires = now() - interval '1 second' WHERE id = 'sweep-a'"));
  const auto taken = sweeps.ClaimSweep(b, std::nullopt);
  ASSERT_OK(taken.status());
  ASSERT_TRUE(taken->has_value());
  EXPECT_GT((*taken)->token, (*claimed)->token);
  EXPECT_THAT(sweeps.WriteSweep(write), StatusIs(absl::StatusCode::kAborted, HasSubstr("sweep-a")));
  EXPECT_TRUE(IsLeaseLost(
      sweeps.RenewSweepLease("sweep-a", (*claimed)->token, absl::Minutes(1)).status()));
  write.lease_token = (*taken)->token;
  EXPECT_OK(sweeps.WriteSweep(write));
  // Released: claimable at once.
  ASSERT_OK(sweeps.ReleaseSweepLease("sweep-a", (*taken)->token));
  const auto again = sweeps.ClaimSweep(a, std::nullopt);
  ASSERT_OK(again.status());
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->id, "sweep-a");
}

}  // namespace
}  // namespace descent::server
