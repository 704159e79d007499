// In-memory training data and the builtin generators. Every generator is deterministic in
// its seed (same name, samples, seed: identical bytes on every machine).
#ifndef DESCENT_ENGINE_DATASET_H_
#define DESCENT_ENGINE_DATASET_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/matrix.h"

namespace descent {

struct Dataset {
  Matrix features;  // [samples, features]
  // Regression: [samples, outputs]. Classification: [samples, 1] class indices (as floats)
  // or [samples, classes] probability / one-hot rows.
  Matrix targets;
  int num_classes = 0;  // 0 for regression; >= 2 for classification
  std::vector<std::string> feature_names;
  std::vector<std::string> class_names;  // empty, or num_classes names

  int samples() const { return features.rows(); }
};

// INVALID_ARGUMENT when features/targets are empty, have different row counts, or hold
// non-finite values ("dataset.inline.features.values[17] is NaN").
absl::Status ValidateDataset(const Dataset& dataset);

struct BuiltinOptions {
  int samples = 1000;
  uint64_t seed = 0;
  int classes = 0;   // blobs, spirals: number of classes (0 = generator default)
  int features = 0;  // blobs: feature count (0 = generator default)
  double noise = -1;  // < 0 = generator default
};

// Builtin generators:
//   house_prices  regression: 13 features (size, rooms, age, ...), price target in $100k
//   spam          two classes (0 ham, 1 spam): 10 message features
//   cat_dog_bird  three classes: 8 animal features (weight, ear length, wingspan, ...)
//   moons         two interleaving half circles, 2 features, 2 classes
//   spirals       K interleaved spiral arms, 2 features, K classes (default 3)
//   blobs         K Gaussian clusters, D features (default 3 classes, 2 features)
// NOT_FOUND naming the known generators for any other name; INVALID_ARGUMENT for samples < 2
// or > 1,000,000.
absl::StatusOr<Dataset> MakeBuiltinDataset(std::string_view name, const BuiltinOptions& options);

std::vector<std::string> BuiltinDatasetNames();

}  // namespace descent

#endif  // DESCENT_ENGINE_DATASET_H_
