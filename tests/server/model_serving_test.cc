// Serving a trained model: the export's layers and parameters, and Predict's outputs and
// classes against a naive reference of the same network.
#include "server/conversion/model_serving.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "engine/matrix.h"
#include "engine/network.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Not;

// A hand-built trained model: 2 inputs, one hidden layer of 2 (LEAKY_RELU 0.5), `outputs`
// outputs, with known parameters.
TrainedModel KnownModel(LossKind loss, int outputs) {
  TrainedModel model;
  model.job_id = "job-7";
  model.inputs = 2;
  model.spec.mutable_model()->add_hidden_layers()->set_negative_slope(0.5f);
  LayerParameters hidden{Matrix(2, 2, {1, -1, 0.5f, 2}), {0, -0.5f}};
  std::vector<float> w;
  std::vector<float> b;
  for (int o = 0; o < outputs; ++o) {
    w.push_back(0.25f * (o + 1));
    w.push_back(-0.5f * o + 0.75f);
    b.push_back(0.1f * o - 0.2f);
  }
  model.parameters = {std::move(hidden), LayerParameters{Matrix(outputs, 2, w), b}};
  model.activations = {Activation::kLeakyRelu, Activation::kIdentity};
  model.loss.kind = loss;
  model.feature_names = {"f0", "f1"};
  return model;
}

// The naive reference of the model above: logits for one input row.
std::vector<double> ReferenceLogits(const TrainedModel& model, const std::vector<float>& x) {
  std::vector<double> h;
  const LayerParameters& l0 = model.parameters[0];
  for (int o = 0; o < l0.weight.rows(); ++o) {
    double z = l0.bias[o];
    for (int i = 0; i < l0.weight.cols(); ++i) z += l0.weight(o, i) * x[i];
    h.push_back(z > 0 ? z : 0.5 * z);
  }
  std::vector<double> logits;
  const LayerParameters& l1 = model.parameters[1];
  for (int o = 0; o < l1.weight.rows(); ++o) {
    double z = l1.bias[o];
    for (int i = 0; i < l1.weight.cols(); ++i) z += l1.weight(o, i) * h[i];
    logits.push_back(z);
  }
  return logits;
}

TEST(ToExportModelResponseTest, DescribesLayersActivationsAndParameters) {
  TrainedModel model = KnownModel(LossKind::kCategoricalCrossEntropy, 3);
  model.class_names = {"cat", "dog", "bird"};
  const v1::ExportModelResponse response = ToExportModelResponse(model);
  EXPECT_EQ(response.job_id(), "job-7");
  EXPECT_EQ(response.inputs(), 2);
  ASSERT_EQ(response.layers_size(), 2);
  EXPECT_EQ(response.layers(0).units(), 2);
  EXPECT_EQ(response.layers(0).activation(), v1::LEAKY_RELU);
  EXPECT_FLOAT_EQ(response.layers(0).negative_slope(), 0.5f);
  EXPECT_EQ(response.layers(1).units(), 3);
  EXPECT_EQ(response.layers(1).activation(), v1::SOFTMAX);
  EXPECT_EQ(response.output_activation(), v1::SOFTMAX);
  EXPECT_EQ(response.loss(), v1::CATEGORICAL_CROSS_ENTROPY);
  ASSERT_EQ(response.parameters().layers_size(), 2);
  const v1::LayerParameters& out = response.parameters().layers(1);
  EXPECT_EQ(out.weight().rows(), 3);  // [out, in]
  EXPECT_EQ(out.weight().cols(), 2);
  EXPECT_THAT(out.weight().values(), ElementsAre(0.25f, 0.75f, 0.5f, 0.25f, 0.75f, -0.25f));
  EXPECT_EQ(out.bias_size(), 3);
  EXPECT_THAT(response.feature_names(), ElementsAre("f0", "f1"));
  EXPECT_THAT(response.class_names(), ElementsAre("cat", "dog", "bird"));

  EXPECT_EQ(ToExportModelResponse(KnownModel(LossKind::kMeanSquaredError, 1)).output_activation(),
            v1::IDENTITY);
  const v1::ExportModelResponse binary =
      ToExportModelResponse(KnownModel(LossKind::kBinaryCrossEntropy, 1));
  EXPECT_EQ(binary.output_activation(), v1::SIGMOID);
  EXPECT_EQ(binary.layers(1).activation(), v1::SIGMOID);
  EXPECT_EQ(binary.loss(), v1::BINARY_CROSS_ENTROPY);
}

