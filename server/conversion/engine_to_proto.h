// Engine results as wire messages: evaluation metrics, the loss diagnosis, epoch summaries
// (and back, for stored ones) and times. Pure functions; the request direction (proto -> engine) lives in
// spec_conversion.h, where validation happens.
#ifndef DESCENT_SERVER_CONVERSION_ENGINE_TO_PROTO_H_
#define DESCENT_SERVER_CONVERSION_ENGINE_TO_PROTO_H_

#include "absl/time/time.h"
#include "descent/v1/training.pb.h"
#include "engine/diagnosis.h"
#include "engine/trainer.h"
#include "google/protobuf/timestamp.pb.h"

namespace descent::server {

// Optional metrics stay unset on the wire when the engine left them empty.
v1::Metrics ToProto(const EvalMetrics& metrics);
v1::Verdict ToProto(Verdict verdict);
v1::Diagnosis ToProto(const Diagnosis& diagnosis);
// `validation` is set only when the engine validated.
v1::EpochSummary ToProto(const EpochSummary& summary);
// Back, exactly (every field is a double or an integer on both sides), for the epoch
// summaries a resumed job's trainer needs from the store.
EpochSummary FromProto(const v1::EpochSummary& summary);

// Nanosecond precision; times outside Timestamp's range (years 1..9999) are clamped to it.
google::protobuf::Timestamp ToTimestamp(absl::Time time);
absl::Time FromTimestamp(const google::protobuf::Timestamp& timestamp);

}  // namespace descent::server

#endif  // DESCENT_SERVER_CONVERSION_ENGINE_TO_PROTO_H_
