// A validated submission: what PrepareJob (spec_conversion.h) makes of a SubmitJobRequest
// and what the job manager queues, records and trains.
#ifndef DESCENT_SERVER_CONVERSION_PREPARED_JOB_H_
#define DESCENT_SERVER_CONVERSION_PREPARED_JOB_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "descent/v1/training.pb.h"
#include "engine/dataset.h"
#include "engine/lr_finder.h"
#include "engine/network.h"
#include "engine/train_spec.h"

namespace descent::server {

struct PreparedJob {
  v1::JobSpec spec;  // as submitted; echoed in Job.spec
  // For a range test (spec.lr_find), already LrFindTrainSpec's: the range's rates and epochs.
  TrainSpec train_spec;
  std::optional<LrFindSpec> lr_find;  // set for a range test
  Dataset dataset;
  std::optional<std::vector<LayerParameters>> initial_parameters;
  std::string request_id;  // idempotency key, may be empty
  // Optional: called on the training thread as each epoch ends (once it is recorded) with its
  // summary; false cancels the job before its next step, as CancelJob would. A sweep stops a
  // trial with it at the epoch its rule decides on, not whenever a watcher gets there. Kept
  // in memory only: a job recovered after a restart has the one its preparation gives it
  // again (JobManagerOptions::prepare); it must be cheap and must not call into the job
  // manager.
  std::function<bool(const v1::EpochSummary&)> epoch_gate;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_CONVERSION_PREPARED_JOB_H_
