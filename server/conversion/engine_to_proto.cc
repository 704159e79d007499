#include "server/conversion/engine_to_proto.h"

#include <algorithm>
#include <cstdint>

namespace descent::server {
namespace {

// google.protobuf.Timestamp's documented range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

}  // namespace

v1::Metrics ToProto(const EvalMetrics& metrics) {
  v1::Metrics out;
  out.set_loss(metrics.loss);
  if (metrics.accuracy) out.set_accuracy(*metrics.accuracy);
  if (metrics.mae) out.set_mae(*metrics.mae);
  if (metrics.rmse) out.set_rmse(*metrics.rmse);
  if (metrics.r2) out.set_r2(*metrics.r2);
  return out;
}

v1::Verdict ToProto(Verdict verdict) {
  switch (verdict) {
    case Verdict::kNone:
      return v1::VERDICT_UNSPECIFIED;
    case Verdict::kLearning:
      return v1::LEARNING;
    case Verdict::kConverged:
      return v1::CONVERGED;
    case Verdict::kStalled:
      return v1::STALLED;
    case Verdict::kDiverged:
      return v1::DIVERGED;
  }
  return v1::VERDICT_UNSPECIFIED;
}

v1::Diagnosis ToProto(const Diagnosis& diagnosis) {
  v1::Diagnosis out;
  out.set_verdict(ToProto(diagnosis.verdict));
  out.set_step(diagnosis.step);
  out.set_message(diagnosis.message);
  return out;
}

v1::EpochSummary ToProto(const EpochSummary& summary) {
  v1::EpochSummary out;
  out.set_epoch(summary.epoch);
  out.set_last_step(summary.last_step);
  *out.mutable_train() = ToProto(summary.train);
  if (summary.validation) *out.mutable_validation() = ToProto(*summary.validation);
  return out;
}

namespace {

EvalMetrics FromProto(const v1::Metrics& metrics) {
  EvalMetrics out;
  out.loss = metrics.loss();
  if (metrics.has_accuracy()) out.accuracy = metrics.accuracy();
  if (metrics.has_mae()) out.mae = metrics.mae();
  if (metrics.has_rmse()) out.rmse = metrics.rmse();
  if (metrics.has_r2()) out.r2 = metrics.r2();
  return out;
}

}  // namespace

EpochSummary FromProto(const v1::EpochSummary& summary) {
  EpochSummary out;
  out.epoch = summary.epoch();
  out.last_step = summary.last_step();
  out.train = FromProto(summary.train());
  if (summary.has_validation()) out.validation = FromProto(summary.validation());
  return out;
}

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  const absl::Time min_time = absl::FromUnixSeconds(kMinTimestampSeconds);
  const absl::Time max_time = absl::FromUnixSeconds(kMaxTimestampSeconds);
  time = std::clamp(time, min_time, max_time);
  const int64_t seconds = absl::ToUnixSeconds(time);  // rounds toward negative infinity
  const int64_t nanos = absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds));
  google::protobuf::Timestamp out;
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(nanos));
  return out;
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

}  // namespace descent::server
