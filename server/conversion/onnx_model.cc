#include "server/conversion/onnx_model.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "onnx/onnx.pb.h"

namespace descent::server {
namespace {

// What ONNX consumers of these files expect: IR version 7 is what opset 13 came with
// (onnx 1.8), so every runtime from 2020 on loads it.
constexpr int64_t kIrVersion = 7;
constexpr int64_t kOpsetVersion = 13;

// A float tensor [batch, width] for the graph's input or output.
void SetBatchShape(const std::string& name, int64_t width, onnx::ValueInfoProto* info) {
  info->set_name(name);
  onnx::TypeProto::Tensor* tensor = info->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto* shape = tensor->mutable_shape();
  shape->add_dim()->set_dim_param("batch");
  shape->add_dim()->set_dim_value(width);
}

void AddInitializer(onnx::GraphProto* graph, const std::string& name,
                    std::initializer_list<int64_t> dims,
                    const google::protobuf::RepeatedField<float>& values) {
  onnx::TensorProto* tensor = graph->add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t dim : dims) tensor->add_dims(dim);
  tensor->mutable_float_data()->CopyFrom(values);
}

void AddScalar(onnx::GraphProto* graph, const std::string& name, float value) {
  onnx::TensorProto* tensor = graph->add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(onnx::TensorProto::FLOAT);
  tensor->add_float_data(value);
}

onnx::NodeProto* AddNode(onnx::GraphProto* graph, const std::string& op,
                         std::initializer_list<std::string> inputs, const std::string& output) {
  onnx::NodeProto* node = graph->add_node();
  node->set_op_type(op);
  node->set_name(output);
  for (const std::string& input : inputs) node->add_input(input);
  node->add_output(output);
  return node;
}

void SetAttribute(onnx::NodeProto* node, const std::string& name, int64_t value) {
  onnx::AttributeProto* attribute = node->add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::INT);
  attribute->set_i(value);
}

void SetAttribute(onnx::NodeProto* node, const std::string& name, float value) {
  onnx::AttributeProto* attribute = node->add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::FLOAT);
  attribute->set_f(value);
}

// The exact GELU's constants, shared by every GELU layer.
constexpr char kInverseSqrt2[] = "gelu_inverse_sqrt2";
constexpr char kOne[] = "gelu_one";
constexpr char kHalf[] = "gelu_half";

// Appends `activation` applied to `input`, producing `output`; returns false (nothing added)
// for IDENTITY, so the caller names its input the output instead.
bool AddActivation(onnx::GraphProto* graph, const v1::Layer& layer, const std::string& input,
                   const std::string& output) {
  switch (layer.activation()) {
    case v1::IDENTITY:
      return false;
    case v1::ACTIVATION_UNSPECIFIED:
    case v1::RELU:
      AddNode(graph, "Relu", {input}, output);
      return true;
    case v1::LEAKY_RELU:
      SetAttribute(AddNode(graph, "LeakyRelu", {input}, output), "alpha",
                   layer.has_negative_slope() ? layer.negative_slope() : 0.01f);
      return true;
    case v1::SIGMOID:
      AddNode(graph, "Sigmoid", {input}, output);
      return true;
    case v1::TANH:
      AddNode(graph, "Tanh", {input}, output);
      return true;
    case v1::GELU: {
      // torch's exact form: x * 0.5 * (1 + erf(x * M_SQRT1_2)).
      const std::string scaled = output + "_scaled";
      AddNode(graph, "Mul", {input, kInverseSqrt2}, scaled);
      AddNode(graph, "Erf", {scaled}, output + "_erf");
      AddNode(graph, "Add", {output + "_erf", kOne}, output + "_one_plus_erf");
      AddNode(graph, "Mul", {input, kHalf}, output + "_half");
      AddNode(graph, "Mul", {output + "_half", output + "_one_plus_erf"}, output);
      return true;
    }
    case v1::SOFTMAX:
      SetAttribute(AddNode(graph, "Softmax", {input}, output), "axis", int64_t{1});
      return true;
    default:
      DESCENT_CHECK(false && "an exported layer has an activation this writer does not know");
      return false;
  }
}

