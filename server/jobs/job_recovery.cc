#include "server/jobs/job_recovery.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "server/conversion/engine_to_proto.h"
#include "server/jobs/job_runner.h"
#include "server/jobs/store_conversion.h"

namespace descent::server {
namespace {

// The submission that prepares a stored job again: its spec as echoed, with an uploaded
// dataset named by name pinned to the id it resolved to (a newer upload under the same
// name must not change a job that was already accepted).
v1::SubmitJobRequest Resubmission(const v1::JobSpec& spec, const std::string& request_id) {
  v1::SubmitJobRequest request;
  *request.mutable_spec() = spec;
  request.set_request_id(request_id);
  v1::DatasetSource& dataset = *request.mutable_spec()->mutable_dataset();
  if (dataset.has_name() && !dataset.resolved().id().empty()) {
    dataset.set_id(dataset.resolved().id());
  }
  return request;
}

}  // namespace

absl::StatusOr<std::shared_ptr<JobRecord>> LoadUnfinishedJob(JobStore& store, int64_t sequence,
                                                            const PrepareJobFn& prepare,
                                                            JobEventListener* listener,
                                                            int64_t lease_token) {
  ASSIGN_OR_RETURN(const StoredJob stored, store.ReadJob(sequence));
  const bool running = stored.job.state() == v1::RUNNING;
  std::optional<TrainerCheckpoint> checkpoint;
  std::string problem;
  if (running && stored.checkpoint) {
    absl::StatusOr<TrainerCheckpoint> decoded = FromStored(*stored.checkpoint);
    if (decoded.ok()) {
      checkpoint = *std::move(decoded);
      ASSIGN_OR_RETURN(std::vector<v1::EpochSummary> epochs,
                       store.ReadEpochs(sequence, checkpoint->epoch));
      for (const v1::EpochSummary& epoch : epochs) checkpoint->epochs.push_back(FromProto(epoch));
    } else {
      problem = absl::StrCat("cannot read its checkpoint: ", decoded.status().message());
    }
  }
  // A running job continues from its checkpoint (step 0 without one) and drops what it
  // recorded after it; with an unreadable one it fails below and keeps its history.
  int64_t position = 0;
  if (checkpoint) {
    position = checkpoint->step;
  } else if (!problem.empty()) {
    position = stored.stored_steps;
  }
  if (running && problem.empty()) {
    RETURN_IF_ERROR(store.TruncateAfter(sequence, position, checkpoint ? checkpoint->epoch : 0,
                                        lease_token));
  }
  ASSIGN_OR_RETURN(LossHistory window, ReadStoredHistory(store, sequence, position, 0));
  std::optional<double> last_loss;
  if (position > 0) {
    ASSIGN_OR_RETURN(LossHistory last, ReadStoredHistory(store, sequence, position - 1, 1));
    if (last.steps() == position) last_loss = last.loss(position);
  }
  std::shared_ptr<JobRecord> record =
      JobRecord::FromStore(stored, std::move(window), last_loss, &store);
  record->SetLease(lease_token);
  absl::StatusOr<PreparedJob> prepared =
      problem.empty() ? prepare(Resubmission(stored.spec, stored.job.request_id()))
                      : absl::StatusOr<PreparedJob>(absl::FailedPreconditionError(problem));
  if (!prepared.ok()) {
    // Recovered and failed in this process: the listener hears of both, so its counts
    // of recovered and finished jobs still add up.
    if (listener != nullptr) listener->OnRecovered(record->labels(), stored.job.state());
    record->Finish(JobOutcome::Failed(absl::StrCat("cannot continue after the restart: ",
                                                   prepared.status().message())),
                   absl::Now(), listener);
    return record;
  }
  record->SetTrainingInput(TrainingInput{
      std::move(prepared->train_spec), std::move(prepared->dataset),
      std::move(prepared->initial_parameters), running, std::move(checkpoint),
      std::move(prepared->lr_find)}, std::move(prepared->epoch_gate));
  return record;
}

}  // namespace descent::server
