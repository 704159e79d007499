#include "engine/trainer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "engine/batching.h"
#include "engine/evaluation.h"
#include "engine/field_error.h"

namespace descent {
namespace {

// Epoch summaries reserved up front, so that recording one never allocates mid-run; longer
// runs grow the vector (amortised, once every doubling).
constexpr int kReservedEpochs = 100'000;

// Copies the listed rows of a dataset part into a new matrix.
Matrix SelectRows(const Matrix& src, absl::Span<const int> rows) {
  Matrix dst(static_cast<int>(rows.size()), src.cols());
  GatherRows(src, rows, &dst);
  return dst;
}

}  // namespace

struct Trainer::Impl {
  TrainSpec spec;
  Matrix train_x, train_y, validation_x, validation_y;
  std::optional<Network> network;
  std::unique_ptr<Loss> loss;
  std::unique_ptr<Optimizer> optimizer;
  std::vector<ParameterRef> params;  // the network's tensors, in the optimizer's order
  int batch_size = 0;
  int64_t steps_per_epoch = 0;
  double base_learning_rate = 0.0;

  // Per-step buffers, sized once.
  std::vector<int> order;  // this epoch's sample order
  Matrix batch_x, batch_y, grad_logits;
  MetricsAccumulator train_metrics{LossKind::kMeanSquaredError, 1};
  std::optional<SplitEvaluator> validator;
  DiagnosisTracker diagnosis{0.0};

  // Position and history.
  int64_t step = 0;  // steps completed
  int epoch = 0;     // epochs completed (summarised)
  double epoch_loss_sum = 0.0;
  std::vector<EpochSummary> epochs;
  // Early stopping: the best monitored loss and the epochs since it improved.
  double best_monitored = std::numeric_limits<double>::infinity();
  int epochs_without_improvement = 0;
  bool patience_exhausted = false;
  bool started = false;

