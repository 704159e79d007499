// Byte encodings of what the job store keeps opaque: a Trainer checkpoint (parameters,
// optimizer state, position, epoch summaries, diagnosis state) and a SUCCEEDED job's model.
// Little-endian fixed-width fields behind a magic and a version, so a blob from another
// format is rejected instead of misread. Floats and doubles round-trip bit-exactly, which a
// resumed run needs to continue the same trajectory.
#ifndef DESCENT_SERVER_STORE_CHECKPOINT_CODEC_H_
#define DESCENT_SERVER_STORE_CHECKPOINT_CODEC_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/trainer.h"
#include "server/conversion/trained_model.h"

namespace descent::server {

// Leaves out checkpoint.epochs: the store keeps every epoch summary as an event already,
// and a checkpoint carrying them all would grow with every epoch (a long run of short
// epochs would write megabytes per checkpoint).
std::string EncodeCheckpoint(const TrainerCheckpoint& checkpoint);
// DATA_LOSS when `bytes` is not a complete checkpoint of this format. `epochs` comes back
// empty: the caller fills in the job's first `epoch` summaries before Trainer::Restore.
absl::StatusOr<TrainerCheckpoint> DecodeCheckpoint(std::string_view bytes);

// Everything of a TrainedModel but job_id and spec, which the job row holds.
std::string EncodeModel(const TrainedModel& model);
// DATA_LOSS when `bytes` is not a complete model of this format. job_id and spec are left
// empty for the caller to fill in.
absl::StatusOr<TrainedModel> DecodeModel(std::string_view bytes);

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_CHECKPOINT_CODEC_H_
