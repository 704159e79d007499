// A SUCCEEDED job's model: what the job manager keeps (and the store encodes) for
// ExportModel and Predict.
#ifndef DESCENT_SERVER_CONVERSION_TRAINED_MODEL_H_
#define DESCENT_SERVER_CONVERSION_TRAINED_MODEL_H_

#include <string>
#include <vector>

#include "descent/v1/training.pb.h"
#include "engine/activation.h"
#include "engine/network.h"
#include "engine/train_spec.h"

namespace descent::server {

struct TrainedModel {
  std::string job_id;
  v1::JobSpec spec;
  int inputs = 0;
  std::vector<LayerParameters> parameters;
  std::vector<Activation> activations;  // per layer, hidden then output (identity)
  LossSpec loss;
  std::vector<std::string> feature_names;
  std::vector<std::string> class_names;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_CONVERSION_TRAINED_MODEL_H_
