// ONNX exports through the real binaries: for every hidden activation and every loss, on
// builtin data and on uploaded tables with and without standardisation, `descent export
// --format onnx` writes a file that ONNX's own checker accepts (full_check) and that OpenCV's
// dnn module runs to the outputs of the service's Predict on the same rows, within 1e-5
// (tests/integration/onnx_check.py, on Debian's python3-onnx and python3-opencv).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/descent_client.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/integration/cli_runner.h"
#include "tests/integration/descentd_process.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace descent::integration {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kCliTimeout = absl::Seconds(300);

struct OnnxCase {
  std::string activation;  // the hidden layers' (v1::Activation name)
  std::string loss;        // v1::Loss name
  // A builtin dataset's name, or an uploaded table in tests/data (a ".csv" name) with its
  // target column.
  std::string data;
  std::string target;
  bool standardize = false;
};

std::string CaseName(const ::testing::TestParamInfo<OnnxCase>& info) {
  std::string data = info.param.data;
  absl::StrReplaceAll({{".csv", ""}}, &data);
  return absl::StrCat(info.param.activation, "_", info.param.loss, "_", data,
                      info.param.standardize ? "_standardized" : "");
}

bool Uploaded(const OnnxCase& c) { return absl::EndsWith(c.data, ".csv"); }

std::string Table(const std::string& file) {
  return absl::StrCat(DESCENT_SOURCE_DIR, "/tests/data/", file);
}

// Two hidden layers of the case's activation (LEAKY_RELU with a slope other than the
// default, so the file must carry it), two epochs.
std::string JobSpec(const OnnxCase& c, const std::string& dataset_name) {
  const std::string layer =
      c.activation == "LEAKY_RELU"
          ? R"({"units": 8, "activation": "LEAKY_RELU", "negativeSlope": 0.2})"
          : absl::StrCat(R"({"units": 8, "activation": ")", c.activation, R"("})");
  const std::string dataset =
      Uploaded(c)
          ? absl::StrCat(R"({"name": ")", dataset_name, R"(", "targets": [")", c.target,
                         R"("], "standardize": )", c.standardize ? "true" : "false", "}")
          : absl::StrCat(R"({"builtin": {"name": ")", c.data, R"(", "samples": 256, "seed": 7}})");
  return absl::StrCat(R"({"name": "onnx", "dataset": )", dataset,
                      R"(, "model": {"hiddenLayers": [)", layer, ", ", layer, R"(]}, "loss": ")",
                      c.loss, R"(", "optimizer": {"adam": {"learningRate": 0.01}},)",
                      R"( "training": {"epochs": 2, "batchSize": 32, "seed": 3}})");
}

// Rows to run the model on, in the model's feature order: an uploaded table's own raw rows
// (the file must fold standardisation in), or random rows around the builtin data's scale.
v1::Matrix Rows(const OnnxCase& c, const v1::ExportModelResponse& model) {
  v1::Matrix rows;
  rows.set_cols(model.inputs());
  if (Uploaded(c)) {
    std::vector<std::string> lines =
        absl::StrSplit(testing::ReadWholeFile(Table(c.data)), '\n', absl::SkipEmpty());
    const std::vector<std::string> header = absl::StrSplit(lines[0], ',');
    std::map<std::string, int> column;
    for (int i = 0; i < static_cast<int>(header.size()); ++i) column[header[i]] = i;
    for (size_t line = 1; line < lines.size() && line <= 40; ++line) {
      const std::vector<std::string> fields = absl::StrSplit(lines[line], ',');
      for (const std::string& feature : model.feature_names()) {
        rows.add_values(std::stof(fields.at(column.at(feature))));
      }
      rows.set_rows(rows.rows() + 1);
    }
    return rows;
  }
  std::mt19937 random(11);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  rows.set_rows(32);
  for (int i = 0; i < rows.rows() * rows.cols(); ++i) rows.add_values(normal(random));
  return rows;
}

std::string Csv(const v1::Matrix& matrix) {
  std::string csv;
  for (int r = 0; r < matrix.rows(); ++r) {
    for (int c = 0; c < matrix.cols(); ++c) {
      absl::StrAppendFormat(&csv, "%s%.9g", c == 0 ? "" : ",",
                            matrix.values(r * matrix.cols() + c));
    }
    csv += "\n";
  }
  return csv;
}

class OnnxExportTest : public SharedDescentdTest, public ::testing::WithParamInterface<OnnxCase> {};

