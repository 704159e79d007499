// The job manager's types in the job store's own forms and back: a trainer checkpoint and a
// trained model as descent.store.v1 messages (proto/descent/store/v1/store.proto), and a
// page of stored history as a LossHistory. The store knows nothing of the engine or of the
// job manager; this is the one place that translates.
#ifndef DESCENT_SERVER_JOBS_STORE_CONVERSION_H_
#define DESCENT_SERVER_JOBS_STORE_CONVERSION_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "descent/store/v1/store.pb.h"
#include "engine/trainer.h"
#include "server/conversion/trained_model.h"
#include "server/jobs/loss_history.h"
#include "server/store/job_store.h"

namespace descent::server {

// Every field bit for bit but checkpoint.epochs: the store keeps each epoch summary as an
// event already, and a checkpoint carrying them all would grow with every epoch.
store::v1::Checkpoint ToStored(const TrainerCheckpoint& checkpoint);
// DATA_LOSS when the layers' shapes and values disagree. `epochs` comes back empty: the
// caller fills in the job's first `epoch` summaries before Trainer::Restore.
absl::StatusOr<TrainerCheckpoint> FromStored(const store::v1::Checkpoint& stored);

// Everything of a TrainedModel but job_id and spec, which the job row holds.
store::v1::Model ToStored(const TrainedModel& model);
// DATA_LOSS for inconsistent layers or an unknown activation or loss. job_id and spec are
// left empty for the caller to fill in.
absl::StatusOr<TrainedModel> FromStored(const store::v1::Model& stored);

// JobStore::ReadHistory as a LossHistory window: the same page and the same errors.
absl::StatusOr<LossHistory> ReadStoredHistory(const JobStore& store, int64_t sequence,
                                              int64_t after_step, int64_t max_steps);

}  // namespace descent::server

#endif  // DESCENT_SERVER_JOBS_STORE_CONVERSION_H_
