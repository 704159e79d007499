#include "engine/trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "base/portable_random.h"
#include "engine/dataset.h"
#include "engine/evaluation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/allocation_counter.h"
#include "tests/testing/status_matchers.h"

namespace descent {
namespace {

using ::descent::testing::StatusIs;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

Dataset Builtin(const char* name, int samples, uint64_t seed = 1) {
  absl::StatusOr<Dataset> data = MakeBuiltinDataset(name, {.samples = samples, .seed = seed});
  EXPECT_TRUE(data.ok()) << data.status();
  return *std::move(data);
}

TrainSpec SmallSpec(LossKind kind, int epochs, int batch_size) {
  TrainSpec spec;
  spec.model.hidden_layers = {{.units = 16, .activation = Activation::kTanh},
                              {.units = 8, .activation = Activation::kRelu}};
  spec.loss.kind = kind;
  spec.optimizer.kind = OptimizerKind::kAdam;
  spec.optimizer.learning_rate = 0.01;
  spec.training.epochs = epochs;
  spec.training.batch_size = batch_size;
  spec.training.seed = 42;
  return spec;
}

std::unique_ptr<Trainer> MustCreate(const TrainSpec& spec, Dataset data) {
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(spec, std::move(data));
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  return trainer.ok() ? *std::move(trainer) : nullptr;
}

// Records every event; optionally stops at a step, checkpointing there first.
class Recorder : public TrainingObserver {
 public:
  explicit Recorder(Trainer* trainer = nullptr, int64_t stop_at = 0)
      : trainer_(trainer), stop_at_(stop_at) {}

  bool OnStep(const StepEvent& event) override {
    steps.push_back(event);
    losses.push_back(event.loss);
    if (event.step == stop_at_) {
      if (trainer_ != nullptr) checkpoint = trainer_->Checkpoint();
      return false;
    }
    return true;
  }
  void OnEpoch(const EpochSummary& summary) override { epochs.push_back(summary); }

  std::vector<StepEvent> steps;
  std::vector<double> losses;
  std::vector<EpochSummary> epochs;
  std::optional<TrainerCheckpoint> checkpoint;

