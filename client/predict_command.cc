#include "client/predict_command.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/csv.h"
#include "client/input_files.h"
#include "client/output.h"
#include "client/prediction_input.h"

namespace descent::client {
namespace {

// The names of the columns a CSV gets appended: the predicted class (its name when known)
// and its probability, or the predicted value(s), named after the job's targets when known.
std::vector<std::string> PredictionColumns(const v1::PredictResponse& response,
                                           const v1::Job& job) {
  const v1::Matrix& outputs = response.outputs();
  const auto& targets = job.spec().dataset().targets();
  const std::string single =
      targets.size() == 1 ? absl::StrCat("predicted_", targets[0]) : "prediction";
  if (response.classes_size() == outputs.rows() && outputs.rows() > 0) {
    return {single, "probability"};
  }
  if (outputs.cols() == 1) return {single};
  std::vector<std::string> names;
  for (int c = 0; c < outputs.cols(); ++c) {
    names.push_back(targets.size() == outputs.cols() ? absl::StrCat("predicted_", targets[c])
                                                     : absl::StrCat("prediction_", c + 1));
  }
  return names;
}

void PrintCsv(const CommandContext& ctx, const PredictionInput& input,
              const v1::PredictResponse& response, const v1::Job& job) {
  const v1::Matrix& outputs = response.outputs();
  const bool classifier = response.classes_size() == outputs.rows() && outputs.rows() > 0;
  const size_t first_row = input.has_header ? 1 : 0;
  if (input.has_header) {
    base::CsvRecord header = input.records.front();
    for (std::string& name : PredictionColumns(response, job)) header.push_back(std::move(name));
    *ctx.out << base::WriteCsvRecord(header) << "\n";
  }
  for (int r = 0; r < outputs.rows(); ++r) {
    base::CsvRecord row = input.records[first_row + r];
    const float* values = outputs.values().data() + static_cast<size_t>(r) * outputs.cols();
    if (classifier) {
      const int cls = response.classes(r);
      row.push_back(response.class_names_size() == outputs.rows() ? response.class_names(r)
                                                                  : absl::StrCat(cls));
      const float probability =
          outputs.cols() == 1 ? (cls == 1 ? values[0] : 1 - values[0]) : values[cls];
      row.push_back(absl::StrFormat("%.4f", probability));
    } else {
      for (int c = 0; c < outputs.cols(); ++c) row.push_back(absl::StrFormat("%.6g", values[c]));
    }
    *ctx.out << base::WriteCsvRecord(row) << "\n";
  }
}

}  // namespace

const char kPredictHelp[] =
    "Input (--input FILE, or - for standard input), CSV or JSON by its first character:\n"
    "  CSV   a header line names the columns; they are matched to the model's features by\n"
    "        name, in any order. Every feature needs a column; a column that is neither a\n"
    "        feature nor one of the job's target columns is refused, and so is a name used\n"
    "        twice. With --no-header the file has no header line and its columns are the\n"
    "        features in the model's order (`descent export JOB` lists feature_names).\n"
    "  JSON  [{\"feature\": 1.5, ...}, ...] matched by name like a CSV header, or\n"
    "        [[1.5, ...], ...] in the model's feature order; either may be wrapped as\n"
    "        {\"rows\": [...]}.\n"
    "Output:\n"
    "  text, CSV input   the input lines with columns appended: for a classifier\n"
    "                    predicted_<target> (the class name, or its index) and probability\n"
    "                    (of that class); for regression predicted_<target> (one per\n"
    "                    output; \"prediction\" when the target has no name)\n"
    "  text, JSON input  a table: ROW, the outputs (PROBABILITY or P(k) per class for\n"
    "                    classifiers, OUTPUT for regression), CLASS and NAME for classifiers\n"
    "  -o json           one line, a PredictResponse: outputs {rows, cols, values} holds the\n"
    "                    regression values or the class probabilities row by row; classes\n"
    "                    the predicted class index per row and classNames its name, for\n"
    "                    classifiers";

int RunPredict(const CommandContext& ctx, const std::string& job_id,
               const PredictOptions& options) {
  absl::StatusOr<std::string> text = ReadFile(options.input);
  if (!text.ok()) {
    *ctx.err << "descent: " << text.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<v1::Job> job = ctx.client->GetJob(job_id);
  if (!job.ok()) return ReportError(ctx, job.status());
  PredictionInputOptions parse;
  parse.header = options.header;
  parse.kept_columns.assign(job->spec().dataset().targets().begin(),
                            job->spec().dataset().targets().end());
  absl::StatusOr<PredictionInput> input =
      ParsePredictionInput(*text, InputName(options.input), parse);
  if (!input.ok()) {
    *ctx.err << "descent: " << input.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<v1::PredictResponse> response =
      ctx.client->Predict(job_id, input->inputs, input->column_names);
  if (!response.ok()) {
    if (response.status().code() != absl::StatusCode::kInvalidArgument) {
      return ReportError(ctx, response.status());
    }
    // The server judged the rows: say which input it means, and the flag that fits.
    const bool unnamed_model = absl::StrContains(response.status().message(), "no feature names");
    return ReportError(
        ctx, absl::InvalidArgumentError(absl::StrCat(
                 InputName(options.input), ": ", response.status().message(),
                 unnamed_model ? " (a CSV: drop its header line and pass --no-header; JSON: "
                                 "rows as lists)"
                               : "")));
  }
  if (ctx.format == OutputFormat::kJson) {
    *ctx.out << ToJson(*response) << "\n";
  } else if (input->csv) {
    PrintCsv(ctx, *input, *response, *job);
  } else {
    *ctx.out << FormatPredictions(*response);
  }
  *ctx.out << std::flush;
  return kExitOk;
}

}  // namespace descent::client