TEST_P(OnnxExportTest, TheCheckerAcceptsTheFileAndOpenCvComputesWhatPredictDoes) {
  const OnnxCase& c = GetParam();
  const std::string address = server_->address();
  const std::string name = absl::StrCat("onnx-", absl::AsciiStrToLower(c.loss));
  if (Uploaded(c)) {
    testing::ProcessResult upload =
        RunCli(address, {"upload", Table(c.data), "--name", name}, kCliTimeout);
    ASSERT_EQ(upload.exit_code, 0) << upload.err;
  }
  testing::ProcessResult submit = RunCli(
      address, {"-o", "json", "submit", WriteTempFile("onnx.json", JobSpec(c, name))}, kCliTimeout);
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  v1::Job job;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(submit.out, &job).ok()) << submit.out;
  // Two epochs say little about convergence: the verdict does not matter here.
  testing::ProcessResult watch =
      RunCli(address, {"watch", job.id(), "--fail-on", "none"}, kCliTimeout);
  ASSERT_EQ(watch.exit_code, 0) << watch.err << watch.out;

  const std::string onnx_file = WriteTempFile("model.onnx", "");
  testing::ProcessResult exported =
      RunCli(address, {"export", job.id(), "--format", "onnx", "--output", onnx_file}, kCliTimeout);
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_THAT(exported.out, HasSubstr(onnx_file));

  std::unique_ptr<client::DescentClient> client = server_->NewClient();
  absl::StatusOr<v1::ExportModelResponse> model = client->ExportModel(job.id());
  ASSERT_OK(model);
  const v1::Matrix rows = Rows(c, *model);
  absl::StatusOr<v1::PredictResponse> predicted = client->Predict(job.id(), rows, {});
  ASSERT_OK(predicted);

  testing::ProcessResult check =
      testing::RunProcess({DESCENT_SYSTEM_PYTHON,
                           absl::StrCat(DESCENT_SOURCE_DIR, "/tests/integration/onnx_check.py"),
                           onnx_file, WriteTempFile("rows.csv", Csv(rows)),
                           WriteTempFile("expected.csv", Csv(predicted->outputs()))},
                          kCliTimeout)
          .value_or(testing::ProcessResult{});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  // The file names what it holds.
  EXPECT_THAT(check.out,
              HasSubstr(c.loss == "MEAN_SQUARED_ERROR" ? R"("output": "values")"
                                                       : R"("output": "probabilities")"));
  EXPECT_THAT(check.out, HasSubstr(absl::StrCat(R"("job_id": ")", job.id(), R"(")")));
  std::cout << check.out;
}

std::vector<OnnxCase> AllCases() {
  std::vector<OnnxCase> cases;
  const std::vector<std::pair<std::string, std::string>> builtin = {
      {"MEAN_SQUARED_ERROR", "house_prices"},
      {"BINARY_CROSS_ENTROPY", "spam"},
      {"CATEGORICAL_CROSS_ENTROPY", "cat_dog_bird"}};
  for (const std::string activation :
       {"RELU", "LEAKY_RELU", "SIGMOID", "TANH", "GELU", "IDENTITY"}) {
    for (const auto& [loss, data] : builtin) cases.push_back({activation, loss, data, "", false});
  }
  // Uploaded tables, raw and standardised (folded into the first layer).
  for (bool standardize : {false, true}) {
    const std::string activation = standardize ? "GELU" : "LEAKY_RELU";
    cases.push_back({activation, "MEAN_SQUARED_ERROR", "diabetes.csv", "progression", standardize});
    cases.push_back(
        {activation, "BINARY_CROSS_ENTROPY", "breast_cancer.csv", "diagnosis", standardize});
    cases.push_back({activation, "CATEGORICAL_CROSS_ENTROPY", "iris.csv", "species", standardize});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(EveryActivationAndLoss, OnnxExportTest, ::testing::ValuesIn(AllCases()),
                         CaseName);

class ModelFormatTest : public SharedDescentdTest {};

// The export RPC refuses a format it does not know, whatever the job.
TEST_F(ModelFormatTest, AnUnknownModelFormatIsInvalidArgument) {
  std::unique_ptr<client::DescentClient> client = server_->NewClient();
  absl::StatusOr<v1::ExportModelResponse> model =
      client->ExportModel("job-000000000000", static_cast<v1::ModelFormat>(7));
  EXPECT_THAT(model.status(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("format")));
}

}  // namespace
}  // namespace descent::integration