  int64_t total_steps() const { return spec.training.epochs * steps_per_epoch; }
  // Returns false when training must stop, with the reason in *reason.
  bool TrainStep(int epoch_number, int64_t batch_index, TrainingObserver* observer,
                 StopReason* reason);
  // Summarises a finished epoch; false when early stopping ends the run.
  bool FinishEpoch(int epoch_number, TrainingObserver* observer);
  // Early stopping's bookkeeping for one more summary; true when patience ran out.
  bool UpdateEarlyStopping(const EpochSummary& summary);
};

bool Trainer::Impl::TrainStep(int epoch_number, int64_t batch_index, TrainingObserver* observer,
                              StopReason* reason) {
  const int train_rows = train_x.rows();
  const int begin = static_cast<int>(batch_index * batch_size);
  const int rows = std::min(batch_size, train_rows - begin);
  const absl::Span<const int> batch_rows(order.data() + begin, rows);
  GatherRows(train_x, batch_rows, &batch_x);
  GatherRows(train_y, batch_rows, &batch_y);

  const Matrix& logits = network->Forward(batch_x);
  const double batch_loss = loss->Compute(logits, batch_y, &grad_logits);
  train_metrics.Add(logits, batch_y);
  const double lr = ScheduledLearningRate(spec.schedule, base_learning_rate, step, total_steps());
  // Plain SGD folds its update into the gradient products (Network::BackwardAndDescend);
  // clipping needs every gradient before any update, so it takes the separate step.
  if (spec.training.clip_grad_norm <= 0 && optimizer->IsPlainDescent()) {
    network->BackwardAndDescend(batch_x, grad_logits, lr);
    optimizer->CountAppliedStep();
  } else {
    network->Backward(batch_x, grad_logits);
    if (spec.training.clip_grad_norm > 0) {
      ClipGradientNorm(params, spec.training.clip_grad_norm);
    }
    optimizer->Step(params, lr);
  }

  ++step;
  epoch_loss_sum += batch_loss;
  diagnosis.ObserveStep(step, batch_loss);
  const StepEvent event{step, epoch_number, batch_loss, lr};
  if (observer != nullptr && !observer->OnStep(event)) {
    *reason = StopReason::kCancelled;
    return false;
  }
  if (spec.training.stop_on_divergence && diagnosis.diverged()) {
    *reason = StopReason::kDiverged;
    return false;
  }
  return true;
}

bool Trainer::Impl::UpdateEarlyStopping(const EpochSummary& summary) {
  const EarlyStoppingSpec& early = spec.training.early_stopping;
  const double monitored =
      summary.validation.has_value() ? summary.validation->loss : summary.train.loss;
  // The rule of Keras' and Lightning's EarlyStopping: an improvement must beat the best by
  // more than min_delta; a non-finite loss never improves.
  if (std::isfinite(monitored) && monitored < best_monitored - early.min_delta) {
    best_monitored = monitored;
    epochs_without_improvement = 0;
  } else {
    ++epochs_without_improvement;
  }
  patience_exhausted = early.patience > 0 && epochs_without_improvement >= early.patience;
  return patience_exhausted;
}

bool Trainer::Impl::FinishEpoch(int epoch_number, TrainingObserver* observer) {
  EpochSummary summary;
  summary.epoch = epoch_number;
  summary.last_step = step;
  summary.train = train_metrics.Result(epoch_loss_sum / static_cast<double>(steps_per_epoch));
  if (validator.has_value()) {
    summary.validation = validator->Run(*network, *loss, validation_x, validation_y);
  }
  diagnosis.ObserveEpoch(epoch_number, step, summary.train.loss);
  epochs.push_back(summary);
  epoch = epoch_number;
  epoch_loss_sum = 0.0;
  train_metrics.Reset();
  if (observer != nullptr) observer->OnEpoch(summary);
  return !UpdateEarlyStopping(summary);
}

Trainer::Trainer() : impl_(std::make_unique<Impl>()) {}
Trainer::~Trainer() = default;

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(
    const TrainSpec& spec, Dataset dataset,
    const std::optional<std::vector<LayerParameters>>& initial_parameters) {
  RETURN_IF_ERROR(Validate(spec));
  RETURN_IF_ERROR(ValidateDataset(dataset));
  ASSIGN_OR_RETURN(const int outputs, OutputUnits(spec.loss, dataset.targets, dataset.num_classes));

  const int samples = dataset.samples();
  const TrainingOptions& training = spec.training;
  const int validation_rows = ValidationRows(samples, training.validation_fraction);
  const int train_rows = samples - validation_rows;
  if (train_rows < 1) {
    return InvalidFieldError(
        "training.validation_fraction",
        absl::StrCat(" ", training.validation_fraction, " leaves no training samples out of ",
                     samples, "; lower it or send more data"));
  }

  std::unique_ptr<Trainer> trainer(new Trainer());
  Impl& s = *trainer->impl_;
  s.spec = spec;
  const std::vector<int> split = SplitPermutation(training.seed, samples);
  const absl::Span<const int> split_span(split);
  s.train_x = SelectRows(dataset.features, split_span.subspan(0, train_rows));
  s.train_y = SelectRows(dataset.targets, split_span.subspan(0, train_rows));
  if (validation_rows > 0) {
    s.validation_x = SelectRows(dataset.features, split_span.subspan(train_rows));
    s.validation_y = SelectRows(dataset.targets, split_span.subspan(train_rows));
  }
  dataset = Dataset();  // the split copies are all the trainer keeps

  ASSIGN_OR_RETURN(Network network,
                   Network::Create(s.train_x.cols(), outputs, spec.model, training.seed));
  s.network.emplace(std::move(network));
  if (initial_parameters.has_value()) {
    RETURN_IF_ERROR(s.network->SetParameters(*initial_parameters));
  }
  ASSIGN_OR_RETURN(s.loss, MakeLoss(spec.loss, outputs));
  s.params = s.network->Parameters();
  s.optimizer = MakeOptimizer(spec.optimizer, s.params);
  s.base_learning_rate = spec.optimizer.EffectiveLearningRate();

  s.batch_size = training.batch_size == 0 ? train_rows : std::min(training.batch_size, train_rows);
  s.steps_per_epoch = StepsPerEpoch(train_rows, training.batch_size);
  s.order.resize(train_rows);
  s.batch_x = Matrix(s.batch_size, s.train_x.cols());
  s.batch_y = Matrix(s.batch_size, s.train_y.cols());
  s.grad_logits = Matrix(s.batch_size, outputs);
  s.train_metrics = MetricsAccumulator(spec.loss.kind, s.train_y.cols());
  s.diagnosis = DiagnosisTracker(s.base_learning_rate);
  s.epochs.reserve(std::min(training.epochs, kReservedEpochs));
  if (validation_rows > 0) {
    s.validator.emplace(spec.loss.kind, s.validation_x.cols(), s.validation_y.cols(),
                        validation_rows, spec.loss.class_weights);
    // Size the network's activations for the largest forward pass of the run now, so the
    // first validation pass does not allocate mid-run.
    if (s.validator->max_rows() > s.batch_size) {
      s.network->Forward(Matrix(s.validator->max_rows(), s.train_x.cols()));
    }
  }
  return trainer;
}

int64_t PlannedSteps(const TrainingOptions& training, int samples) {
  return training.epochs *
         StepsPerEpoch(samples - ValidationRows(samples, training.validation_fraction),
                       training.batch_size);
}

int64_t Trainer::total_steps() const { return impl_->total_steps(); }
int64_t Trainer::steps_per_epoch() const { return impl_->steps_per_epoch; }
int Trainer::train_samples() const { return impl_->train_x.rows(); }
int Trainer::validation_samples() const { return impl_->validation_x.rows(); }
const Network& Trainer::network() const { return *impl_->network; }
Network& Trainer::mutable_network() { return *impl_->network; }
const Loss& Trainer::loss() const { return *impl_->loss; }

TrainResult Trainer::Run(TrainingObserver* observer) {
  Impl& s = *impl_;
  DESCENT_CHECK(!s.started);
  s.started = true;
  StopReason reason = StopReason::kCompleted;
  bool stopped = false;
  // A checkpoint taken after the run had already decided to stop resumes as stopped.
  if (s.patience_exhausted) {
    reason = StopReason::kEarlyStopped;
    stopped = true;
  } else if (s.spec.training.stop_on_divergence && s.diagnosis.diverged()) {
    reason = StopReason::kDiverged;
    stopped = true;
  }
  while (!stopped && s.epoch < s.spec.training.epochs) {
    const int epoch_number = s.epoch + 1;
    EpochOrder(s.spec.training.seed, epoch_number, s.spec.training.shuffle,
               absl::MakeSpan(s.order));
    // Non-zero only when resuming a checkpoint taken mid-epoch.
    const int64_t first_batch = s.step - static_cast<int64_t>(s.epoch) * s.steps_per_epoch;
    for (int64_t b = first_batch; b < s.steps_per_epoch; ++b) {
      if (!s.TrainStep(epoch_number, b, observer, &reason)) {
        stopped = true;
        break;
      }
    }
    if (!stopped && !s.FinishEpoch(epoch_number, observer)) {
      reason = StopReason::kEarlyStopped;
      stopped = true;
    }
  }
  TrainResult result;
  result.reason = reason;
  result.steps = s.step;
  result.epochs = s.epochs;
  result.diagnosis = s.diagnosis.Current();
  return result;
}

TrainerCheckpoint Trainer::Checkpoint() const {
  const Impl& s = *impl_;
  TrainerCheckpoint checkpoint;
  checkpoint.step = s.step;
  checkpoint.epoch = s.epoch;
  checkpoint.parameters = s.network->GetParameters();
  checkpoint.optimizer = s.optimizer->SaveState();
  checkpoint.epochs = s.epochs;
  checkpoint.epoch_loss_sum = s.epoch_loss_sum;
  checkpoint.epoch_metric_sums = s.train_metrics.Save();
  checkpoint.diagnosis = s.diagnosis.state();
  return checkpoint;
}

absl::Status Trainer::Restore(const TrainerCheckpoint& checkpoint) {
  Impl& s = *impl_;
  if (s.started) {
    return absl::FailedPreconditionError(
        "Restore must be called before Run; create a new Trainer to resume from a checkpoint");
  }
  const int epochs = s.spec.training.epochs;
  const int64_t epoch_start = static_cast<int64_t>(checkpoint.epoch) * s.steps_per_epoch;
  // Within an epoch the position runs 0..steps_per_epoch; the end means "all batches done,
  // summary pending" (a checkpoint taken in OnStep of the epoch's last step).
  const bool position_ok = checkpoint.epoch >= 0 && checkpoint.epoch <= epochs &&
                           checkpoint.step >= epoch_start &&
                           checkpoint.step <= epoch_start + s.steps_per_epoch &&
                           (checkpoint.epoch < epochs || checkpoint.step == epoch_start);
  if (!position_ok || checkpoint.epochs.size() != static_cast<size_t>(checkpoint.epoch)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint at step ", checkpoint.step, ", epoch ", checkpoint.epoch, " with ",
        checkpoint.epochs.size(), " epoch summaries does not fit this run (", epochs, " epochs of ",
        s.steps_per_epoch, " steps); restore only checkpoints made with the same spec and data"));
  }

  // Stage everything that can fail before touching the trainer.
  MetricsAccumulator metrics = s.train_metrics;
  metrics.Reset();
  if (!checkpoint.epoch_metric_sums.empty()) {
    RETURN_IF_ERROR(metrics.Load(checkpoint.epoch_metric_sums));
  }
  DiagnosisTracker diagnosis(s.base_learning_rate);
  RETURN_IF_ERROR(diagnosis.LoadState(checkpoint.diagnosis));
  const std::vector<LayerParameters> previous = s.network->GetParameters();
  RETURN_IF_ERROR(s.network->SetParameters(checkpoint.parameters));
  s.params = s.network->Parameters();
  std::unique_ptr<Optimizer> optimizer = MakeOptimizer(s.spec.optimizer, s.params);
  if (absl::Status status = optimizer->LoadState(s.params, checkpoint.optimizer); !status.ok()) {
    DESCENT_CHECK(s.network->SetParameters(previous).ok());
    s.params = s.network->Parameters();
    return status;
  }

  s.optimizer = std::move(optimizer);
  s.train_metrics = std::move(metrics);
  s.diagnosis = std::move(diagnosis);
  s.step = checkpoint.step;
  s.epoch = checkpoint.epoch;
  s.epoch_loss_sum = checkpoint.epoch_loss_sum;
  s.epochs = checkpoint.epochs;
  s.epochs.reserve(std::min(epochs, kReservedEpochs));
  s.best_monitored = std::numeric_limits<double>::infinity();
  s.epochs_without_improvement = 0;
  s.patience_exhausted = false;
  for (const EpochSummary& summary : s.epochs) s.UpdateEarlyStopping(summary);
  return absl::OkStatus();
}

}  // namespace descent
