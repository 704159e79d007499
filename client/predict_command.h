// `descent predict JOB --input FILE`: runs a succeeded job's model on rows from a CSV or JSON
// file (or standard input, "-"). Exit codes as in commands.h.
#ifndef DESCENT_CLIENT_PREDICT_COMMAND_H_
#define DESCENT_CLIENT_PREDICT_COMMAND_H_

#include <string>

#include "client/commands.h"

namespace descent::client {

struct PredictOptions {
  std::string input;   // a path, or "-" for standard input
  bool header = true;  // CSV: the first line names the columns (--no-header turns it off)
};

// Reads the rows (prediction_input.h) and sends them with their column names, so the server
// matches them to the model's features by name and refuses unknown, missing or repeated
// columns. The job's target columns (an uploaded dataset's) are kept for the reader, not
// sent. Prints, in text: for CSV input the records back with the prediction columns
// appended (kPredictCsvHelp), for JSON input a table (FormatPredictions); in -o json the
// PredictResponse as one line.
int RunPredict(const CommandContext& ctx, const std::string& job_id, const PredictOptions& options);

// What `descent predict --help` says about the input and the output.
extern const char kPredictHelp[];

}  // namespace descent::client

#endif  // DESCENT_CLIENT_PREDICT_COMMAND_H_
