// How a Predict request's columns map onto a model's inputs: by name when the request names
// its columns (PredictRequest.column_names), else in the model's feature order. The one place
// that matches names, so every gRPC client gets the same rules.
#ifndef DESCENT_SERVER_CONVERSION_PREDICT_COLUMNS_H_
#define DESCENT_SERVER_CONVERSION_PREDICT_COLUMNS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/matrix.h"

namespace descent::server {

// For each of the model's `features`, the index of the request column that holds it.
// `column_names` empty: the columns are the features in order (the count must match).
// Otherwise every feature must be named exactly once and no other name may appear.
// INVALID_ARGUMENT naming "inputs.cols" or "column_names", listing every unknown, missing and
// repeated column together with the model's features, for anything else; also when names are
// given to a model that has none (inline data without feature_names).
absl::StatusOr<std::vector<int>> MatchColumns(absl::Span<const std::string> column_names,
                                              int columns, absl::Span<const std::string> features,
                                              int model_inputs);

// The columns of `x` picked in `order` (from MatchColumns): row r of the result holds
// x(r, order[0]), x(r, order[1]), ...
Matrix ReorderColumns(const Matrix& x, absl::Span<const int> order);

}  // namespace descent::server

#endif  // DESCENT_SERVER_CONVERSION_PREDICT_COLUMNS_H_
