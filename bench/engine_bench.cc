// Engine throughput on the four configs of PERFORMANCE.md (tiny, small, medium, large): one
// full training step = forward, loss (value + gradient), backward, optimizer update, on a
// fixed random batch (bench/pytorch_peer.py times the same step in PyTorch). Also measures
// the machine's sgemm peak (OpenBLAS, 2048^3) in the same run, the ceiling of the large config.
//
// Prints one JSON line per config:
//   {"impl":"descent","config":"tiny","threads":1,"steps_per_second":...,"gflops":...,
//    "forward_us":...,"loss_us":...,"backward_us":...,"optimizer_us":...}
// steps_per_second is the median of --repeats timed runs of about --seconds each; gflops
// counts the step's matrix products (see StepFlops); the *_us fields split one step's time by
// phase, from a separate instrumented run (so the timer calls do not slow the main figure).
// The step is the trainer's: plain SGD (the large config) folds its update into the backward
// pass (Network::BackwardAndDescend), so there backward_us includes it and optimizer_us is 0.
//
// Usage: engine_bench [--configs=tiny,small,medium,large,sgemm] [--threads=1] [--seconds=1]
//                     [--repeats=5] [--flush_denormals] [--profile_steps=N] [--blas_info]
// --flush_denormals runs the steps under ScopedFlushDenormals (engine/denormals.h): without it
// a long run of the tiny net spends most of its optimizer time on denormal moments of dead
// ReLU units. bench/run.sh passes it, and the PyTorch equivalent to the peer.
// --blas_info prints OpenBLAS's build and chosen kernels ("core=...") and exits.
// --profile_steps=N runs exactly N plain steps of each config and prints nothing: a fixed
// amount of work to put under perf stat / perf record / callgrind.
// Run it pinned (taskset -c 0) with OPENBLAS_NUM_THREADS=1, as bench/run.sh does.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_split.h"
#include "bench/bench_configs.h"
#include "engine/blas.h"
#include "engine/denormals.h"
#include "engine/loss.h"
#include "engine/network.h"
#include "engine/optimizer.h"