v1::PredictRequest PredictRows(std::vector<std::vector<float>> rows) {
  v1::PredictRequest request;
  request.set_job_id("job-7");
  request.mutable_inputs()->set_rows(static_cast<int>(rows.size()));
  request.mutable_inputs()->set_cols(static_cast<int>(rows[0].size()));
  for (const auto& row : rows) {
    for (float v : row) request.mutable_inputs()->add_values(v);
  }
  return request;
}

const std::vector<std::vector<float>> kRows = {{1, 2}, {-1, 0.5f}, {3, -2}, {0, 0}};

TEST(PredictWithModelTest, RegressionGivesTheNetworkOutputsAndNoClasses) {
  const TrainedModel model = KnownModel(LossKind::kMeanSquaredError, 2);
  absl::StatusOr<v1::PredictResponse> response = PredictWithModel(model, PredictRows(kRows));
  ASSERT_OK(response);
  ASSERT_EQ(response->outputs().rows(), 4);
  ASSERT_EQ(response->outputs().cols(), 2);
  for (int r = 0; r < 4; ++r) {
    const std::vector<double> expected = ReferenceLogits(model, kRows[r]);
    for (int c = 0; c < 2; ++c) {
      EXPECT_NEAR(response->outputs().values(r * 2 + c), expected[c], 1e-5) << r << "," << c;
    }
  }
  EXPECT_EQ(response->classes_size(), 0);
  EXPECT_EQ(response->class_names_size(), 0);
}

TEST(PredictWithModelTest, CrossEntropyGivesSoftmaxArgmaxAndClassNames) {
  TrainedModel model = KnownModel(LossKind::kCategoricalCrossEntropy, 3);
  model.class_names = {"cat", "dog", "bird"};
  absl::StatusOr<v1::PredictResponse> response = PredictWithModel(model, PredictRows(kRows));
  ASSERT_OK(response);
  ASSERT_EQ(response->outputs().cols(), 3);
  ASSERT_EQ(response->classes_size(), 4);
  ASSERT_EQ(response->class_names_size(), 4);
  const std::vector<std::string> names = {"cat", "dog", "bird"};
  for (int r = 0; r < 4; ++r) {
    const std::vector<double> logits = ReferenceLogits(model, kRows[r]);
    double total = 0;
    for (double z : logits) total += std::exp(z);
    int best = 0;
    for (int c = 0; c < 3; ++c) {
      EXPECT_NEAR(response->outputs().values(r * 3 + c), std::exp(logits[c]) / total, 1e-5);
      if (logits[c] > logits[best]) best = c;
    }
    EXPECT_EQ(response->classes(r), best) << r;
    EXPECT_EQ(response->class_names(r), names[best]) << r;
  }
}

TEST(PredictWithModelTest, SingleBinaryOutputThresholdsAtOneHalf) {
  const TrainedModel model = KnownModel(LossKind::kBinaryCrossEntropy, 1);
  absl::StatusOr<v1::PredictResponse> response = PredictWithModel(model, PredictRows(kRows));
  ASSERT_OK(response);
  ASSERT_EQ(response->classes_size(), 4);
  int positives = 0;
  for (int r = 0; r < 4; ++r) {
    const double p = 1 / (1 + std::exp(-ReferenceLogits(model, kRows[r])[0]));
    EXPECT_NEAR(response->outputs().values(r), p, 1e-5);
    EXPECT_EQ(response->classes(r), p >= 0.5 ? 1 : 0) << r;
    positives += response->classes(r);
  }
  // The rows were chosen so both classes occur: the threshold is really exercised.
  EXPECT_GT(positives, 0);
  EXPECT_LT(positives, 4);
  EXPECT_EQ(response->class_names_size(), 0);  // the model has no class names
}

