// Feature standardisation (sklearn's StandardScaler): x' = (x - mean) / scale per feature,
// fitted on the rows the trainer trains on, never on its validation tail, so the held-out
// numbers stay honest. The statistics travel in the job's spec (DatasetSource.resolved),
// which is how Predict applies the same transform and ExportModel folds it into the model.
#ifndef DESCENT_SERVER_DATASETS_STANDARDIZATION_H_
#define DESCENT_SERVER_DATASETS_STANDARDIZATION_H_

#include <vector>

#include "absl/status/statusor.h"
#include "descent/v1/training.pb.h"
#include "engine/matrix.h"
#include "engine/network.h"
#include "engine/train_spec.h"

namespace descent::server {

struct Standardization {
  std::vector<float> mean;
  std::vector<float> scale;  // population standard deviation; 1 for a constant feature
};

// The row indices Trainer::Create trains on for these options (the head of the seeded
// split permutation; all rows without a validation fraction).
std::vector<int> TrainingRows(const TrainingOptions& training, int samples);

// Fits on the given rows of `features` (in double, so large offsets do not lose digits).
Standardization FitStandardization(const Matrix& features, const std::vector<int>& rows);

// x' = (x - mean) / scale in place. `x` must have one column per feature (CHECK).
void ApplyStandardization(const Standardization& standardization, Matrix* x);

// The statistics recorded in a job's resolved dataset; nullopt-like empty result when the
// job was not standardised. INTERNAL when they do not have `features` entries each (a job
// record that does not fit its model is a server bug, not the client's).
absl::StatusOr<Standardization> RecordedStandardization(const v1::ResolvedDataset& resolved,
                                                        int features);

// The first layer rewritten to take raw inputs: W' = W / scale (per input column),
// b' = b - W' mean. The other layers are unchanged.
void FoldIntoFirstLayer(const Standardization& standardization,
                        std::vector<LayerParameters>* parameters);

}  // namespace descent::server

#endif  // DESCENT_SERVER_DATASETS_STANDARDIZATION_H_
