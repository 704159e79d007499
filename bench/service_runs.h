// What the service benchmarks share (service_bench, replicas_bench): the tiny and small jobs
// sized to about a number of seconds of engine time, the job run by the engine alone and
// through a descentd with a watcher receiving every step, medians and flags.
//
// Configs (PERFORMANCE.md): tiny = 13-64-1 ReLU, batch 32, MSE, Adam (house_prices data);
// small = 64-128-128-10 ReLU, batch 64, cross-entropy, Adam (blobs, 64 features, 10 classes).
#ifndef DESCENT_BENCH_SERVICE_RUNS_H_
#define DESCENT_BENCH_SERVICE_RUNS_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_split.h"
#include "client/descent_client.h"
#include "client/job_watcher.h"
#include "descent/v1/training.pb.h"
#include "engine/denormals.h"
#include "engine/trainer.h"
#include "server/conversion/spec_conversion.h"

namespace descent::bench {

using Clock = std::chrono::steady_clock;

struct Config {
  std::string name;
  double target;            // service / engine steps/s
  double steps_per_second;  // rough engine speed, to size a run of --seconds
};

// tiny and small, with service_bench's targets for the service against the engine.
inline const Config kConfigs[] = {{"tiny", 0.80, 100000}, {"small", 0.95, 10000}};

// The config named `name`, or nullptr.
inline const Config* FindConfig(std::string_view name) {
  for (const Config& config : kConfigs) {
    if (config.name == name) return &config;
  }
  return nullptr;
}

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// CPU time of the whole process (all threads). On a shared, loaded machine the wall clock
// also counts the time other processes held the cores; this does not, so it is the steadier
// figure. The idle server threads add next to nothing to the engine side.
inline double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

inline double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// The job: 1000 (tiny) or 500 (small) steps an epoch, enough epochs for about `seconds` of
// engine time. No validation split, so both sides do exactly the same work.
inline v1::JobSpec MakeSpec(const Config& config, double seconds) {
  v1::JobSpec spec;
  spec.set_name(config.name);
  v1::BuiltinDataset* data = spec.mutable_dataset()->mutable_builtin();
  data->set_seed(1);
  int steps_per_epoch = 0;
  int batch = 0;
  if (config.name == "tiny") {
    data->set_name("house_prices");
    steps_per_epoch = 1000;
    batch = 32;
    spec.mutable_model()->add_hidden_layers()->set_units(64);
    spec.set_loss(v1::MEAN_SQUARED_ERROR);
  } else {
    data->set_name("blobs");
    data->set_features(64);
    data->set_classes(10);
    steps_per_epoch = 500;
    batch = 64;
    spec.mutable_model()->add_hidden_layers()->set_units(128);
    spec.mutable_model()->add_hidden_layers()->set_units(128);
    spec.set_loss(v1::CATEGORICAL_CROSS_ENTROPY);
  }
  data->set_samples(steps_per_epoch * batch);
  spec.mutable_optimizer()->mutable_adam()->set_learning_rate(1e-3);
  const int epochs =
      std::max(2, static_cast<int>(seconds * config.steps_per_second / steps_per_epoch + 0.5));
  spec.mutable_training()->set_epochs(epochs);
  spec.mutable_training()->set_batch_size(batch);
  spec.mutable_training()->set_seed(1);
  // Divergence is not what is measured; a run must never stop early.
  spec.mutable_training()->set_stop_on_divergence(false);
  return spec;
}

class NoopObserver : public TrainingObserver {
 public:
  bool OnStep(const StepEvent& /*event*/) override { return true; }
};

struct EngineRun {
  int64_t steps = 0;
  double seconds = 0;
  double cpu_seconds = 0;
};

// The job as the engine alone runs it: the same conversion and dataset generation descentd
// does at submit (PrepareJob), then Trainer::Create and Run with denormals flushed, as
// descentd's training threads do.
inline EngineRun RunEngine(const v1::JobSpec& spec) {
  const ScopedFlushDenormals flush_denormals;
  const double cpu_start = ProcessCpuSeconds();
  const Clock::time_point start = Clock::now();
  v1::SubmitJobRequest request;
  *request.mutable_spec() = spec;
  absl::StatusOr<server::PreparedJob> job = server::PrepareJob(request);
  if (!job.ok()) {
    std::fprintf(stderr, "bench: %s\n", job.status().ToString().c_str());
    std::exit(1);
  }
  auto trainer = Trainer::Create(job->train_spec, std::move(job->dataset), job->initial_parameters);
  if (!trainer.ok()) {
    std::fprintf(stderr, "bench: %s\n", std::string(trainer.status().message()).c_str());
    std::exit(1);
  }
  NoopObserver observer;
  const TrainResult result = (*trainer)->Run(&observer);
  const double seconds = Seconds(Clock::now() - start);
  return {result.steps, seconds, ProcessCpuSeconds() - cpu_start};
}

// Counts the points the watcher receives.
class CountingSink : public client::WatchSink {
 public:
  void OnLosses(int64_t /*first_step*/, const double* /*losses*/, int count) override {
    points += count;
  }
  int64_t points = 0;
};

struct ServiceRun {
  int64_t steps = 0;
  int64_t points = 0;
  double seconds = 0;
  double cpu_seconds = 0;  // every thread: training, gRPC, the watcher
};

// The job through the service: SubmitJob (which converts the spec and generates the data),
// then a watcher receiving every step until the terminal event.
inline ServiceRun RunService(client::DescentClient& client, const v1::JobSpec& spec) {
  const double cpu_start = ProcessCpuSeconds();
  const Clock::time_point start = Clock::now();
  absl::StatusOr<v1::Job> job = client.SubmitJob(spec, "");
  if (!job.ok()) {
    std::fprintf(stderr, "bench: submit: %s\n", job.status().ToString().c_str());
    std::exit(1);
  }
  CountingSink sink;
  absl::StatusOr<v1::Job> done = client::WatchUntilDone(client, job->id(), {}, sink);
  const double seconds = Seconds(Clock::now() - start);
  if (!done.ok() || done->state() != v1::SUCCEEDED) {
    std::fprintf(stderr, "bench: job %s did not succeed: %s\n", job->id().c_str(),
                 done.ok() ? done->error().c_str() : done.status().ToString().c_str());
    std::exit(1);
  }
  ServiceRun run;
  run.steps = done->progress().step();
  run.points = sink.points;
  run.seconds = seconds;
  run.cpu_seconds = ProcessCpuSeconds() - cpu_start;
  return run;
}

inline bool ParseFlag(std::string_view arg, std::string_view name, std::string* value) {
  if (arg.substr(0, name.size()) != name || arg.size() <= name.size() || arg[name.size()] != '=') {
    return false;
  }
  *value = std::string(arg.substr(name.size() + 1));
  return true;
}

// The flags both benchmarks take.
struct RunFlags {
  std::vector<std::string> configs = {"tiny", "small"};
  double seconds = 1.0;  // engine time per job
  int repeats = 5;
};

// Reads --configs=, --seconds= or --repeats= into *flags; false for any other argument.
inline bool ParseRunFlag(std::string_view arg, RunFlags* flags) {
  std::string value;
  if (ParseFlag(arg, "--configs", &value)) {
    flags->configs = absl::StrSplit(value, ',', absl::SkipEmpty());
  } else if (ParseFlag(arg, "--seconds", &value)) {
    flags->seconds = std::stod(value);
  } else if (ParseFlag(arg, "--repeats", &value)) {
    flags->repeats = std::stoi(value);
  } else {
    return false;
  }
  return true;
}

}  // namespace descent::bench

#endif  // DESCENT_BENCH_SERVICE_RUNS_H_