namespace descent {
namespace {

using Clock = std::chrono::steady_clock;

using bench::Config;

// The multiply-adds of a step, times two: per layer the forward product and dW, and dX for
// every layer but the first (the network's input needs no gradient).
double StepFlops(const Config& config) {
  double flops = 0;
  for (size_t i = 0; i + 1 < config.sizes.size(); ++i) {
    const double products = i == 0 ? 2 : 3;
    flops += products * 2.0 * config.batch * config.sizes[i] * config.sizes[i + 1];
  }
  return flops;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// CPU time of the calling thread. On a shared machine the wall clock also counts the time
// other processes held the core; this does not, so it is the steadier figure.
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

constexpr double kLearningRate = 1e-3;

class Trainer {
 public:
  explicit Trainer(const Config& config) {
    ModelSpec model;
    for (size_t i = 1; i + 1 < config.sizes.size(); ++i) {
      model.hidden_layers.push_back({config.sizes[i], Activation::kRelu, 0.01f});
    }
    const int inputs = config.sizes.front();
    const int outputs = config.sizes.back();
    network_ = std::make_unique<Network>(Network::Create(inputs, outputs, model, 1).value());

    std::mt19937_64 engine(2);
    std::normal_distribution<float> normal;
    x_ = Matrix(config.batch, inputs);
    for (float& v : x_.span()) v = normal(engine);
    LossSpec loss;
    loss.kind = config.loss;
    if (config.loss == LossKind::kCategoricalCrossEntropy) {
      targets_ = Matrix(config.batch, 1);  // class indices
      for (float& v : targets_.span()) v = static_cast<float>(engine() % outputs);
    } else {
      targets_ = Matrix(config.batch, outputs);
      for (float& v : targets_.span()) v = normal(engine);
    }
    loss_ = MakeLoss(loss, outputs).value();
    OptimizerSpec optimizer;
    optimizer.kind = config.optimizer;
    optimizer.learning_rate = kLearningRate;
    params_ = network_->Parameters();
    optimizer_ = MakeOptimizer(optimizer, params_);
  }

  double Step() {
    const Matrix& logits = network_->Forward(x_);
    const double loss = loss_->Compute(logits, targets_, &grad_);
    BackwardAndUpdate();
    return loss;
  }

  // As the trainer does it: plain SGD folded into the backward pass, else backward then the
  // optimizer's step.
  void BackwardAndUpdate() {
    if (optimizer_->IsPlainDescent()) {
      network_->BackwardAndDescend(x_, grad_, kLearningRate);
      optimizer_->CountAppliedStep();
    } else {
      network_->Backward(x_, grad_);
      optimizer_->Step(params_, kLearningRate);
    }
  }

  // The same step with a clock read between phases; appends each phase's seconds (wall or
  // this thread's CPU time).
  void TimedStep(bool cpu_clock, std::vector<double> phases[4]) {
    auto now = [cpu_clock] {
      return cpu_clock ? ThreadCpuSeconds() : Seconds(Clock::now().time_since_epoch());
    };
    const double t0 = now();
    const Matrix& logits = network_->Forward(x_);
    const double t1 = now();
    loss_->Compute(logits, targets_, &grad_);
    const double t2 = now();
    const bool folded = optimizer_->IsPlainDescent();
    if (folded) {
      BackwardAndUpdate();
    } else {
      network_->Backward(x_, grad_);
    }
    const double t3 = now();
    if (!folded) optimizer_->Step(params_, kLearningRate);
    const double t4 = now();
    phases[0].push_back(t1 - t0);
    phases[1].push_back(t2 - t1);
    phases[2].push_back(t3 - t2);
    phases[3].push_back(t4 - t3);
  }

 private:
  std::unique_ptr<Network> network_;
  std::unique_ptr<Loss> loss_;
  std::unique_ptr<Optimizer> optimizer_;
  std::vector<ParameterRef> params_;
  Matrix x_, targets_, grad_;
};

struct Options {
  std::vector<std::string> configs = {"tiny", "small", "medium", "large", "sgemm"};
  int threads = 1;
  double seconds = 1.0;
  int repeats = 5;
  int64_t profile_steps = 0;
  bool flush_denormals = false;
};

struct Rates {
  double wall = 0;         // median iterations per second of wall time
  double cpu = 0;          // median iterations per second of this thread's CPU time
  int64_t iterations = 0;  // per timed run
};

// Runs `body(n)` (n iterations) in `repeats` timed runs of about `seconds` each, after a
// warm-up that also sizes n.
template <typename Body>
Rates MedianRates(const Options& options, Body body) {
  int64_t n = 1;
  double elapsed = 0;
  while (true) {
    const Clock::time_point start = Clock::now();
    body(n);
    elapsed = Seconds(Clock::now() - start);
    if (elapsed >= 0.2 * options.seconds) break;
    n *= 2;
  }
  n = std::max<int64_t>(1, static_cast<int64_t>(n * options.seconds / elapsed));
  std::vector<double> wall, cpu;
  for (int r = 0; r < options.repeats; ++r) {
    const Clock::time_point start = Clock::now();
    const double cpu_start = ThreadCpuSeconds();
    body(n);
    cpu.push_back(static_cast<double>(n) / (ThreadCpuSeconds() - cpu_start));
    wall.push_back(static_cast<double>(n) / Seconds(Clock::now() - start));
  }
  return {Median(wall), Median(cpu), n};
}

void RunConfig(const Config& config, const Options& options) {
  std::optional<ScopedFlushDenormals> flush;
  if (options.flush_denormals) flush.emplace();
  Trainer trainer(config);
  double checksum = 0;
  if (options.profile_steps > 0) {
    for (int64_t i = 0; i < options.profile_steps; ++i) checksum += trainer.Step();
    if (!std::isfinite(checksum))
      std::fprintf(stderr, "%s: non-finite loss\n", config.name.c_str());
    return;
  }
  const Rates rates = MedianRates(options, [&](int64_t n) {
    for (int64_t i = 0; i < n; ++i) checksum += trainer.Step();
  });
  // Phase split: the median of each phase over many steps. Short steps read the wall clock
  // (cheap; the median ignores the steps during which another process took the core); steps
  // over a millisecond read the thread's CPU clock, whose ~1 us cost is then negligible.
  const int64_t timed_steps = std::clamp<int64_t>(rates.iterations / 2, 3, 20000);
  const bool cpu_clock = rates.cpu < 1000.0;
  std::vector<double> phases[4];
  for (std::vector<double>& phase : phases) phase.reserve(static_cast<size_t>(timed_steps));
  for (int64_t i = 0; i < timed_steps; ++i) trainer.TimedStep(cpu_clock, phases);
  std::printf(
      "{\"impl\": \"descent\", \"config\": \"%s\", \"threads\": %d, \"batch\": %d, "
      "\"steps\": %lld, \"repeats\": %d, \"steps_per_second\": %.2f, "
      "\"cpu_steps_per_second\": %.2f, \"gflops\": %.3f, \"cpu_gflops\": %.3f, "
      "\"forward_us\": %.2f, \"loss_us\": %.2f, \"backward_us\": %.2f, "
      "\"optimizer_us\": %.2f, \"flush_denormals\": %s, \"final_loss_finite\": %s}\n",
      config.name.c_str(), BlasThreads(), config.batch, static_cast<long long>(rates.iterations),
      options.repeats, rates.wall, rates.cpu, rates.wall * StepFlops(config) / 1e9,
      rates.cpu * StepFlops(config) / 1e9, 1e6 * Median(phases[0]), 1e6 * Median(phases[1]),
      1e6 * Median(phases[2]), 1e6 * Median(phases[3]), options.flush_denormals ? "true" : "false",
      std::isfinite(checksum) ? "true" : "false");
  std::fflush(stdout);
}

// OpenBLAS sgemm on large square matrices: the machine's attainable peak for this run.
void RunSgemmPeak(const Options& options) {
  constexpr int kSize = 2048;
  const size_t count = static_cast<size_t>(kSize) * kSize;
  std::vector<float> a(count, 0.5f), b(count, 0.25f), c(count, 0.0f);
  const Rates rates = MedianRates(options, [&](int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      BlasSgemm(Transpose::kNo, Transpose::kNo, kSize, kSize, kSize, 1.0f, a.data(), kSize,
                b.data(), kSize, 0.0f, c.data(), kSize);
    }
  });
  const double flops = 2.0 * kSize * kSize * kSize;
  std::printf(
      "{\"impl\": \"openblas\", \"config\": \"sgemm\", \"threads\": %d, \"size\": %d, "
      "\"calls\": %lld, \"repeats\": %d, \"gflops\": %.3f, \"cpu_gflops\": %.3f, "
      "\"blas\": \"%s\"}\n",
      BlasThreads(), kSize, static_cast<long long>(rates.iterations), options.repeats,
      rates.wall * flops / 1e9, rates.cpu * flops / 1e9, BlasConfig().c_str());
  std::fflush(stdout);
}

bool ParseFlag(std::string_view arg, std::string_view name, std::string_view* value) {
  if (arg.substr(0, name.size()) != name || arg.size() <= name.size() || arg[name.size()] != '=') {
    return false;
  }
  *value = arg.substr(name.size() + 1);
  return true;
}

int Main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string_view value;
    const std::string_view arg = argv[i];
    if (ParseFlag(arg, "--configs", &value)) {
      options.configs =
          absl::StrSplit(absl::string_view(value.data(), value.size()), ',', absl::SkipEmpty());
    } else if (ParseFlag(arg, "--threads", &value)) {
      options.threads = std::atoi(std::string(value).c_str());
    } else if (ParseFlag(arg, "--seconds", &value)) {
      options.seconds = std::atof(std::string(value).c_str());
    } else if (ParseFlag(arg, "--repeats", &value)) {
      options.repeats = std::atoi(std::string(value).c_str());
    } else if (arg == "--flush_denormals") {
      options.flush_denormals = true;
    } else if (arg == "--blas_info") {
      std::printf("{\"blas\": \"%s\", \"threads\": %d}\n", BlasConfig().c_str(), BlasThreads());
      return 0;
    } else if (ParseFlag(arg, "--profile_steps", &value)) {
      options.profile_steps = std::atoll(std::string(value).c_str());
    } else {
      std::fprintf(stderr,
                   "usage: %s [--configs=tiny,small,medium,large,sgemm] [--threads=N] "
                   "[--seconds=S] [--repeats=R] [--flush_denormals] [--profile_steps=N] "
                   "[--blas_info]\n",
                   argv[0]);
      return 2;
    }
  }
  if (options.threads < 1 || options.seconds <= 0 || options.repeats < 1) {
    std::fprintf(stderr, "--threads and --repeats must be >= 1 and --seconds > 0\n");
    return 2;
  }
  SetBlasThreads(options.threads);
  for (const std::string& name : options.configs) {
    if (name == "sgemm") {
      RunSgemmPeak(options);
      continue;
    }
    const Config* config = nullptr;
    for (const Config& c : bench::Configs()) {
      if (c.name == name) config = &c;
    }
    if (config == nullptr) {
      std::fprintf(stderr, "unknown config '%s' (tiny, small, medium, large, sgemm)\n",
                   name.c_str());
      return 2;
    }
    RunConfig(*config, options);
  }
  return 0;
}

}  // namespace
}  // namespace descent

int main(int argc, char** argv) { return descent::Main(argc, argv); }
