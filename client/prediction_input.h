// The rows `descent predict` sends, read from CSV or JSON text: a PredictRequest's inputs
// plus the column names when the input names its columns, so the server matches them to
// the model's features (PredictRequest.column_names; the matching itself is the server's).
//   CSV: the first line names the columns, unless `header` is off (--no-header): then every
//        column is a feature, in the model's order. Quoting and CRLF as in base/csv.h.
//   JSON: [[1, 2], ...] (in the model's order), [{"x": 1, "y": 2}, ...] (by name), either
//        wrapped as {"rows": [...]}, or a Matrix {"rows": N, "cols": D, "values": [...]}.
// The format follows the first non-blank character ('[' or '{' is JSON). Errors are
// INVALID_ARGUMENT naming `source`, the row and the column, and what to fix.
#ifndef DESCENT_CLIENT_PREDICTION_INPUT_H_
#define DESCENT_CLIENT_PREDICTION_INPUT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/csv.h"
#include "descent/v1/training.pb.h"

namespace descent::client {

struct PredictionInputOptions {
  bool header = true;  // CSV: the first line names the columns
  // Named columns that are read but not sent, e.g. the job's target columns: predicting on
  // the training table itself keeps its labels next to the predictions. Their cells may
  // hold anything (text class labels).
  std::vector<std::string> kept_columns;
};

struct PredictionInput {
  bool csv = false;
  v1::Matrix inputs;
  std::vector<std::string> column_names;  // empty: the columns are in the model's order
  // CSV only: the records as read (the header first when there is one), to print back.
  std::vector<base::CsvRecord> records;
  bool has_header = false;
};

absl::StatusOr<PredictionInput> ParsePredictionInput(const std::string& text,
                                                     const std::string& source,
                                                     const PredictionInputOptions& options);

}  // namespace descent::client

#endif  // DESCENT_CLIENT_PREDICTION_INPUT_H_
