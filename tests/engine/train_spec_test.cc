#include "engine/train_spec.h"

#include <cmath>
#include <functional>
#include <limits>
#include <ostream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace descent {
namespace {

using ::descent::testing::IsOk;
using ::descent::testing::StatusIs;
using ::testing::HasSubstr;

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

TrainSpec ValidSpec() {
  TrainSpec spec;
  spec.model.hidden_layers = {{.units = 16}, {.units = 8, .activation = Activation::kTanh}};
  return spec;
}

TEST(ValidateTest, DefaultsAndEveryOptimizersDefaultsAreValid) {
  EXPECT_THAT(Validate(TrainSpec{}), IsOk());
  EXPECT_THAT(Validate(ValidSpec()), IsOk());
  for (OptimizerKind kind :
       {OptimizerKind::kAdam, OptimizerKind::kRmsprop, OptimizerKind::kAdagrad}) {
    TrainSpec spec = ValidSpec();
    spec.optimizer.kind = kind;
    EXPECT_THAT(Validate(spec), IsOk()) << OptimizerFieldName(kind);
  }
  TrainSpec sgd = ValidSpec();
  sgd.optimizer = {
      .kind = OptimizerKind::kSgd, .learning_rate = 0.01, .momentum = 0.9, .nesterov = true};
  EXPECT_THAT(Validate(sgd), IsOk());
}

TEST(ValidateTest, AcceptsTheEdgesPytorchAccepts) {
  TrainSpec spec = ValidSpec();
  spec.optimizer = {.kind = OptimizerKind::kAdam,
                    .learning_rate = 1e-3,
                    .weight_decay = 0.0,
                    .beta1 = 0.0,
                    .beta2 = 0.0,
                    .epsilon = 0.0};
  spec.loss = {.kind = LossKind::kCategoricalCrossEntropy,
               .class_weights = {0.0f, 1.0f},
               .label_smoothing = 0.0f};
  spec.schedule = {.kind = ScheduleKind::kCosine,
                   .t_max = 0,
                   .eta_min = 0.0,
                   .warmup_steps = 0,
                   .warmup_start_factor = 1.0};
  spec.training.batch_size = 0;
  spec.training.validation_fraction = 0.0;
  spec.training.clip_grad_norm = 0.0;
  EXPECT_THAT(Validate(spec), IsOk());
  spec.optimizer = {.kind = OptimizerKind::kRmsprop, .alpha = 1.0};
  EXPECT_THAT(Validate(spec), IsOk());
  spec.optimizer = {.kind = OptimizerKind::kSgd, .learning_rate = 0.1, .dampening = 1.0};
  EXPECT_THAT(Validate(spec), IsOk());
  spec.schedule = {.kind = ScheduleKind::kExponential, .gamma = 1.5};  // an LR range test
  EXPECT_THAT(Validate(spec), IsOk());
}

struct BadSpec {
  std::string name;
  std::function<void(TrainSpec&)> mutate;
  std::string message;  // a substring of the INVALID_ARGUMENT message
};

void PrintTo(const BadSpec& bad, std::ostream* os) { *os << bad.name; }

class ValidateRejectsTest : public ::testing::TestWithParam<BadSpec> {};

TEST_P(ValidateRejectsTest, InvalidArgumentNamingTheFieldAndTheFix) {
  TrainSpec spec = ValidSpec();
  GetParam().mutate(spec);
  EXPECT_THAT(Validate(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(GetParam().message)));
}

void UseSgd(TrainSpec& spec) {
  spec.optimizer.kind = OptimizerKind::kSgd;
  spec.optimizer.learning_rate = 0.1;
}

INSTANTIATE_TEST_SUITE_P(
    AllFields, ValidateRejectsTest,
    ::testing::Values(
        // model
        BadSpec{"hidden_units_zero",
                [](TrainSpec& s) { s.model.hidden_layers.push_back({.units = 0}); },
                "model.hidden_layers[2].units must be >= 1 (got 0)"},
        BadSpec{"leaky_slope_nan",
                [](TrainSpec& s) {
                  s.model.hidden_layers[1] = {.units = 4,
                                              .activation = Activation::kLeakyRelu,
                                              .negative_slope = std::nanf("")};
                },
                "model.hidden_layers[1].negative_slope must be a finite number (got nan)"},
        // loss options
        BadSpec{"pos_weight_without_bce", [](TrainSpec& s) { s.loss.pos_weight = {2.0f}; },
                "loss_options.pos_weight applies only to BINARY_CROSS_ENTROPY"},
        BadSpec{"class_weights_without_ce",
                [](TrainSpec& s) {
                  s.loss = {.kind = LossKind::kBinaryCrossEntropy, .class_weights = {1.0f}};
                },
                "loss_options.class_weights applies only to CATEGORICAL_CROSS_ENTROPY"},
        BadSpec{"label_smoothing_without_ce", [](TrainSpec& s) { s.loss.label_smoothing = 0.1f; },
                "loss_options.label_smoothing applies only to CATEGORICAL_CROSS_ENTROPY"},
        BadSpec{"label_smoothing_one",
                [](TrainSpec& s) {
                  s.loss = {.kind = LossKind::kCategoricalCrossEntropy, .label_smoothing = 1.0f};
                },
                "loss_options.label_smoothing must be in [0, 1) (got 1)"},
        BadSpec{"pos_weight_negative",
                [](TrainSpec& s) {
                  s.loss = {.kind = LossKind::kBinaryCrossEntropy, .pos_weight = {1.0f, -2.0f}};
                },
                "loss_options.pos_weight[1] must be >= 0 (got -2)"},
        BadSpec{
            "class_weight_negative",
            [](TrainSpec& s) {
              s.loss = {.kind = LossKind::kCategoricalCrossEntropy, .class_weights = {-1.0f, 1.0f}};
            },
            "loss_options.class_weights[0] must be >= 0 (got -1)"},
        BadSpec{
            "class_weights_all_zero",
            [](TrainSpec& s) {
              s.loss = {.kind = LossKind::kCategoricalCrossEntropy, .class_weights = {0.0f, 0.0f}};
            },
            "loss_options.class_weights are all 0; at least one class needs a weight > 0"},
        // optimizer: learning rates
        BadSpec{"adam_learning_rate_negative",
                [](TrainSpec& s) { s.optimizer.learning_rate = -0.1; },
                "optimizer.adam.learning_rate must be > 0 (got -0.1)"},
        BadSpec{"adam_learning_rate_zero", [](TrainSpec& s) { s.optimizer.learning_rate = 0.0; },
                "optimizer.adam.learning_rate must be > 0 (got 0)"},
        BadSpec{"adam_learning_rate_nan", [](TrainSpec& s) { s.optimizer.learning_rate = kNan; },
                "optimizer.adam.learning_rate must be > 0 (got nan)"},
        BadSpec{"rmsprop_learning_rate_infinite",
                [](TrainSpec& s) {
                  s.optimizer = {.kind = OptimizerKind::kRmsprop, .learning_rate = kInf};
                },
                "optimizer.rmsprop.learning_rate must be > 0 (got inf)"},
        BadSpec{"sgd_learning_rate_missing",
                [](TrainSpec& s) { s.optimizer = {.kind = OptimizerKind::kSgd}; },
                "optimizer.sgd.learning_rate is required (PyTorch's SGD has no default)"},
        // optimizer: SGD
        BadSpec{"sgd_momentum_negative",
                [](TrainSpec& s) {
                  UseSgd(s);
                  s.optimizer.momentum = -0.5;
                },
                "optimizer.sgd.momentum must be >= 0 (got -0.5)"},
        BadSpec{"sgd_dampening_above_one",
                [](TrainSpec& s) {
                  UseSgd(s);
                  s.optimizer.dampening = 1.5;
                },
                "optimizer.sgd.dampening must be in [0, 1] (got 1.5)"},
        BadSpec{"sgd_nesterov_without_momentum",
                [](TrainSpec& s) {
                  UseSgd(s);
                  s.optimizer.nesterov = true;
                },
                "optimizer.sgd.nesterov requires momentum > 0 and dampening = 0 (got momentum 0, "
                "dampening 0)"},
        BadSpec{"sgd_nesterov_with_dampening",
                [](TrainSpec& s) {
                  UseSgd(s);
                  s.optimizer.momentum = 0.9;
                  s.optimizer.dampening = 0.1;
                  s.optimizer.nesterov = true;
                },
                "optimizer.sgd.nesterov requires momentum > 0 and dampening = 0"},
        BadSpec{"sgd_weight_decay_negative",
                [](TrainSpec& s) {
                  UseSgd(s);
                  s.optimizer.weight_decay = -1e-4;
                },
                "optimizer.sgd.weight_decay must be >= 0 (got -0.0001)"},
        // optimizer: Adam / AdamW
        BadSpec{"adam_beta1_one", [](TrainSpec& s) { s.optimizer.beta1 = 1.0; },
                "optimizer.adam.beta1 must be in [0, 1) (got 1)"},
        BadSpec{"adam_beta2_negative", [](TrainSpec& s) { s.optimizer.beta2 = -0.1; },
                "optimizer.adam.beta2 must be in [0, 1) (got -0.1)"},
        BadSpec{"adam_epsilon_negative", [](TrainSpec& s) { s.optimizer.epsilon = -1e-8; },
                "optimizer.adam.epsilon must be >= 0 (got -1e-08)"},
        BadSpec{"adamw_decay_factor_negative",
                [](TrainSpec& s) {
                  s.optimizer.decoupled_weight_decay = true;
                  s.optimizer.learning_rate = 0.1;
                  s.optimizer.weight_decay = 20;
                },
                "optimizer.adam.weight_decay * learning_rate must be <= 1 with "
                "decoupled_weight_decay (got 2)"},
        // optimizer: RMSprop
        BadSpec{"rmsprop_alpha_above_one",
                [](TrainSpec& s) { s.optimizer = {.kind = OptimizerKind::kRmsprop, .alpha = 1.5}; },
                "optimizer.rmsprop.alpha must be in [0, 1] (got 1.5)"},
        BadSpec{
            "rmsprop_momentum_negative",
            [](TrainSpec& s) { s.optimizer = {.kind = OptimizerKind::kRmsprop, .momentum = -0.9}; },
            "optimizer.rmsprop.momentum must be >= 0 (got -0.9)"},
        BadSpec{"rmsprop_weight_decay_negative",
                [](TrainSpec& s) {
                  s.optimizer = {.kind = OptimizerKind::kRmsprop, .weight_decay = -0.01};
                },
                "optimizer.rmsprop.weight_decay must be >= 0 (got -0.01)"},
        // optimizer: Adagrad
        BadSpec{
            "adagrad_lr_decay_negative",
            [](TrainSpec& s) { s.optimizer = {.kind = OptimizerKind::kAdagrad, .lr_decay = -0.1}; },
            "optimizer.adagrad.lr_decay must be >= 0 (got -0.1)"},
        BadSpec{"adagrad_initial_accumulator_negative",
                [](TrainSpec& s) {
                  s.optimizer = {.kind = OptimizerKind::kAdagrad, .initial_accumulator_value = -1};
                },
                "optimizer.adagrad.initial_accumulator_value must be >= 0 (got -1)"},
        BadSpec{
            "adagrad_epsilon_nan",
            [](TrainSpec& s) { s.optimizer = {.kind = OptimizerKind::kAdagrad, .epsilon = kNan}; },
            "optimizer.adagrad.epsilon must be >= 0 (got nan)"},
        // schedule
        BadSpec{"step_size_zero",
                [](TrainSpec& s) { s.schedule = {.kind = ScheduleKind::kStep, .step_size = 0}; },
                "schedule.step_size must be >= 1 (got 0)"},
        BadSpec{"step_gamma_zero",
                [](TrainSpec& s) { s.schedule = {.kind = ScheduleKind::kStep, .gamma = 0.0}; },
                "schedule.gamma must be > 0 (got 0)"},
        BadSpec{
            "exponential_gamma_nan",
            [](TrainSpec& s) { s.schedule = {.kind = ScheduleKind::kExponential, .gamma = kNan}; },
            "schedule.gamma must be > 0 (got nan)"},
        BadSpec{"cosine_t_max_negative",
                [](TrainSpec& s) { s.schedule = {.kind = ScheduleKind::kCosine, .t_max = -5}; },
                "schedule.t_max must be >= 0 (got -5); 0 means the whole run"},
        BadSpec{
            "cosine_eta_min_negative",
            [](TrainSpec& s) { s.schedule = {.kind = ScheduleKind::kCosine, .eta_min = -0.001}; },
            "schedule.eta_min must be >= 0 (got -0.001)"},
        BadSpec{"warmup_steps_negative", [](TrainSpec& s) { s.schedule.warmup_steps = -1; },
                "schedule.warmup_steps must be >= 0 (got -1)"},
        BadSpec{"warmup_start_factor_zero",
                [](TrainSpec& s) { s.schedule.warmup_start_factor = 0.0; },
                "schedule.warmup_start_factor must be in (0, 1] (got 0)"},
        BadSpec{"warmup_start_factor_above_one",
                [](TrainSpec& s) { s.schedule.warmup_start_factor = 2.0; },
                "schedule.warmup_start_factor must be in (0, 1] (got 2)"},
        // training
        BadSpec{"epochs_zero", [](TrainSpec& s) { s.training.epochs = 0; },
                "training.epochs must be >= 1 (got 0)"},
        BadSpec{"batch_size_negative", [](TrainSpec& s) { s.training.batch_size = -32; },
                "training.batch_size must be >= 0 (got -32); 0 means full batch"},
        BadSpec{"validation_fraction_too_big",
                [](TrainSpec& s) { s.training.validation_fraction = 1.5; },
                "training.validation_fraction must be in [0, 1) (got 1.5)"},
        BadSpec{"validation_fraction_one",
                [](TrainSpec& s) { s.training.validation_fraction = 1.0; },
                "training.validation_fraction must be in [0, 1) (got 1)"},
        BadSpec{"clip_grad_norm_negative", [](TrainSpec& s) { s.training.clip_grad_norm = -1; },
                "training.clip_grad_norm must be >= 0 (got -1)"},
        BadSpec{"patience_negative", [](TrainSpec& s) { s.training.early_stopping.patience = -2; },
                "training.early_stopping.patience must be >= 0 (got -2)"},
        BadSpec{"min_delta_negative",
                [](TrainSpec& s) { s.training.early_stopping.min_delta = -0.5; },
                "training.early_stopping.min_delta must be >= 0 (got -0.5)"}),
    [](const ::testing::TestParamInfo<BadSpec>& info) { return info.param.name; });

TEST(OptimizerSpecTest, DefaultsArePytorchs) {
  EXPECT_EQ(OptimizerSpec{.kind = OptimizerKind::kAdam}.EffectiveLearningRate(), 1e-3);
  EXPECT_EQ(OptimizerSpec{.kind = OptimizerKind::kRmsprop}.EffectiveLearningRate(), 1e-2);
  EXPECT_EQ(OptimizerSpec{.kind = OptimizerKind::kAdagrad}.EffectiveLearningRate(), 1e-2);
  EXPECT_EQ(
      (OptimizerSpec{.kind = OptimizerKind::kSgd, .learning_rate = 0.3}).EffectiveLearningRate(),
      0.3);
  EXPECT_EQ(OptimizerSpec{.kind = OptimizerKind::kAdam}.EffectiveEpsilon(), 1e-8);
  EXPECT_EQ(OptimizerSpec{.kind = OptimizerKind::kRmsprop}.EffectiveEpsilon(), 1e-8);
  EXPECT_EQ(OptimizerSpec{.kind = OptimizerKind::kAdagrad}.EffectiveEpsilon(), 1e-10);
  EXPECT_EQ((OptimizerSpec{.kind = OptimizerKind::kAdagrad, .epsilon = 0.5}).EffectiveEpsilon(),
            0.5);
}

TEST(OptimizerSpecDeathTest, SgdWithoutLearningRateIsABugOnceValidated) {
  const OptimizerSpec sgd{.kind = OptimizerKind::kSgd};
  EXPECT_DEATH(sgd.EffectiveLearningRate(), "check failed");
}

TEST(OptimizerSpecTest, FieldNamesAreTheJobSpecOneofNames) {
  EXPECT_STREQ(OptimizerFieldName(OptimizerKind::kSgd), "sgd");
  EXPECT_STREQ(OptimizerFieldName(OptimizerKind::kAdam), "adam");
  EXPECT_STREQ(OptimizerFieldName(OptimizerKind::kRmsprop), "rmsprop");
  EXPECT_STREQ(OptimizerFieldName(OptimizerKind::kAdagrad), "adagrad");
}

}  // namespace
}  // namespace descent
