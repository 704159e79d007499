#include "server/conversion/engine_to_proto.h"

#include "gtest/gtest.h"

namespace descent::server {
namespace {

TEST(EngineToProtoTest, MetricsKeepOnlyWhatTheEngineFilled) {
  EvalMetrics classification;
  classification.loss = 0.25;
  classification.accuracy = 0.875;
  v1::Metrics out = ToProto(classification);
  EXPECT_EQ(out.loss(), 0.25);
  ASSERT_TRUE(out.has_accuracy());
  EXPECT_EQ(out.accuracy(), 0.875);
  EXPECT_FALSE(out.has_mae());
  EXPECT_FALSE(out.has_rmse());
  EXPECT_FALSE(out.has_r2());

  EvalMetrics regression;
  regression.loss = 4.0;
  regression.mae = 1.5;
  regression.rmse = 2.0;
  regression.r2 = 0.0;  // an explicit zero stays set
  out = ToProto(regression);
  EXPECT_FALSE(out.has_accuracy());
  EXPECT_EQ(out.mae(), 1.5);
  EXPECT_EQ(out.rmse(), 2.0);
  ASSERT_TRUE(out.has_r2());
  EXPECT_EQ(out.r2(), 0.0);
}

TEST(EngineToProtoTest, DiagnosisAndEveryVerdict) {
  Diagnosis diagnosis{Verdict::kDiverged, 42, "the loss exploded"};
  v1::Diagnosis out = ToProto(diagnosis);
  EXPECT_EQ(out.verdict(), v1::DIVERGED);
  EXPECT_EQ(out.step(), 42);
  EXPECT_EQ(out.message(), "the loss exploded");
  EXPECT_EQ(ToProto(Verdict::kNone), v1::VERDICT_UNSPECIFIED);
  EXPECT_EQ(ToProto(Verdict::kLearning), v1::LEARNING);
  EXPECT_EQ(ToProto(Verdict::kConverged), v1::CONVERGED);
  EXPECT_EQ(ToProto(Verdict::kStalled), v1::STALLED);
}

TEST(EngineToProtoTest, EpochSummaryWithAndWithoutValidation) {
  EpochSummary summary;
  summary.epoch = 3;
  summary.last_step = 12;
  summary.train.loss = 0.5;
  v1::EpochSummary out = ToProto(summary);
  EXPECT_EQ(out.epoch(), 3);
  EXPECT_EQ(out.last_step(), 12);
  EXPECT_EQ(out.train().loss(), 0.5);
  EXPECT_FALSE(out.has_validation());

  summary.validation = EvalMetrics{};
  summary.validation->loss = 0.75;
  out = ToProto(summary);
  ASSERT_TRUE(out.has_validation());
  EXPECT_EQ(out.validation().loss(), 0.75);
}

TEST(EngineToProtoTest, TimestampsRoundTripWithNanoseconds) {
  const absl::Time time = absl::FromUnixSeconds(1700000000) + absl::Nanoseconds(123456789);
  google::protobuf::Timestamp out = ToTimestamp(time);
  EXPECT_EQ(out.seconds(), 1700000000);
  EXPECT_EQ(out.nanos(), 123456789);
  EXPECT_EQ(FromTimestamp(out), time);
}

TEST(EngineToProtoTest, TimestampsBeforeTheEpochKeepNanosPositive) {
  const absl::Time time = absl::FromUnixSeconds(-10) + absl::Milliseconds(250);
  google::protobuf::Timestamp out = ToTimestamp(time);
  EXPECT_EQ(out.seconds(), -10);
  EXPECT_EQ(out.nanos(), 250'000'000);
  out = ToTimestamp(absl::FromUnixSeconds(0) - absl::Milliseconds(250));
  EXPECT_EQ(out.seconds(), -1);
  EXPECT_EQ(out.nanos(), 750'000'000);
}

TEST(EngineToProtoTest, TimesOutsideTheTimestampRangeAreClamped) {
  EXPECT_EQ(ToTimestamp(absl::InfiniteFuture()).seconds(), 253402300799);
  EXPECT_EQ(ToTimestamp(absl::InfinitePast()).seconds(), -62135596800);
  EXPECT_EQ(ToTimestamp(absl::InfinitePast()).nanos(), 0);
}

}  // namespace
}  // namespace descent::server
