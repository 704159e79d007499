// Training data from an uploaded table: the job's target column(s) become the targets (class
// labels mapped to indices, their names kept), the other (or the listed) numeric columns the
// features. Errors are INVALID_ARGUMENT naming the JobSpec field ("spec.dataset.targets[0]")
// and, for a cell, its line and column in the uploaded file.
#ifndef DESCENT_SERVER_DATASETS_TABLE_DATASET_H_
#define DESCENT_SERVER_DATASETS_TABLE_DATASET_H_

#include "absl/status/statusor.h"
#include "descent/v1/training.pb.h"
#include "engine/dataset.h"
#include "server/datasets/csv_parser.h"

namespace descent::server {

// `source` supplies targets and features (see DatasetSource in training.proto), `loss` how
// targets are read: MEAN_SQUARED_ERROR numbers; CATEGORICAL_CROSS_ENTROPY one column whose
// sorted distinct values are the classes; BINARY_CROSS_ENTROPY columns of exactly two
// values. INVALID_ARGUMENT for no or unknown or repeated target or feature columns, a text
// column used as a feature or a regression target, a label column with one class only, and
// an unset loss.
absl::StatusOr<Dataset> TableToDataset(const CsvTable& table, const v1::DatasetSource& source,
                                       v1::Loss loss);

}  // namespace descent::server

#endif  // DESCENT_SERVER_DATASETS_TABLE_DATASET_H_
