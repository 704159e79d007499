// The proto <-> engine vocabulary: the wire's enums, matrices, results and times as engine
// types and back. Every other conversion file builds on these, so each word is translated in
// one place, by one rule:
//   - engine -> wire is total: an engine value with no wire name is a bug (CHECK-fails);
//   - wire -> engine refuses what the engine has no word for (a value a newer client sent,
//     or a number made up) with INVALID_ARGUMENT naming the field path and the valid choices.
#ifndef DESCENT_SERVER_CONVERSION_ENGINE_TO_PROTO_H_
#define DESCENT_SERVER_CONVERSION_ENGINE_TO_PROTO_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "descent/v1/training.pb.h"
#include "engine/activation.h"
#include "engine/diagnosis.h"
#include "engine/loss.h"
#include "engine/lr_finder.h"
#include "engine/matrix.h"
#include "engine/train_spec.h"
#include "engine/trainer.h"
#include "google/protobuf/repeated_field.h"
#include "google/protobuf/timestamp.pb.h"

namespace descent::server {

// ---- Enums.
v1::Activation ToProto(Activation activation);
// What the loss applies to the logits, as the export describes the output layer.
v1::Activation ToProto(OutputActivation activation);
v1::Loss ToProto(LossKind kind);
v1::Verdict ToProto(Verdict verdict);

// A hidden layer's activation; unset is RELU. SOFTMAX is refused: it belongs to the output
// layer, which the loss implies.
absl::StatusOr<Activation> ToHiddenActivation(v1::Activation activation, absl::string_view path);
// Unset is refused too: the loss is the one choice with no default.
absl::StatusOr<LossKind> ToLossKind(v1::Loss loss, absl::string_view path);
// Unset is PYTORCH_DEFAULT.
absl::StatusOr<Initialization> ToInitialization(v1::Initialization initialization,
                                                absl::string_view path);
// Unset is CONSTANT.
absl::StatusOr<ScheduleKind> ToScheduleKind(v1::Schedule kind, absl::string_view path);

// ---- Matrices.
// A wire matrix as an engine matrix: at least 1 x 1 and rows * cols values, or
// INVALID_ARGUMENT naming `path`.rows, .cols or .values. Values are not checked (CheckFinite).
absl::StatusOr<Matrix> ToMatrix(const v1::Matrix& matrix, absl::string_view path);
// INVALID_ARGUMENT naming `path`[i] (e.g. "inputs.values[3]") for the first value that is
// not finite.
absl::Status CheckFinite(const google::protobuf::RepeatedField<float>& values,
                         absl::string_view path);

// ---- Results.
// Optional metrics stay unset on the wire when the engine left them empty.
v1::Metrics ToProto(const EvalMetrics& metrics);
v1::Diagnosis ToProto(const Diagnosis& diagnosis);
// `validation` is set only when the engine validated.
v1::EpochSummary ToProto(const EpochSummary& summary);
v1::SuggestionRule ToProto(LrRule rule);
// A range test's points, its suggestion and the other candidates.
v1::LrFindResult ToProto(const LrFindRun& run, const LrSuggestion& suggestion);
// Back, exactly (every field is a double or an integer on both sides), for the epoch
// summaries a resumed job's trainer needs from the store.
EpochSummary FromProto(const v1::EpochSummary& summary);

// ---- Times. Nanosecond precision; times outside Timestamp's range (years 1..9999) are
// clamped to it.
google::protobuf::Timestamp ToTimestamp(absl::Time time);
absl::Time FromTimestamp(const google::protobuf::Timestamp& timestamp);

}  // namespace descent::server

#endif  // DESCENT_SERVER_CONVERSION_ENGINE_TO_PROTO_H_