std::string JsonArray(const google::protobuf::RepeatedPtrField<std::string>& strings) {
  google::protobuf::ListValue list;
  for (const std::string& s : strings) list.add_values()->set_string_value(s);
  std::string json;
  DESCENT_CHECK(google::protobuf::util::MessageToJsonString(list, &json).ok());
  return json;
}

void AddMetadata(onnx::ModelProto* onnx, const std::string& key, const std::string& value) {
  onnx::StringStringEntryProto* entry = onnx->add_metadata_props();
  entry->set_key(key);
  entry->set_value(value);
}

}  // namespace

absl::Status ValidateModelFormat(const v1::ExportModelRequest& request) {
  if (v1::ModelFormat_IsValid(request.format())) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("format: unknown model format ", request.format(),
                                                 "; use LAYERS (descent's own) or ONNX"));
}

std::string ToOnnxModel(const v1::ExportModelResponse& model) {
  const auto& layers = model.layers();
  const auto& parameters = model.parameters().layers();
  DESCENT_CHECK(!layers.empty() && layers.size() == parameters.size());

  onnx::ModelProto onnx;
  onnx.set_ir_version(kIrVersion);
  onnx::OperatorSetIdProto* opset = onnx.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  onnx.set_producer_name("descent");
  onnx.set_producer_version(DESCENT_VERSION);
  onnx.set_doc_string(absl::StrCat("the model of descent job ", model.job_id()));
  onnx::GraphProto* graph = onnx.mutable_graph();
  graph->set_name(model.job_id());

  const bool probabilities = model.loss() != v1::MEAN_SQUARED_ERROR;
  const std::string output_name = probabilities ? "probabilities" : "values";
  SetBatchShape("features", model.inputs(), graph->add_input());
  bool gelu_constants = false;
  std::string x = "features";
  int64_t width = model.inputs();
  for (int i = 0; i < layers.size(); ++i) {
    const v1::LayerParameters& p = parameters[i];
    const int64_t out = p.weight().rows();
    DESCENT_CHECK(p.weight().cols() == width && p.bias_size() == out &&
                  p.weight().values_size() == out * width && layers[i].units() == out);
    const bool last = i + 1 == layers.size();
    const std::string prefix = absl::StrCat("layer", i);
    AddInitializer(graph, prefix + "_weight", {out, width}, p.weight().values());
    AddInitializer(graph, prefix + "_bias", {out}, p.bias());
    if (layers[i].activation() == v1::GELU && !gelu_constants) {
      AddScalar(graph, kInverseSqrt2, static_cast<float>(M_SQRT1_2));
      AddScalar(graph, kOne, 1.0f);
      AddScalar(graph, kHalf, 0.5f);
      gelu_constants = true;
    }
    const bool identity = layers[i].activation() == v1::IDENTITY;
    const std::string linear = last && identity ? output_name : prefix + "_linear";
    SetAttribute(AddNode(graph, "Gemm", {x, prefix + "_weight", prefix + "_bias"}, linear),
                 "transB", int64_t{1});
    const std::string activated = last ? output_name : prefix + "_activation";
    x = AddActivation(graph, layers[i], linear, activated) ? activated : linear;
    width = out;
  }
  SetBatchShape(output_name, width, graph->add_output());

  AddMetadata(&onnx, "job_id", model.job_id());
  AddMetadata(&onnx, "loss", v1::Loss_Name(model.loss()));
  AddMetadata(&onnx, "feature_names", JsonArray(model.feature_names()));
  AddMetadata(&onnx, "class_names", JsonArray(model.class_names()));
  return onnx.SerializeAsString();
}

}  // namespace descent::server