 private:
  Trainer* trainer_;
  int64_t stop_at_;
};

std::vector<float> Flatten(const std::vector<LayerParameters>& layers) {
  std::vector<float> all;
  for (const LayerParameters& layer : layers) {
    all.insert(all.end(), layer.weight.values().begin(), layer.weight.values().end());
    all.insert(all.end(), layer.bias.begin(), layer.bias.end());
  }
  return all;
}

TEST(TrainerTest, SplitsAndCountsBatchesLikeADataLoader) {
  TrainSpec spec = SmallSpec(LossKind::kMeanSquaredError, 4, 32);
  spec.training.validation_fraction = 0.2;
  auto trainer = MustCreate(spec, Builtin("house_prices", 100));
  EXPECT_EQ(trainer->train_samples(), 80);
  EXPECT_EQ(trainer->validation_samples(), 20);
  EXPECT_EQ(trainer->steps_per_epoch(), 3);  // 32 + 32 + 16: the partial batch is kept
  EXPECT_EQ(trainer->total_steps(), 12);
  EXPECT_EQ(PlannedSteps(spec.training, 100), 12);  // the same count without a trainer

  spec.training.batch_size = 0;  // full batch
  EXPECT_EQ(MustCreate(spec, Builtin("house_prices", 100))->steps_per_epoch(), 1);
  spec.training.batch_size = 1000;  // larger than the data: one batch
  EXPECT_EQ(MustCreate(spec, Builtin("house_prices", 100))->steps_per_epoch(), 1);
  EXPECT_EQ(PlannedSteps(spec.training, 100), 4);
  spec.training.validation_fraction = 0.001;  // a positive fraction holds out at least one
  EXPECT_EQ(MustCreate(spec, Builtin("house_prices", 100))->validation_samples(), 1);
  spec.training.validation_fraction = 0.8;  // 10 * (1 - 0.8) is 1.9999999999999996 in doubles
  EXPECT_EQ(MustCreate(spec, Builtin("house_prices", 10))->train_samples(), 2);
}

TEST(TrainerTest, RejectsBadSpecsAndData) {
  TrainSpec spec = SmallSpec(LossKind::kMeanSquaredError, 2, 8);
  spec.optimizer.learning_rate = -0.1;
  EXPECT_THAT(Trainer::Create(spec, Builtin("house_prices", 50)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("optimizer.adam.learning_rate must be > 0 (got -0.1)")));

  spec = SmallSpec(LossKind::kMeanSquaredError, 2, 8);
  Dataset data = Builtin("house_prices", 50);
  data.features(3, 2) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(Trainer::Create(spec, std::move(data)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dataset.inline.features.values[41] is NaN")));

  spec.training.validation_fraction = 0.6;
  EXPECT_THAT(
      Trainer::Create(spec, Builtin("house_prices", 2)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("training.validation_fraction")));

  spec = SmallSpec(LossKind::kMeanSquaredError, 2, 8);
  std::vector<LayerParameters> wrong(3);
  EXPECT_THAT(Trainer::Create(spec, Builtin("house_prices", 50), wrong),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("initial_parameters")));

  spec.loss.kind = LossKind::kCategoricalCrossEntropy;  // price targets are not class indices
  EXPECT_THAT(Trainer::Create(spec, Builtin("house_prices", 50)),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST(TrainerTest, ObserverSeesEveryStepInOrderWithTheScheduledRate) {
  TrainSpec spec = SmallSpec(LossKind::kBinaryCrossEntropy, 3, 16);
  spec.schedule.kind = ScheduleKind::kStep;
  spec.schedule.step_size = 5;
  spec.schedule.gamma = 0.5;
  auto trainer = MustCreate(spec, Builtin("moons", 60));
  Recorder recorder;
  const TrainResult result = trainer->Run(&recorder);
  EXPECT_EQ(result.reason, StopReason::kCompleted);
  ASSERT_EQ(result.steps, 12);  // 4 batches (16, 16, 16, 12) x 3 epochs
  ASSERT_EQ(recorder.steps.size(), 12u);
  for (int i = 0; i < 12; ++i) {
    const StepEvent& event = recorder.steps[i];
    EXPECT_EQ(event.step, i + 1);
    EXPECT_EQ(event.epoch, i / 4 + 1);
    EXPECT_DOUBLE_EQ(event.learning_rate, 0.01 * std::pow(0.5, i / 5));
    EXPECT_TRUE(std::isfinite(event.loss));
  }
  ASSERT_EQ(recorder.epochs.size(), 3u);
  for (int e = 0; e < 3; ++e) {
    const EpochSummary& summary = recorder.epochs[e];
    EXPECT_EQ(summary.epoch, e + 1);
    EXPECT_EQ(summary.last_step, 4 * (e + 1));
    const double mean = (recorder.losses[4 * e] + recorder.losses[4 * e + 1] +
                         recorder.losses[4 * e + 2] + recorder.losses[4 * e + 3]) /
                        4;
    EXPECT_DOUBLE_EQ(summary.train.loss, mean);
    ASSERT_TRUE(summary.train.accuracy.has_value());
    EXPECT_FALSE(summary.train.r2.has_value());
    EXPECT_FALSE(summary.validation.has_value());
  }
  EXPECT_EQ(result.epochs.size(), 3u);
}

TEST(TrainerTest, ObserverCanCancel) {
  auto trainer =
      MustCreate(SmallSpec(LossKind::kMeanSquaredError, 10, 8), Builtin("house_prices", 64));
  Recorder recorder(nullptr, 13);
  const TrainResult result = trainer->Run(&recorder);
  EXPECT_EQ(result.reason, StopReason::kCancelled);
  EXPECT_EQ(result.steps, 13);
  EXPECT_EQ(recorder.steps.size(), 13u);
  EXPECT_EQ(result.epochs.size(), 1u);  // epoch 2 never finished
}

TEST(TrainerTest, SameSpecDataAndSeedGiveABitIdenticalTrajectory) {
  TrainSpec spec = SmallSpec(LossKind::kCategoricalCrossEntropy, 5, 20);
  spec.training.validation_fraction = 0.25;
  Recorder a, b, c;
  MustCreate(spec, Builtin("spirals", 150))->Run(&a);
  MustCreate(spec, Builtin("spirals", 150))->Run(&b);
  spec.training.seed = 43;
  MustCreate(spec, Builtin("spirals", 150))->Run(&c);
  ASSERT_EQ(a.losses.size(), 30u);
  EXPECT_EQ(a.losses, b.losses);  // exact, not approximately
  EXPECT_NE(a.losses, c.losses);
}

TEST(TrainerTest, WithoutShuffleEveryEpochSeesTheSameBatches) {
  // With a learning rate far too small to matter, unshuffled epochs repeat their batch losses
  // almost exactly while shuffled ones differ.
  TrainSpec spec = SmallSpec(LossKind::kMeanSquaredError, 2, 10);
  spec.optimizer.kind = OptimizerKind::kSgd;
  spec.optimizer.learning_rate = 1e-12;
  spec.training.shuffle = false;
  Recorder fixed;
  MustCreate(spec, Builtin("house_prices", 40))->Run(&fixed);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(fixed.losses[i], fixed.losses[i + 4], 1e-6);
  spec.training.shuffle = true;
  Recorder shuffled;
  MustCreate(spec, Builtin("house_prices", 40))->Run(&shuffled);
  EXPECT_GT(std::fabs(shuffled.losses[0] - shuffled.losses[4]), 1e-3);
}

// A run checkpointed at `stop_at` and restored into a fresh trainer continues the exact
// trajectory of an uninterrupted run.
void ExpectResumesExactly(const TrainSpec& spec, const char* dataset, int samples,
                          int64_t stop_at) {
  Recorder whole;
  auto uninterrupted = MustCreate(spec, Builtin(dataset, samples));
  const TrainResult whole_result = uninterrupted->Run(&whole);

  auto first = MustCreate(spec, Builtin(dataset, samples));
  Recorder head(first.get(), stop_at);
  first->Run(&head);
  ASSERT_TRUE(head.checkpoint.has_value());
  EXPECT_EQ(head.checkpoint->step, stop_at);

  auto second = MustCreate(spec, Builtin(dataset, samples));
  ASSERT_OK(second->Restore(*head.checkpoint));
  Recorder tail;
  const TrainResult tail_result = second->Run(&tail);

  std::vector<double> joined = head.losses;
  joined.insert(joined.end(), tail.losses.begin(), tail.losses.end());
  EXPECT_THAT(joined, ElementsAreArray(whole.losses));
  EXPECT_EQ(tail.steps.front().step, stop_at + 1);
  EXPECT_EQ(tail_result.steps, whole_result.steps);
  EXPECT_EQ(Flatten(second->network().GetParameters()),
            Flatten(uninterrupted->network().GetParameters()));
  ASSERT_EQ(tail_result.epochs.size(), whole_result.epochs.size());
  for (size_t e = 0; e < whole_result.epochs.size(); ++e) {
    const EpochSummary& x = tail_result.epochs[e];
    const EpochSummary& y = whole_result.epochs[e];
    EXPECT_EQ(x.train.loss, y.train.loss) << e;
    EXPECT_EQ(x.train.accuracy, y.train.accuracy) << e;
    EXPECT_EQ(x.train.r2, y.train.r2) << e;
    ASSERT_EQ(x.validation.has_value(), y.validation.has_value());
    if (x.validation) {
      EXPECT_EQ(x.validation->loss, y.validation->loss) << e;
    }
  }
  EXPECT_EQ(tail_result.diagnosis.message, whole_result.diagnosis.message);
}

TEST(TrainerTest, ResumesMidEpochBitIdentically) {
  TrainSpec spec = SmallSpec(LossKind::kCategoricalCrossEntropy, 4, 16);
  spec.training.validation_fraction = 0.2;
  spec.schedule.kind = ScheduleKind::kCosine;
  spec.training.clip_grad_norm = 1.0;
  // 96 training samples: 6 steps per epoch; step 9 is inside epoch 2.
  ExpectResumesExactly(spec, "cat_dog_bird", 120, 9);
}

TEST(TrainerTest, ResumesFromTheLastStepOfAnEpochBitIdentically) {
  TrainSpec spec = SmallSpec(LossKind::kMeanSquaredError, 3, 25);
  spec.optimizer.kind = OptimizerKind::kRmsprop;
  spec.optimizer.momentum = 0.9;
  spec.training.validation_fraction = 0.2;
  // 80 training samples: 4 steps per epoch; step 8 ends epoch 2 before its summary.
  ExpectResumesExactly(spec, "house_prices", 100, 8);
}

TEST(TrainerTest, RestoreRejectsMisfitsAndLateCalls) {
  const TrainSpec spec = SmallSpec(LossKind::kMeanSquaredError, 3, 10);
  auto trainer = MustCreate(spec, Builtin("house_prices", 40));
  TrainerCheckpoint checkpoint = trainer->Checkpoint();
  checkpoint.step = 99;
  EXPECT_THAT(trainer->Restore(checkpoint),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not fit this run")));
  checkpoint = trainer->Checkpoint();
  checkpoint.parameters.pop_back();
  EXPECT_THAT(trainer->Restore(checkpoint),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  checkpoint = trainer->Checkpoint();
  checkpoint.epoch_metric_sums.push_back(1.0);
  EXPECT_THAT(trainer->Restore(checkpoint),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("epoch_metric_sums")));

  trainer->Run(nullptr);
  EXPECT_THAT(trainer->Restore(trainer->Checkpoint()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("before Run")));
}

TEST(TrainerTest, StartsFromInitialParameters) {
  const TrainSpec spec = SmallSpec(LossKind::kMeanSquaredError, 1, 10);
  auto source = MustCreate(spec, Builtin("house_prices", 40));
  std::vector<LayerParameters> parameters = source->network().GetParameters();
  for (LayerParameters& layer : parameters) layer.weight.Fill(0.125f);
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(spec, Builtin("house_prices", 40), parameters);
  ASSERT_OK(trainer);
  EXPECT_EQ((*trainer)->network().GetParameters()[1].weight(0, 3), 0.125f);
}

class AllocationProbe : public TrainingObserver {
 public:
  bool OnStep(const StepEvent& event) override {
    if (event.step == 10) at_10 = descent::testing::AllocationsOnThisThread();
    if (event.step == 100) at_100 = descent::testing::AllocationsOnThisThread();
    return true;
  }
  int64_t at_10 = -1;
  int64_t at_100 = -1;
};

TEST(TrainerTest, NoAllocationPerStepOnceRunning) {
  // Crosses several epoch boundaries (validation passes, summaries, partial batches) inside
  // the probed window.
  TrainSpec spec = SmallSpec(LossKind::kCategoricalCrossEntropy, 30, 32);
  spec.training.validation_fraction = 0.3;
  spec.training.clip_grad_norm = 5.0;
  spec.schedule.warmup_steps = 20;
  spec.training.early_stopping.patience = 100;
  auto trainer = MustCreate(spec, Builtin("cat_dog_bird", 200));
  const int64_t before = descent::testing::AllocationsOnThisThread();
  ::operator delete(::operator new(16));
  ASSERT_EQ(descent::testing::AllocationsOnThisThread(), before + 1) << "the counter is not live";
  AllocationProbe probe;
  trainer->Run(&probe);
  ASSERT_GE(probe.at_10, 0);
  ASSERT_GE(probe.at_100, 0);
  EXPECT_EQ(probe.at_100, probe.at_10);
}

TEST(TrainerTest, EarlyStoppingCountsPatienceFromTheBestEpoch) {
  // A min_delta no loss can beat: epoch 1 sets the best, epochs 2..4 do not improve, so with
  // patience 3 training stops right after epoch 4.
  TrainSpec spec = SmallSpec(LossKind::kMeanSquaredError, 50, 16);
  spec.training.early_stopping = {.patience = 3, .min_delta = 1e9};
  Recorder recorder;
  const TrainResult result = MustCreate(spec, Builtin("house_prices", 64))->Run(&recorder);
  EXPECT_EQ(result.reason, StopReason::kEarlyStopped);
  EXPECT_EQ(result.epochs.size(), 4u);
  EXPECT_EQ(result.steps, 16);
}

// Checkpoints at the end of every epoch.
class EpochCheckpointer : public TrainingObserver {
 public:
  explicit EpochCheckpointer(Trainer* trainer) : trainer_(trainer) {}
  bool OnStep(const StepEvent&) override { return true; }
  void OnEpoch(const EpochSummary&) override { last = trainer_->Checkpoint(); }
  std::optional<TrainerCheckpoint> last;

 private:
  Trainer* trainer_;
};

TEST(TrainerTest, ARestoredRunKeepsItsDecisionToStop) {
  TrainSpec spec = SmallSpec(LossKind::kMeanSquaredError, 50, 16);
  spec.training.early_stopping = {.patience = 3, .min_delta = 1e9};
  auto first = MustCreate(spec, Builtin("house_prices", 64));
  EpochCheckpointer checkpointer(first.get());
  ASSERT_EQ(first->Run(&checkpointer).reason, StopReason::kEarlyStopped);
  ASSERT_TRUE(checkpointer.last.has_value());
  auto resumed = MustCreate(spec, Builtin("house_prices", 64));
  ASSERT_OK(resumed->Restore(*checkpointer.last));
  Recorder recorder;
  const TrainResult result = resumed->Run(&recorder);
  EXPECT_EQ(result.reason, StopReason::kEarlyStopped);
  EXPECT_EQ(result.steps, 16);
  EXPECT_TRUE(recorder.steps.empty());

  // The same for a divergence: a checkpoint taken at the diverging step resumes as diverged.
  spec = SmallSpec(LossKind::kMeanSquaredError, 3, 16);
  spec.optimizer.kind = OptimizerKind::kSgd;
  spec.optimizer.learning_rate = 50.0;
  Recorder probe;
  MustCreate(spec, Builtin("house_prices", 64))->Run(&probe);
  const int64_t diverged_at = static_cast<int64_t>(probe.steps.size());
  auto diverging = MustCreate(spec, Builtin("house_prices", 64));
  Recorder stopper(diverging.get(), diverged_at);
  diverging->Run(&stopper);
  ASSERT_TRUE(stopper.checkpoint.has_value());
  // The loss exploded past 100x its start while the parameters were still finite (a
  // non-finite model could not be restored).
  ASSERT_TRUE(std::isfinite(probe.losses.back())) << probe.losses.back();
  auto after = MustCreate(spec, Builtin("house_prices", 64));
  ASSERT_OK(after->Restore(*stopper.checkpoint));
  EXPECT_EQ(after->Run(nullptr).reason, StopReason::kDiverged);
}

TEST(TrainerTest, EarlyStoppingWatchesValidationLossWhenThereIsOne) {
  // Targets that are pure noise: a wide network memorises the training split while its
  // validation loss gets worse, and early stopping ends the run.
  Dataset data = Builtin("blobs", 120);
  base::PortableRandom rng(5);
  for (float& y : data.targets.span()) y = static_cast<float>(rng.Normal());
  data.num_classes = 0;
  data.class_names.clear();
  TrainSpec spec = SmallSpec(LossKind::kMeanSquaredError, 400, 0);
  spec.model.hidden_layers = {{.units = 64, .activation = Activation::kRelu}};
  spec.training.validation_fraction = 0.5;
  spec.training.early_stopping = {.patience = 10, .min_delta = 0.0};
  const TrainResult result = MustCreate(spec, std::move(data))->Run(nullptr);
  EXPECT_EQ(result.reason, StopReason::kEarlyStopped);
  ASSERT_LT(result.epochs.size(), 400u);
  // The rule: the best validation loss is exactly `patience` epochs before the last one.
  size_t best = 0;
  for (size_t e = 0; e < result.epochs.size(); ++e) {
    if (result.epochs[e].validation->loss < result.epochs[best].validation->loss) best = e;
  }
  EXPECT_EQ(result.epochs.size() - 1 - best, 10u);
}

TEST(TrainerTest, DivergenceStopsOnlyWhenAskedTo) {
  TrainSpec spec = SmallSpec(LossKind::kMeanSquaredError, 3, 16);
  spec.optimizer.kind = OptimizerKind::kSgd;
  spec.optimizer.learning_rate = 50.0;
  const TrainResult stopped = MustCreate(spec, Builtin("house_prices", 64))->Run(nullptr);
  EXPECT_EQ(stopped.reason, StopReason::kDiverged);
  EXPECT_LT(stopped.steps, 12);
  spec.training.stop_on_divergence = false;
  const TrainResult kept_going = MustCreate(spec, Builtin("house_prices", 64))->Run(nullptr);
  EXPECT_EQ(kept_going.reason, StopReason::kCompleted);
  EXPECT_EQ(kept_going.steps, 12);
  EXPECT_EQ(kept_going.diagnosis.verdict, Verdict::kDiverged);
}

TEST(TrainerTest, RegressionReportsMaeRmseAndR2) {
  TrainSpec spec = SmallSpec(LossKind::kMeanSquaredError, 2, 16);
  spec.training.validation_fraction = 0.25;
  const TrainResult result = MustCreate(spec, Builtin("house_prices", 64))->Run(nullptr);
  const EpochSummary& last = result.epochs.back();
  ASSERT_TRUE(last.train.mae && last.train.rmse && last.train.r2);
  EXPECT_FALSE(last.train.accuracy.has_value());
  ASSERT_TRUE(last.validation.has_value());
  ASSERT_TRUE(last.validation->mae && last.validation->rmse && last.validation->r2);
  EXPECT_LE(*last.validation->mae, *last.validation->rmse);
  // MSE loss is the squared RMSE over the same rows.
  EXPECT_NEAR(last.validation->loss, *last.validation->rmse * *last.validation->rmse,
              1e-5 * last.validation->loss);
}

// --- Evaluate and Predict against a naive computation ---------------------------------

struct Fitted {
  std::unique_ptr<Trainer> trainer;
  Dataset data;
};

Fitted Fit(LossKind kind, const char* dataset, int samples, const TrainSpec* custom = nullptr) {
  TrainSpec spec = custom != nullptr ? *custom : SmallSpec(kind, 2, 32);
  Fitted fitted{MustCreate(spec, Builtin(dataset, samples)), Builtin(dataset, samples, 2)};
  fitted.trainer->Run(nullptr);
  return fitted;
}

TEST(EvaluateTest, ClassificationAccuracyIsTheArgmaxHitRate) {
  Fitted f = Fit(LossKind::kCategoricalCrossEntropy, "spirals", 300);
  Network& net = f.trainer->mutable_network();
  const Matrix logits = net.Forward(f.data.features);
  int hits = 0;
  for (int r = 0; r < logits.rows(); ++r) {
    int best = 0;
    for (int c = 1; c < logits.cols(); ++c) best = logits(r, c) > logits(r, best) ? c : best;
    hits += best == static_cast<int>(f.data.targets(r, 0));
  }
  const double loss = f.trainer->loss().Evaluate(logits, f.data.targets);
  const EvalMetrics metrics = Evaluate(net, f.trainer->loss(), LossKind::kCategoricalCrossEntropy,
                                       f.data.features, f.data.targets);
  ASSERT_TRUE(metrics.accuracy.has_value());
  EXPECT_DOUBLE_EQ(*metrics.accuracy, hits / 300.0);
  EXPECT_DOUBLE_EQ(metrics.loss, loss);
}

TEST(EvaluateTest, BinaryAccuracyThresholdsTheSigmoidAtOneHalf) {
  Fitted f = Fit(LossKind::kBinaryCrossEntropy, "moons", 200);
  Network& net = f.trainer->mutable_network();
  const Matrix logits = net.Forward(f.data.features);
  int hits = 0;
  for (int r = 0; r < logits.rows(); ++r) {
    const double p = 1.0 / (1.0 + std::exp(-static_cast<double>(logits(r, 0))));
    hits += (p >= 0.5) == (f.data.targets(r, 0) == 1.0f);
  }
  const EvalMetrics metrics = Evaluate(net, f.trainer->loss(), LossKind::kBinaryCrossEntropy,
                                       f.data.features, f.data.targets);
  EXPECT_DOUBLE_EQ(*metrics.accuracy, hits / 200.0);
}

TEST(EvaluateTest, RegressionMetricsMatchTheirDefinitionsAcrossChunks) {
  // 5000 rows: evaluated in several chunks, combined exactly.
  Fitted f = Fit(LossKind::kMeanSquaredError, "house_prices", 5000);
  Network& net = f.trainer->mutable_network();
  const Matrix predictions = net.Forward(f.data.features);
  double abs_sum = 0, sq_sum = 0, y_sum = 0;
  for (int r = 0; r < 5000; ++r) {
    const double e = static_cast<double>(predictions(r, 0)) - f.data.targets(r, 0);
    abs_sum += std::fabs(e);
    sq_sum += e * e;
    y_sum += f.data.targets(r, 0);
  }
  double total = 0;
  for (int r = 0; r < 5000; ++r) {
    total += std::pow(f.data.targets(r, 0) - y_sum / 5000, 2);
  }
  const EvalMetrics metrics = Evaluate(net, f.trainer->loss(), LossKind::kMeanSquaredError,
                                       f.data.features, f.data.targets);
  EXPECT_NEAR(*metrics.mae, abs_sum / 5000, 1e-9);
  EXPECT_NEAR(*metrics.rmse, std::sqrt(sq_sum / 5000), 1e-9);
  EXPECT_NEAR(*metrics.r2, 1.0 - sq_sum / total, 1e-9);
  EXPECT_NEAR(metrics.loss, sq_sum / 5000, 1e-6 * metrics.loss);
}

TEST(EvaluateTest, ClassWeightedLossCombinesChunksExactly) {
  TrainSpec spec = SmallSpec(LossKind::kCategoricalCrossEntropy, 1, 64);
  spec.loss.class_weights = {1.0f, 5.0f, 0.25f};
  Fitted f = Fit(LossKind::kCategoricalCrossEntropy, "cat_dog_bird", 4500, &spec);
  Network& net = f.trainer->mutable_network();
  const double whole = f.trainer->loss().Evaluate(net.Forward(f.data.features), f.data.targets);
  const EvalMetrics metrics = Evaluate(net, f.trainer->loss(), LossKind::kCategoricalCrossEntropy,
                                       f.data.features, f.data.targets, spec.loss.class_weights);
  EXPECT_NEAR(metrics.loss, whole, 1e-6 * whole);
}

TEST(PredictTest, AppliesTheLossOutputTransform) {
  Fitted f = Fit(LossKind::kCategoricalCrossEntropy, "spirals", 90);
  absl::StatusOr<Prediction> prediction =
      Predict(f.trainer->mutable_network(), f.trainer->loss(), f.data.features);
  ASSERT_OK(prediction);
  const Matrix* probabilities = &prediction->outputs;
  ASSERT_EQ(probabilities->rows(), 90);
  ASSERT_EQ(probabilities->cols(), 3);
  for (int r = 0; r < 90; ++r) {
    double sum = 0;
    for (int c = 0; c < 3; ++c) {
      EXPECT_GE((*probabilities)(r, c), 0.0f);
      sum += (*probabilities)(r, c);
    }
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }

  Fitted b = Fit(LossKind::kBinaryCrossEntropy, "moons", 50);
  const Matrix logits = b.trainer->mutable_network().Forward(b.data.features);
  absl::StatusOr<Prediction> p =
      Predict(b.trainer->mutable_network(), b.trainer->loss(), b.data.features);
  ASSERT_OK(p);
  for (int r = 0; r < 50; ++r) {
    EXPECT_NEAR(p->outputs(r, 0), 1.0 / (1.0 + std::exp(-static_cast<double>(logits(r, 0)))), 1e-6);
  }
}

// Predict's classes follow the rule accuracy counts with, so the accuracy of the predicted
// classes is the accuracy Evaluate reports.
TEST(PredictTest, ClassesAreTheOnesAccuracyCounts) {
  for (const auto& [kind, dataset, rows] :
       {std::tuple{LossKind::kCategoricalCrossEntropy, "spirals", 90},
        std::tuple{LossKind::kBinaryCrossEntropy, "moons", 50}}) {
    SCOPED_TRACE(dataset);
    Fitted f = Fit(kind, dataset, rows);
    Network& net = f.trainer->mutable_network();
    absl::StatusOr<Prediction> p = Predict(net, f.trainer->loss(), f.data.features);
    ASSERT_OK(p);
    ASSERT_EQ(p->classes.size(), static_cast<size_t>(rows));
    const Matrix logits = net.Forward(f.data.features);
    int correct = 0;
    for (int r = 0; r < rows; ++r) {
      const int expected =
          kind == LossKind::kBinaryCrossEntropy
              ? (logits(r, 0) >= 0.0f ? 1 : 0)
              : static_cast<int>(std::max_element(logits.row(r), logits.row(r) + logits.cols()) -
                                 logits.row(r));
      EXPECT_EQ(p->classes[r], expected) << "row " << r;
      correct += p->classes[r] == static_cast<int>(std::lround(f.data.targets(r, 0))) ? 1 : 0;
    }
    const EvalMetrics metrics =
        Evaluate(net, f.trainer->loss(), kind, f.data.features, f.data.targets);
    ASSERT_TRUE(metrics.accuracy.has_value());
    EXPECT_DOUBLE_EQ(*metrics.accuracy, static_cast<double>(correct) / rows);
  }
}

TEST(PredictTest, RegressionHasNoClasses) {
  Fitted f = Fit(LossKind::kMeanSquaredError, "house_prices", 40);
  absl::StatusOr<Prediction> p =
      Predict(f.trainer->mutable_network(), f.trainer->loss(), f.data.features);
  ASSERT_OK(p);
  EXPECT_EQ(p->outputs.rows(), 40);
  EXPECT_TRUE(p->classes.empty());
}

TEST(PredictedClassTest, ArgmaxForSoftmaxThresholdForOneSigmoidNoneOtherwise) {
  const std::vector<float> tie = {0.5f, 2.0f, 2.0f};
  EXPECT_EQ(PredictedClass(OutputActivation::kSoftmax, tie), 1);  // the first of equal logits
  EXPECT_EQ(PredictedClass(OutputActivation::kSigmoid, std::vector<float>{0.0f}), 1);
  EXPECT_EQ(PredictedClass(OutputActivation::kSigmoid, std::vector<float>{-1e-30f}), 0);
  EXPECT_EQ(PredictedClass(OutputActivation::kSigmoid, std::vector<float>{1.0f, -1.0f}), -1);
  EXPECT_EQ(PredictedClass(OutputActivation::kIdentity, std::vector<float>{3.0f}), -1);
}

TEST(PredictTest, RejectsWrongWidthsAndNonFiniteValues) {
  Fitted f = Fit(LossKind::kMeanSquaredError, "house_prices", 40);
  EXPECT_THAT(Predict(f.trainer->mutable_network(), f.trainer->loss(), Matrix(2, 12)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("features must have 13 columns, one per model input (got 12)")));
  Matrix x(2, 13);
  x(1, 4) = std::numeric_limits<float>::infinity();
  EXPECT_THAT(Predict(f.trainer->mutable_network(), f.trainer->loss(), x),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("features.values[17]")));
}

}  // namespace
}  // namespace descent
