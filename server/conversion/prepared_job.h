// A validated submission: what PrepareJob (spec_conversion.h) makes of a SubmitJobRequest
// and what the job manager queues, records and trains.
#ifndef DESCENT_SERVER_CONVERSION_PREPARED_JOB_H_
#define DESCENT_SERVER_CONVERSION_PREPARED_JOB_H_

#include <optional>
#include <string>
#include <vector>

#include "descent/v1/training.pb.h"
#include "engine/dataset.h"
#include "engine/network.h"
#include "engine/train_spec.h"

namespace descent::server {

struct PreparedJob {
  v1::JobSpec spec;  // as submitted; echoed in Job.spec
  TrainSpec train_spec;
  Dataset dataset;
  std::optional<std::vector<LayerParameters>> initial_parameters;
  std::string request_id;  // idempotency key, may be empty
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_CONVERSION_PREPARED_JOB_H_
