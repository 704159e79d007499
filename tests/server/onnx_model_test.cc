// The ONNX graph written for an export: its header, its nodes per activation, its names and
// its metadata. (That runtimes compute Predict's outputs from it is proven with the real
// binaries, ONNX's checker and OpenCV in tests/integration/onnx_export_test.cc.)
#include "server/conversion/onnx_model.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx/onnx.pb.h"
#include "tests/testing/status_matchers.h"

namespace descent::server {
namespace {

using ::descent::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A model with inputs -> hidden layers of `hidden` activations (4 units each) -> `outputs`.
v1::ExportModelResponse Model(const std::vector<v1::Activation>& hidden, v1::Loss loss,
                              int inputs = 3, int outputs = 2) {
  v1::ExportModelResponse model;
  model.set_job_id("job-0123456789ab");
  model.set_inputs(inputs);
  model.set_loss(loss);
  int width = inputs;
  auto add = [&](int units, v1::Activation activation) {
    v1::Layer* layer = model.add_layers();
    layer->set_units(units);
    layer->set_activation(activation);
    if (activation == v1::LEAKY_RELU) layer->set_negative_slope(0.25f);
    v1::LayerParameters* p = model.mutable_parameters()->add_layers();
    p->mutable_weight()->set_rows(units);
    p->mutable_weight()->set_cols(width);
    for (int i = 0; i < units * width; ++i) p->mutable_weight()->add_values(0.5f * i);
    for (int i = 0; i < units; ++i) p->add_bias(-1.0f * i);
    width = units;
  };
  for (v1::Activation activation : hidden) add(4, activation);
  add(outputs, loss == v1::MEAN_SQUARED_ERROR     ? v1::IDENTITY
               : loss == v1::BINARY_CROSS_ENTROPY ? v1::SIGMOID
                                                  : v1::SOFTMAX);
  model.add_feature_names("a");
  model.add_feature_names("b \"quoted\"");
  model.add_feature_names("c");
  return model;
}

onnx::ModelProto Parse(const std::string& bytes) {
  onnx::ModelProto model;
  EXPECT_TRUE(model.ParseFromString(bytes));
  return model;
}

std::vector<std::string> Ops(const onnx::ModelProto& model) {
  std::vector<std::string> ops;
  for (const onnx::NodeProto& node : model.graph().node()) ops.push_back(node.op_type());
  return ops;
}

TEST(OnnxModelTest, HeaderInputOutputAndWeightsAsExported) {
  const onnx::ModelProto onnx = Parse(ToOnnxModel(Model({v1::RELU}, v1::MEAN_SQUARED_ERROR)));
  EXPECT_EQ(onnx.ir_version(), 7);
  ASSERT_EQ(onnx.opset_import_size(), 1);
  EXPECT_EQ(onnx.opset_import(0).domain(), "");
  EXPECT_EQ(onnx.opset_import(0).version(), 13);
  const onnx::GraphProto& graph = onnx.graph();
  ASSERT_EQ(graph.input_size(), 1);
  EXPECT_EQ(graph.input(0).name(), "features");
  const auto& in_shape = graph.input(0).type().tensor_type().shape();
  ASSERT_EQ(in_shape.dim_size(), 2);
  EXPECT_EQ(in_shape.dim(0).dim_param(), "batch");
  EXPECT_EQ(in_shape.dim(1).dim_value(), 3);
  ASSERT_EQ(graph.output_size(), 1);
  EXPECT_EQ(graph.output(0).name(), "values");
  EXPECT_EQ(graph.output(0).type().tensor_type().shape().dim(1).dim_value(), 2);
  // A regression's last Gemm is the output itself.
  EXPECT_THAT(Ops(onnx), ElementsAre("Gemm", "Relu", "Gemm"));
  EXPECT_EQ(graph.node(2).output(0), "values");
  for (int i : {0, 2}) {
    ASSERT_EQ(graph.node(i).attribute_size(), 1);
    EXPECT_EQ(graph.node(i).attribute(0).name(), "transB");
    EXPECT_EQ(graph.node(i).attribute(0).i(), 1);
  }
  // W as [out, in], exactly the exported values.
  const onnx::TensorProto& w0 = graph.initializer(0);
  EXPECT_EQ(w0.name(), "layer0_weight");
  EXPECT_THAT(w0.dims(), ElementsAre(4, 3));
  EXPECT_EQ(w0.float_data_size(), 12);
  EXPECT_EQ(w0.float_data(5), 2.5f);
  EXPECT_THAT(graph.initializer(1).dims(), ElementsAre(4));
  EXPECT_EQ(graph.initializer(1).float_data(3), -3.0f);
}

TEST(OnnxModelTest, EachActivationBecomesItsOperators) {
  const onnx::ModelProto onnx = Parse(ToOnnxModel(
      Model({v1::RELU, v1::LEAKY_RELU, v1::SIGMOID, v1::TANH, v1::GELU, v1::IDENTITY, v1::GELU},
            v1::CATEGORICAL_CROSS_ENTROPY)));
  EXPECT_THAT(Ops(onnx), ElementsAre("Gemm", "Relu", "Gemm", "LeakyRelu", "Gemm", "Sigmoid", "Gemm",
                                     "Tanh", "Gemm", "Mul", "Erf", "Add", "Mul", "Mul", "Gemm",
                                     "Gemm", "Mul", "Erf", "Add", "Mul", "Mul", "Gemm", "Softmax"));
  const onnx::GraphProto& graph = onnx.graph();
  EXPECT_EQ(graph.node(3).attribute(0).name(), "alpha");
  EXPECT_EQ(graph.node(3).attribute(0).f(), 0.25f);
  const onnx::NodeProto& softmax = graph.node(graph.node_size() - 1);
  EXPECT_EQ(softmax.attribute(0).name(), "axis");
  EXPECT_EQ(softmax.attribute(0).i(), 1);
  EXPECT_EQ(softmax.output(0), "probabilities");
  EXPECT_EQ(graph.output(0).name(), "probabilities");
  // The identity layer adds no node: the next Gemm reads its linear output.
  EXPECT_EQ(graph.node(15).input(0), "layer5_linear");
  // GELU's three constants once, for both GELU layers: 7 hidden + 1 output layers, 2 each.
  EXPECT_EQ(graph.initializer_size(), 2 * 8 + 3);
}

TEST(OnnxModelTest, BinaryOutputsAreSigmoidProbabilities) {
  const onnx::ModelProto onnx =
      Parse(ToOnnxModel(Model({v1::TANH}, v1::BINARY_CROSS_ENTROPY, 3, 1)));
  EXPECT_THAT(Ops(onnx), ElementsAre("Gemm", "Tanh", "Gemm", "Sigmoid"));
  EXPECT_EQ(onnx.graph().output(0).name(), "probabilities");
}

TEST(OnnxModelTest, MetadataNamesTheJobLossFeaturesAndClasses) {
  v1::ExportModelResponse model = Model({v1::RELU}, v1::CATEGORICAL_CROSS_ENTROPY);
  model.add_class_names("cat");
  model.add_class_names("dog");
  const onnx::ModelProto onnx = Parse(ToOnnxModel(model));
  std::vector<std::pair<std::string, std::string>> metadata;
  for (const auto& entry : onnx.metadata_props()) metadata.emplace_back(entry.key(), entry.value());
  EXPECT_THAT(metadata,
              ElementsAre(std::pair<std::string, std::string>{"job_id", "job-0123456789ab"},
                          std::pair<std::string, std::string>{"loss", "CATEGORICAL_CROSS_ENTROPY"},
                          std::pair<std::string, std::string>{"feature_names",
                                                              R"(["a","b \"quoted\"","c"])"},
                          std::pair<std::string, std::string>{"class_names", R"(["cat","dog"])"}));
  EXPECT_EQ(onnx.producer_name(), "descent");
}

TEST(OnnxModelTest, AnUnknownFormatIsRefusedNamingTheField) {
  v1::ExportModelRequest request;
  request.set_format(v1::ONNX);
  EXPECT_OK(ValidateModelFormat(request));
  request.set_format(static_cast<v1::ModelFormat>(9));
  EXPECT_THAT(ValidateModelFormat(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("format")));
}

}  // namespace
}  // namespace descent::server