TEST(PredictWithModelTest, WrongColumnCountNamesInputsColsAndTheExpectedCount) {
  const TrainedModel model = KnownModel(LossKind::kMeanSquaredError, 1);
  EXPECT_THAT(PredictWithModel(model, PredictRows({{1, 2, 3}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("inputs.cols must be 2, the model's feature count (got 3)")));
}

// The same rows with their columns swapped and named give the same answers: the server
// puts named columns in the model's order.
TEST(PredictWithModelTest, NamedColumnsInAnyOrderGiveTheSameOutputs) {
  const TrainedModel model = KnownModel(LossKind::kMeanSquaredError, 2);
  absl::StatusOr<v1::PredictResponse> in_order = PredictWithModel(model, PredictRows(kRows));
  ASSERT_OK(in_order);
  std::vector<std::vector<float>> swapped;
  for (const auto& row : kRows) swapped.push_back({row[1], row[0]});
  v1::PredictRequest named = PredictRows(swapped);
  named.add_column_names("f1");
  named.add_column_names("f0");
  absl::StatusOr<v1::PredictResponse> reordered = PredictWithModel(model, named);
  ASSERT_OK(reordered);
  EXPECT_THAT(reordered->outputs().values(), ElementsAreArray(in_order->outputs().values()));
  // Unnamed, the swapped columns are taken as they come: different answers.
  absl::StatusOr<v1::PredictResponse> positional = PredictWithModel(model, PredictRows(swapped));
  ASSERT_OK(positional);
  EXPECT_THAT(positional->outputs().values(),
              Not(ElementsAreArray(in_order->outputs().values())));
}

TEST(PredictWithModelTest, NamesThatDoNotMatchTheFeaturesAreRefusedTogether) {
  const TrainedModel model = KnownModel(LossKind::kMeanSquaredError, 1);
  v1::PredictRequest request = PredictRows({{1, 2, 3}});
  for (const char* name : {"f1", "id", "f1"}) request.add_column_names(name);
  EXPECT_THAT(PredictWithModel(model, request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("column_names do not match the model's features"),
                             HasSubstr("unknown \"id\""), HasSubstr("missing \"f0\""),
                             HasSubstr("named twice \"f1\""),
                             HasSubstr("the 2 features are \"f0\", \"f1\""))));
  request = PredictRows({{1, 2}});
  request.add_column_names("f0");
  EXPECT_THAT(PredictWithModel(model, request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("column_names has 1 names but inputs.cols is 2")));
}

TEST(PredictWithModelTest, AModelWithoutFeatureNamesRefusesNamedColumns) {
  TrainedModel model = KnownModel(LossKind::kMeanSquaredError, 1);
  model.feature_names.clear();
  v1::PredictRequest request = PredictRows(kRows);
  request.add_column_names("f0");
  request.add_column_names("f1");
  EXPECT_THAT(PredictWithModel(model, request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("this model has no feature names"),
                             HasSubstr("send its 2 columns unnamed, in training order"))));
  EXPECT_OK(PredictWithModel(model, PredictRows(kRows)));
}

TEST(PredictWithModelTest, MalformedInputsAreInvalidArgument) {
  const TrainedModel model = KnownModel(LossKind::kMeanSquaredError, 1);
  v1::PredictRequest request = PredictRows(kRows);
  request.mutable_inputs()->mutable_values()->RemoveLast();
  EXPECT_THAT(PredictWithModel(model, request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("inputs.values must hold")));
  request = PredictRows(kRows);
  request.mutable_inputs()->set_values(5, std::nanf(""));
  EXPECT_THAT(PredictWithModel(model, request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("inputs.values[5] must be a finite number")));
  EXPECT_THAT(ValidatePredictInputs(v1::Matrix()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("inputs.rows must be >= 1")));
  EXPECT_OK(ValidatePredictInputs(PredictRows(kRows).inputs()));
}

}  // namespace
}  // namespace descent::server
