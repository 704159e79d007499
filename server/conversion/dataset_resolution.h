// A job's training data, from what spec.dataset names: a builtin generator (run here, so a
// spec that does not fit its data fails at submit), an inline matrix pair, or an uploaded
// table by id or name. Also how many outputs the network needs for that data and the loss.
#ifndef DESCENT_SERVER_CONVERSION_DATASET_RESOLUTION_H_
#define DESCENT_SERVER_CONVERSION_DATASET_RESOLUTION_H_

#include <string>

#include "absl/status/statusor.h"
#include "descent/v1/training.pb.h"
#include "engine/dataset.h"
#include "engine/train_spec.h"

namespace descent::server {

class DatasetStore;

struct ResolvedData {
  Dataset dataset;  // checked by the engine's ValidateDataset; not yet standardised
  int outputs = 0;  // the network's output units
  std::string id;   // the uploaded dataset's id; empty for builtin and inline data
};

// `loss` is spec.loss already converted. Uploaded datasets are looked up in `datasets` (null:
// FAILED_PRECONDITION naming spec.dataset.id / .name). NOT_FOUND for an unknown upload;
// INVALID_ARGUMENT naming the spec.dataset field (or spec.loss, for a builtin dataset the
// loss does not fit) otherwise.
absl::StatusOr<ResolvedData> ResolveDataset(const v1::JobSpec& spec, const LossSpec& loss,
                                            const DatasetStore* datasets);

}  // namespace descent::server

#endif  // DESCENT_SERVER_CONVERSION_DATASET_RESOLUTION_H_
