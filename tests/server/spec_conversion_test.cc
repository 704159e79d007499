#include "server/conversion/spec_conversion.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/text_proto.h"

namespace descent::server {
namespace {

using ::descent::testing::ParseTextProto;
using ::descent::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A small valid spec: 4 samples of y = x0 + x1, one hidden layer, SGD.
v1::JobSpec SmallInlineSpec() {
  return ParseTextProto<v1::JobSpec>(R"pb(
    name: "small"
    dataset {
      inline {
        features { rows: 4 cols: 2 values: [ 0, 0, 0, 1, 1, 0, 1, 1 ] }
        targets { rows: 4 cols: 1 values: [ 0, 1, 1, 2 ] }
      }
    }
    model { hidden_layers { units: 3 } }
    loss: MEAN_SQUARED_ERROR
    optimizer { sgd { learning_rate: 0.1 } }
    training { epochs: 2 batch_size: 2 }
  )pb");
}

v1::SubmitJobRequest Request(v1::JobSpec spec, std::string request_id = "") {
  v1::SubmitJobRequest request;
  *request.mutable_spec() = std::move(spec);
  request.set_request_id(std::move(request_id));
  return request;
}

void SetMatrix(v1::Matrix* matrix, int rows, int cols, std::vector<float> values) {
  matrix->set_rows(rows);
  matrix->set_cols(cols);
  matrix->clear_values();
  for (float v : values) matrix->add_values(v);
}

// The job file of the product issue (examples/house-prices.json, which the CLI's parser
// reads as written), as the server receives it.
TEST(PrepareJobTest, ConvertsTheIssueJobFile) {
  const v1::JobSpec spec = ParseTextProto<v1::JobSpec>(R"pb(
    name: "house-prices"
    dataset { builtin { name: "house_prices" samples: 2000 seed: 7 } }
    model { hidden_layers { units: 64 activation: RELU } }
    loss: MEAN_SQUARED_ERROR
    optimizer { adam { learning_rate: 0.001 } }
    training { epochs: 30 batch_size: 32 shuffle: true seed: 42 validation_fraction: 0.2 }
  )pb");
  absl::StatusOr<PreparedJob> job = PrepareJob(Request(spec, "retry-key"));
  ASSERT_OK(job);
  const TrainSpec& train = job->train_spec;
  ASSERT_EQ(train.model.hidden_layers.size(), 1u);
  EXPECT_EQ(train.model.hidden_layers[0].units, 64);
  EXPECT_EQ(train.model.hidden_layers[0].activation, Activation::kRelu);
  EXPECT_EQ(train.loss.kind, LossKind::kMeanSquaredError);
  EXPECT_EQ(train.optimizer.kind, OptimizerKind::kAdam);
  EXPECT_EQ(train.optimizer.learning_rate, 0.001);
  EXPECT_EQ(train.training.epochs, 30);
  EXPECT_EQ(train.training.batch_size, 32);
  EXPECT_TRUE(train.training.shuffle);
  EXPECT_EQ(train.training.seed, 42u);
  EXPECT_EQ(train.training.validation_fraction, 0.2);
  // The builtin dataset is generated at submit.
  EXPECT_EQ(job->dataset.samples(), 2000);
  EXPECT_EQ(job->dataset.features.cols(), 13);
  EXPECT_EQ(job->dataset.targets.cols(), 1);
  EXPECT_EQ(job->dataset.num_classes, 0);
  EXPECT_FALSE(job->initial_parameters.has_value());
  EXPECT_EQ(job->request_id, "retry-key");
  EXPECT_EQ(job->spec.SerializeAsString(), spec.SerializeAsString());
}

TEST(PrepareJobTest, UnsetOptionalFieldsTakePyTorchDefaults) {
  v1::JobSpec spec = SmallInlineSpec();
  spec.mutable_optimizer()->mutable_adam();  // replaces sgd; every field unset
  spec.clear_training();
  spec.mutable_model()->mutable_hidden_layers(0)->clear_activation();
  absl::StatusOr<PreparedJob> job = PrepareJob(Request(spec));
  ASSERT_OK(job);
  const OptimizerSpec& adam = job->train_spec.optimizer;
  EXPECT_EQ(adam.kind, OptimizerKind::kAdam);
  EXPECT_FALSE(adam.learning_rate.has_value());
  EXPECT_EQ(adam.EffectiveLearningRate(), 1e-3);
  EXPECT_EQ(adam.beta1, 0.9);
  EXPECT_EQ(adam.beta2, 0.999);
  EXPECT_EQ(adam.EffectiveEpsilon(), 1e-8);
  EXPECT_EQ(adam.weight_decay, 0.0);
  EXPECT_FALSE(adam.amsgrad);
  EXPECT_FALSE(adam.decoupled_weight_decay);
  // AdamW (decoupled) defaults weight_decay to 0.01 as torch.optim.AdamW does; an explicit
  // 0 is honoured.
  spec.mutable_optimizer()->mutable_adam()->set_decoupled_weight_decay(true);
  absl::StatusOr<PreparedJob> adamw = PrepareJob(Request(spec));
  ASSERT_OK(adamw);
  EXPECT_EQ(adamw->train_spec.optimizer.weight_decay, 0.01);
  spec.mutable_optimizer()->mutable_adam()->set_weight_decay(0.0);
  adamw = PrepareJob(Request(spec));
  ASSERT_OK(adamw);
  EXPECT_EQ(adamw->train_spec.optimizer.weight_decay, 0.0);
  spec.mutable_optimizer()->mutable_adam()->clear_weight_decay();
  spec.mutable_optimizer()->mutable_adam()->clear_decoupled_weight_decay();
  const TrainingOptions& training = job->train_spec.training;
  EXPECT_EQ(training.epochs, 10);
  EXPECT_EQ(training.batch_size, 32);
  EXPECT_TRUE(training.shuffle);
  EXPECT_TRUE(training.stop_on_divergence);
  EXPECT_EQ(job->train_spec.model.hidden_layers[0].activation, Activation::kRelu);
  EXPECT_EQ(job->train_spec.model.initialization, Initialization::kPytorchDefault);

  spec.mutable_optimizer()->mutable_rmsprop();
  job = PrepareJob(Request(spec));
  ASSERT_OK(job);
  EXPECT_EQ(job->train_spec.optimizer.EffectiveLearningRate(), 1e-2);
  EXPECT_EQ(job->train_spec.optimizer.alpha, 0.99);

  spec.mutable_optimizer()->mutable_adagrad();
  job = PrepareJob(Request(spec));
  ASSERT_OK(job);
  EXPECT_EQ(job->train_spec.optimizer.EffectiveEpsilon(), 1e-10);

  // A builtin without samples: 1000.
  spec.mutable_dataset()->mutable_builtin()->set_name("house_prices");
  job = PrepareJob(Request(spec));
  ASSERT_OK(job);
  EXPECT_EQ(job->dataset.samples(), 1000);
}

TEST(PrepareJobTest, ExplicitZeroIsHonoured) {
  v1::JobSpec spec = SmallInlineSpec();
  v1::Adam* adam = spec.mutable_optimizer()->mutable_adam();
  adam->set_epsilon(0);
  adam->set_beta1(0);
  spec.mutable_training()->set_batch_size(0);  // full batch, not the default 32
  spec.mutable_training()->set_shuffle(false);
  spec.mutable_training()->set_stop_on_divergence(false);
  absl::StatusOr<PreparedJob> job = PrepareJob(Request(spec));
  ASSERT_OK(job);
  EXPECT_EQ(job->train_spec.optimizer.EffectiveEpsilon(), 0.0);
  EXPECT_EQ(job->train_spec.optimizer.beta1, 0.0);
  EXPECT_EQ(job->train_spec.training.batch_size, 0);
  EXPECT_FALSE(job->train_spec.training.shuffle);
  EXPECT_FALSE(job->train_spec.training.stop_on_divergence);

  v1::Rmsprop* rmsprop = spec.mutable_optimizer()->mutable_rmsprop();
  rmsprop->set_alpha(0);
  job = PrepareJob(Request(spec));
  ASSERT_OK(job);
  EXPECT_EQ(job->train_spec.optimizer.alpha, 0.0);
}

TEST(PrepareJobTest, EveryOptimizerFieldReachesTheEngine) {
  v1::JobSpec spec = SmallInlineSpec();
  v1::Sgd* sgd = spec.mutable_optimizer()->mutable_sgd();
  sgd->set_learning_rate(0.5);
  sgd->set_momentum(0.9);
  sgd->set_dampening(0);
  sgd->set_nesterov(true);
  sgd->set_weight_decay(0.01);
  absl::StatusOr<PreparedJob> job = PrepareJob(Request(spec));
  ASSERT_OK(job);
  const OptimizerSpec& opt = job->train_spec.optimizer;
  EXPECT_EQ(opt.kind, OptimizerKind::kSgd);
  EXPECT_EQ(opt.learning_rate, 0.5);
  EXPECT_EQ(opt.momentum, 0.9);
  EXPECT_TRUE(opt.nesterov);
  EXPECT_EQ(opt.weight_decay, 0.01);

  v1::Adagrad* adagrad = spec.mutable_optimizer()->mutable_adagrad();
  adagrad->set_lr_decay(0.25);
  adagrad->set_initial_accumulator_value(0.5);
  job = PrepareJob(Request(spec));
  ASSERT_OK(job);
  EXPECT_EQ(job->train_spec.optimizer.lr_decay, 0.25);
  EXPECT_EQ(job->train_spec.optimizer.initial_accumulator_value, 0.5);

  v1::LearningRateSchedule* schedule = spec.mutable_schedule();
  schedule->set_kind(v1::COSINE);
  schedule->set_t_max(100);
  schedule->set_eta_min(0.001);
  schedule->set_warmup_steps(5);
  schedule->set_warmup_start_factor(0.5);
  job = PrepareJob(Request(spec));
  ASSERT_OK(job);
  EXPECT_EQ(job->train_spec.schedule.kind, ScheduleKind::kCosine);
  EXPECT_EQ(job->train_spec.schedule.t_max, 100);
  EXPECT_EQ(job->train_spec.schedule.eta_min, 0.001);
  EXPECT_EQ(job->train_spec.schedule.warmup_steps, 5);
  EXPECT_EQ(job->train_spec.schedule.warmup_start_factor, 0.5);
}

TEST(PrepareJobTest, LeakyReluSlopeAndInitialization) {
  v1::JobSpec spec = SmallInlineSpec();
  v1::Layer* layer = spec.mutable_model()->mutable_hidden_layers(0);
  layer->set_activation(v1::LEAKY_RELU);
  layer->set_negative_slope(0.2f);
  spec.mutable_model()->set_initialization(v1::HE_NORMAL);
  absl::StatusOr<PreparedJob> job = PrepareJob(Request(spec));
  ASSERT_OK(job);
  EXPECT_EQ(job->train_spec.model.hidden_layers[0].activation, Activation::kLeakyRelu);
  EXPECT_FLOAT_EQ(job->train_spec.model.hidden_layers[0].negative_slope, 0.2f);
  EXPECT_EQ(job->train_spec.model.initialization, Initialization::kHeNormal);
}

TEST(PrepareJobTest, ClassCountsFollowTheLoss) {
  // Cross-entropy with index targets and no num_classes: max index + 1.
  v1::JobSpec spec = SmallInlineSpec();
  spec.set_loss(v1::CATEGORICAL_CROSS_ENTROPY);
  v1::InlineDataset* data = spec.mutable_dataset()->mutable_inline_();
  SetMatrix(data->mutable_targets(), 4, 1, {0, 2, 1, 2});
  data->add_class_names("a");
  data->add_class_names("b");
  data->add_class_names("c");
  absl::StatusOr<PreparedJob> job = PrepareJob(Request(spec));
  ASSERT_OK(job);
  EXPECT_EQ(job->dataset.num_classes, 3);
  EXPECT_THAT(job->dataset.class_names, ElementsAre("a", "b", "c"));

  // An explicit larger class count is kept.
  data->clear_class_names();
  data->set_num_classes(5);
  job = PrepareJob(Request(spec));
  ASSERT_OK(job);
  EXPECT_EQ(job->dataset.num_classes, 5);

  // Probability rows: one class per column.
  data->set_num_classes(0);
  SetMatrix(data->mutable_targets(), 4, 2, {1, 0, 0.5, 0.5, 0, 1, 0.25, 0.75});
  job = PrepareJob(Request(spec));
  ASSERT_OK(job);
  EXPECT_EQ(job->dataset.num_classes, 2);

  // Binary labels: two classes.
  spec.set_loss(v1::BINARY_CROSS_ENTROPY);
  SetMatrix(data->mutable_targets(), 4, 1, {0, 1, 1, 0});
  job = PrepareJob(Request(spec));
  ASSERT_OK(job);
  EXPECT_EQ(job->dataset.num_classes, 2);
}

TEST(PrepareJobTest, BuiltinClassifiersKeepTheirClassNamesUnlessRegressed) {
  v1::JobSpec spec = SmallInlineSpec();
  v1::BuiltinDataset* builtin = spec.mutable_dataset()->mutable_builtin();
  builtin->set_name("cat_dog_bird");
  builtin->set_samples(50);
  spec.set_loss(v1::CATEGORICAL_CROSS_ENTROPY);
  absl::StatusOr<PreparedJob> job = PrepareJob(Request(spec));
  ASSERT_OK(job);
  EXPECT_EQ(job->dataset.num_classes, 3);
  EXPECT_THAT(job->dataset.class_names, ElementsAre("cat", "dog", "bird"));

  builtin->set_name("spam");
  spec.set_loss(v1::MEAN_SQUARED_ERROR);
  job = PrepareJob(Request(spec));
  ASSERT_OK(job);
  EXPECT_EQ(job->dataset.num_classes, 0);
  EXPECT_TRUE(job->dataset.class_names.empty());
}

TEST(PrepareJobTest, WarmStartParametersAreConverted) {
  v1::JobSpec spec = SmallInlineSpec();  // 2 inputs, 3 hidden, 1 output
  v1::ModelParameters* params = spec.mutable_initial_parameters();
  v1::LayerParameters* hidden = params->add_layers();
  SetMatrix(hidden->mutable_weight(), 3, 2, {1, 2, 3, 4, 5, 6});
  hidden->add_bias(0.1f);
  hidden->add_bias(0.2f);
  hidden->add_bias(0.3f);
  v1::LayerParameters* output = params->add_layers();
  SetMatrix(output->mutable_weight(), 1, 3, {7, 8, 9});
  output->add_bias(-1);
  absl::StatusOr<PreparedJob> job = PrepareJob(Request(spec));
  ASSERT_OK(job);
  ASSERT_TRUE(job->initial_parameters.has_value());
  ASSERT_EQ(job->initial_parameters->size(), 2u);
  const LayerParameters& first = (*job->initial_parameters)[0];
  EXPECT_EQ(first.weight.rows(), 3);
  EXPECT_EQ(first.weight.cols(), 2);
  EXPECT_EQ(first.weight(1, 0), 3.0f);
  EXPECT_THAT(first.bias, ElementsAre(0.1f, 0.2f, 0.3f));
  EXPECT_THAT((*job->initial_parameters)[1].weight.values(), ElementsAre(7, 8, 9));
}

// One invalid spec: how it is broken and what the message must say.
struct BadSpec {
  std::string name;
  std::function<void(v1::SubmitJobRequest&)> mutate;
  std::string message;
};

class PrepareJobRejectsTest : public ::testing::TestWithParam<BadSpec> {};

TEST_P(PrepareJobRejectsTest, WithInvalidArgumentNamingTheFieldAndTheFix) {
  v1::SubmitJobRequest request = Request(SmallInlineSpec());
  GetParam().mutate(request);
  EXPECT_THAT(PrepareJob(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(GetParam().message)));
}

v1::JobSpec& Spec(v1::SubmitJobRequest& request) { return *request.mutable_spec(); }
v1::InlineDataset& Inline(v1::SubmitJobRequest& request) {
  return *Spec(request).mutable_dataset()->mutable_inline_();
}
v1::BuiltinDataset& Builtin(v1::SubmitJobRequest& request) {
  return *Spec(request).mutable_dataset()->mutable_builtin();
}

INSTANTIATE_TEST_SUITE_P(
    Specs, PrepareJobRejectsTest,
    ::testing::Values(
        BadSpec{"MissingSpec", [](auto& r) { r.clear_spec(); }, "spec must be set"},
        BadSpec{"EngineRangeWithSpecPath",
                [](auto& r) { Spec(r).mutable_optimizer()->mutable_adam()->set_learning_rate(-0.1); },
                "spec.optimizer.adam.learning_rate must be > 0 (got -0.1)"},
        BadSpec{"SgdWithoutLearningRate",
                [](auto& r) { Spec(r).mutable_optimizer()->mutable_sgd()->clear_learning_rate(); },
                "spec.optimizer.sgd.learning_rate is required"},
        BadSpec{"OptimizerUnset", [](auto& r) { Spec(r).clear_optimizer(); },
                "spec.optimizer: set one of sgd, adam, rmsprop, adagrad"},
        BadSpec{"LossUnspecified", [](auto& r) { Spec(r).clear_loss(); }, "spec.loss must be set"},
        BadSpec{"LossUnknownValue", [](auto& r) { Spec(r).set_loss(static_cast<v1::Loss>(9)); },
                "spec.loss has unknown value 9"},
        BadSpec{"DatasetMissing", [](auto& r) { Spec(r).clear_dataset(); },
                "spec.dataset: set one of builtin, inline"},
        BadSpec{"UnknownBuiltin", [](auto& r) { Builtin(r).set_name("mnist"); },
                "spec.dataset.builtin.name \"mnist\" is not a builtin dataset"},
        BadSpec{"BuiltinWithoutName", [](auto& r) { Builtin(r).set_name(""); },
                "spec.dataset.builtin.name"},
        BadSpec{"BuiltinSamplesOutOfRange",
                [](auto& r) {
                  Builtin(r).set_name("moons");
                  Builtin(r).set_samples(1);
                },
                "spec.dataset.builtin.samples must be in [2"},
        BadSpec{"BuiltinNegativeNoise",
                [](auto& r) {
                  Builtin(r).set_name("moons");
                  Builtin(r).set_noise(-0.5);
                },
                "spec.dataset.builtin.noise must be >= 0 (got -0.5)"},
        BadSpec{"BinaryLossOnThreeClasses",
                [](auto& r) {
                  Builtin(r).set_name("cat_dog_bird");
                  Spec(r).set_loss(v1::BINARY_CROSS_ENTROPY);
                },
                "spec.loss BINARY_CROSS_ENTROPY does not fit builtin dataset cat_dog_bird"},
        BadSpec{"CrossEntropyOnRegressionData",
                [](auto& r) {
                  Builtin(r).set_name("house_prices");
                  Spec(r).set_loss(v1::CATEGORICAL_CROSS_ENTROPY);
                },
                "spec.loss CATEGORICAL_CROSS_ENTROPY does not fit builtin dataset house_prices"},
        BadSpec{"InlineValuesDoNotMatchShape",
                [](auto& r) { Inline(r).mutable_features()->mutable_values()->RemoveLast(); },
                "spec.dataset.inline.features.values must hold rows x cols = 4 x 2 = 8 numbers, "
                "row by row (got 7)"},
        BadSpec{"InlineZeroRows", [](auto& r) { Inline(r).mutable_targets()->set_rows(0); },
                "spec.dataset.inline.targets.rows must be >= 1 (got 0)"},
        BadSpec{"InlineFeaturesMissing", [](auto& r) { Inline(r).clear_features(); },
                "spec.dataset.inline.features must be set"},
        BadSpec{"InlineTargetsMissing", [](auto& r) { Inline(r).clear_targets(); },
                "spec.dataset.inline.targets must be set"},
        BadSpec{"InlineRowMismatch",
                [](auto& r) { SetMatrix(Inline(r).mutable_targets(), 3, 1, {0, 1, 2}); },
                "spec.dataset.inline.targets has 3 rows"},
        BadSpec{"InlineNaN",
                [](auto& r) { Inline(r).mutable_features()->set_values(3, std::nanf("")); },
                "spec.dataset.inline.features.values[3] is NaN"},
        BadSpec{"InlineNumClassesWithRegression",
                [](auto& r) { Inline(r).set_num_classes(3); },
                "spec.dataset.inline.num_classes applies to CATEGORICAL_CROSS_ENTROPY only"},
        BadSpec{"InlineClassIndexOutOfRange",
                [](auto& r) {
                  Spec(r).set_loss(v1::CATEGORICAL_CROSS_ENTROPY);
                  Inline(r).set_num_classes(2);
                },
                "spec.dataset.inline.targets.values[3] is 2"},
        BadSpec{"InlineClassNamesCount",
                [](auto& r) {
                  Spec(r).set_loss(v1::CATEGORICAL_CROSS_ENTROPY);
                  Inline(r).add_class_names("only-one");
                },
                "spec.dataset.inline.class_names has 1 names but num_classes is 3"},
        BadSpec{"InlineFeatureNamesCount",
                [](auto& r) { Inline(r).add_feature_names("x0"); },
                "spec.dataset.inline.feature_names has 1 names"},
        BadSpec{"BinaryLabelOutsideUnitInterval",
                [](auto& r) { Spec(r).set_loss(v1::BINARY_CROSS_ENTROPY); },
                "BINARY_CROSS_ENTROPY labels must be in [0, 1]"},
        BadSpec{"HiddenSoftmax",
                [](auto& r) {
                  Spec(r).mutable_model()->mutable_hidden_layers(0)->set_activation(v1::SOFTMAX);
                },
                "spec.model.hidden_layers[0].activation must not be SOFTMAX"},
        BadSpec{"HiddenActivationUnknownValue",
                [](auto& r) {
                  Spec(r).mutable_model()->mutable_hidden_layers(0)->set_activation(
                      static_cast<v1::Activation>(42));
                },
                "spec.model.hidden_layers[0].activation has unknown value 42"},
        BadSpec{"ZeroUnitsFromTheEngine",
                [](auto& r) { Spec(r).mutable_model()->add_hidden_layers()->set_units(0); },
                "spec.model.hidden_layers[1].units must be >= 1 (got 0)"},
        BadSpec{"NegativeSlopeWithoutLeakyRelu",
                [](auto& r) {
                  Spec(r).mutable_model()->mutable_hidden_layers(0)->set_negative_slope(0.1f);
                },
                "spec.model.hidden_layers[0].negative_slope applies to LEAKY_RELU only"},
        BadSpec{"PosWeightWithRegression",
                [](auto& r) { Spec(r).mutable_loss_options()->add_pos_weight(2); },
                "spec.loss_options.pos_weight applies only to BINARY_CROSS_ENTROPY"},
        BadSpec{"PosWeightLength",
                [](auto& r) {
                  Spec(r).set_loss(v1::BINARY_CROSS_ENTROPY);
                  SetMatrix(Inline(r).mutable_targets(), 4, 1, {0, 1, 1, 0});
                  Spec(r).mutable_loss_options()->add_pos_weight(2);
                  Spec(r).mutable_loss_options()->add_pos_weight(3);
                },
                "spec.loss_options.pos_weight has 2 values but the model has 1 outputs"},
        BadSpec{"NameTooLong", [](auto& r) { Spec(r).set_name(std::string(129, 'n')); },
                "spec.name must be at most 128 characters (got 129)"},
        BadSpec{"GroupTooLong", [](auto& r) { Spec(r).set_group(std::string(65, 'g')); },
                "spec.group must be at most 64 letters, digits"},
        BadSpec{"GroupWithASpace", [](auto& r) { Spec(r).set_group("race 1"); },
                "spec.group must be at most 64 letters, digits, '.', '_' or '-' (got \"race 1\")"},
        BadSpec{"RequestIdTooLong", [](auto& r) { r.set_request_id(std::string(200, 'r')); },
                "request_id must be at most 128 characters (got 200)"},
        BadSpec{"TooManyHiddenLayers",
                [](auto& r) {
                  for (int i = 0; i < kMaxHiddenLayers; ++i) {
                    Spec(r).mutable_model()->add_hidden_layers()->set_units(2);
                  }
                },
                "spec.model.hidden_layers has 65 layers; at most 64 are allowed"},
        BadSpec{"LayerTooWide",
                [](auto& r) {
                  Spec(r).mutable_model()->mutable_hidden_layers(0)->set_units(kMaxLayerUnits + 1);
                },
                "spec.model.hidden_layers[0].units must be <= 65536 (got 65537)"},
        BadSpec{"TooManyParameters",
                [](auto& r) {
                  Spec(r).mutable_model()->mutable_hidden_layers(0)->set_units(60000);
                  Spec(r).mutable_model()->add_hidden_layers()->set_units(60000);
                },
                "parameters; at most 50000000 are allowed"},
        BadSpec{"TooManySteps",
                [](auto& r) {
                  Spec(r).mutable_training()->set_epochs(20'000'000);
                },
                "spec.training asks for 40000000 optimizer steps"},
        BadSpec{"ScheduleUnknownKind",
                [](auto& r) {
                  Spec(r).mutable_schedule()->set_kind(static_cast<v1::Schedule>(17));
                },
                "spec.schedule.kind has unknown value 17"},
        BadSpec{"EpochsZero", [](auto& r) { Spec(r).mutable_training()->set_epochs(0); },
                "spec.training.epochs must be >= 1 (got 0)"},
        BadSpec{"WarmStartLayerCount",
                [](auto& r) { Spec(r).mutable_initial_parameters()->add_layers(); },
                "spec.initial_parameters.layers must have 2 entries"},
        BadSpec{"WarmStartWeightShape",
                [](auto& r) {
                  auto* params = Spec(r).mutable_initial_parameters();
                  SetMatrix(params->add_layers()->mutable_weight(), 3, 3,
                            std::vector<float>(9, 0.5f));
                  SetMatrix(params->add_layers()->mutable_weight(), 1, 3, {1, 1, 1});
                },
                "spec.initial_parameters.layers[0].weight must be 3 x 2, [out, in] (got 3 x 3)"},
        BadSpec{"WarmStartBiasLength",
                [](auto& r) {
                  auto* params = Spec(r).mutable_initial_parameters();
                  SetMatrix(params->add_layers()->mutable_weight(), 3, 2,
                            std::vector<float>(6, 0.5f));
                  SetMatrix(params->add_layers()->mutable_weight(), 1, 3, {1, 1, 1});
                },
                "spec.initial_parameters.layers[0].bias must have 3 values (got 0)"},
        BadSpec{"WarmStartNonFinite",
                [](auto& r) {
                  auto* params = Spec(r).mutable_initial_parameters();
                  auto* hidden = params->add_layers();
                  SetMatrix(hidden->mutable_weight(), 3, 2, {1, 1, 1, INFINITY, 1, 1});
                  for (int i = 0; i < 3; ++i) hidden->add_bias(0);
                  auto* output = params->add_layers();
                  SetMatrix(output->mutable_weight(), 1, 3, {1, 1, 1});
                  output->add_bias(0);
                },
                "spec.initial_parameters.layers[0].weight.values[3] must be a finite number"}),
    [](const ::testing::TestParamInfo<BadSpec>& info) { return info.param.name; });

TEST(PrepareJobTest, UnknownBuiltinIsInvalidArgumentNotNotFound) {
  v1::SubmitJobRequest request = Request(SmallInlineSpec());
  Builtin(request).set_name("mnist");
  const absl::Status status = PrepareJob(request).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("house_prices"));
}

TEST(ValidateJobIdTest, EmptyIsInvalidArgument) {
  EXPECT_THAT(ValidateJobId(""),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("job_id must be set")));
  EXPECT_OK(ValidateJobId("j-1"));
}

}  // namespace
}  // namespace descent::server
