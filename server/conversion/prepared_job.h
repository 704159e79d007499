// A validated submission: what PrepareJob (spec_conversion.h) makes of a SubmitJobRequest
// and what the job manager queues, records and trains.
#ifndef DESCENT_SERVER_CONVERSION_PREPARED_JOB_H_
#define DESCENT_SERVER_CONVERSION_PREPARED_JOB_H_

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
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_CONVERSION_PREPARED_JOB_H_
