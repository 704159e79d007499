// Service overhead: steps/s of a training job run through descentd (in-process Server on
// 127.0.0.1, one worker, OpenBLAS 1 thread) with a gRPC watcher receiving every step's
// loss, against the same job run by the engine alone (descent::Trainer with an observer that
// does nothing), in the same process and run, alternating, median of repeats.
// Configs (PERFORMANCE.md): tiny = 13-64-1 ReLU, batch 32, MSE, Adam (house_prices data);
// small = 64-128-128-10 ReLU, batch 64, cross-entropy, Adam (blobs, 64 features, 10 classes).
// Targets: service >= 0.8x the engine for tiny (~100k loss points a second to stream),
// >= 0.95x for small.
//
// Both sides time the whole job from its spec: converting it and generating the dataset
// (what SubmitJob does), building the trainer, and training every step with per-epoch
// metrics. The engine side runs PrepareJob, Trainer::Create and Run; the service side times
// SubmitJob to the watcher receiving the terminal event, so its figure includes queueing,
// the RPCs and delivering every loss point to the watcher.
//
// Prints JSON lines:
//   {"bench":"service","config":"tiny","impl":"engine","steps":..,"steps_per_second":..,
//    "cpu_steps_per_second":..}
//   {"bench":"service","config":"tiny","impl":"service",..., "points_received":..}
//   {"bench":"service","config":"tiny","ratio":0.93,"wall_ratio":0.97,"target":0.8,
//    "verdict":"met"}
// steps_per_second is by wall time; cpu_steps_per_second divides by the process's CPU time
// over the same span (all threads), and `ratio` (the verdict) is the CPU-time ratio:
// steady on a loaded machine and strict, since it charges the service with the gRPC,
// serialisation and watcher work on every thread, not only the training thread's.
// Usage: service_bench [--configs=tiny,small] [--seconds=1] [--repeats=5]
// A benchmark, not a test: bench/run.sh runs it; ctest never does.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_split.h"
#include "client/descent_client.h"
#include "client/job_watcher.h"
#include "descent/v1/training.pb.h"
#include "engine/blas.h"
#include "engine/denormals.h"
#include "engine/trainer.h"
#include "server/server.h"
#include "server/conversion/spec_conversion.h"

namespace descent {
namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  std::string name;
  double target;            // service / engine steps/s
  double steps_per_second;  // rough engine speed, to size a run of --seconds
};

const Config kConfigs[] = {{"tiny", 0.80, 100000}, {"small", 0.95, 10000}};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// CPU time of the whole process (all threads). On a shared, loaded machine the wall clock
// also counts the time other processes held the cores; this does not, so it is the steadier
// figure. The idle server threads add next to nothing to the engine side.
double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// The job: 1000 (tiny) or 500 (small) steps an epoch, enough epochs for about `seconds` of
// engine time. No validation split, so both sides do exactly the same work.
v1::JobSpec MakeSpec(const Config& config, double seconds) {
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
EngineRun RunEngine(const v1::JobSpec& spec) {
  const ScopedFlushDenormals flush_denormals;
  const double cpu_start = ProcessCpuSeconds();
  const Clock::time_point start = Clock::now();
  v1::SubmitJobRequest request;
  *request.mutable_spec() = spec;
  absl::StatusOr<server::PreparedJob> job = server::PrepareJob(request);
  if (!job.ok()) {
    std::fprintf(stderr, "service_bench: %s\n", job.status().ToString().c_str());
    std::exit(1);
  }
  auto trainer = Trainer::Create(job->train_spec, std::move(job->dataset), job->initial_parameters);
  if (!trainer.ok()) {
    std::fprintf(stderr, "service_bench: %s\n", std::string(trainer.status().message()).c_str());
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
ServiceRun RunService(client::DescentClient& client, const v1::JobSpec& spec) {
  const double cpu_start = ProcessCpuSeconds();
  const Clock::time_point start = Clock::now();
  absl::StatusOr<v1::Job> job = client.SubmitJob(spec, "");
  if (!job.ok()) {
    std::fprintf(stderr, "service_bench: submit: %s\n", job.status().ToString().c_str());
    std::exit(1);
  }
  CountingSink sink;
  absl::StatusOr<v1::Job> done = client::WatchUntilDone(client, job->id(), {}, sink);
  const double seconds = Seconds(Clock::now() - start);
  if (!done.ok() || done->state() != v1::SUCCEEDED) {
    std::fprintf(stderr, "service_bench: job %s did not succeed: %s\n", job->id().c_str(),
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

bool ParseFlag(std::string_view arg, std::string_view name, std::string* value) {
  if (arg.substr(0, name.size()) != name || arg.size() <= name.size() || arg[name.size()] != '=') {
    return false;
  }
  *value = std::string(arg.substr(name.size() + 1));
  return true;
}

int Main(int argc, char** argv) {
  std::vector<std::string> names = {"tiny", "small"};
  double seconds = 1.0;
  int repeats = 5;
  for (int i = 1; i < argc; ++i) {
    std::string value;
    const std::string_view arg = argv[i];
    if (ParseFlag(arg, "--configs", &value)) {
      names = absl::StrSplit(value, ',', absl::SkipEmpty());
    } else if (ParseFlag(arg, "--seconds", &value)) {
      seconds = std::stod(value);
    } else if (ParseFlag(arg, "--repeats", &value)) {
      repeats = std::stoi(value);
    } else {
      std::fprintf(stderr, "usage: %s [--configs=tiny,small] [--seconds=S] [--repeats=R]\n",
                   argv[0]);
      return 2;
    }
  }
  if (seconds <= 0 || repeats < 1) {
    std::fprintf(stderr, "--seconds must be > 0 and --repeats >= 1\n");
    return 2;
  }

  SetBlasThreads(1);
  server::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.metrics_listen_address = "";  // metrics are still collected, just not served
  options.jobs.workers = 1;
  options.jobs.blas_threads = 1;
  absl::StatusOr<std::unique_ptr<server::Server>> server = server::Server::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "service_bench: %s\n", server.status().ToString().c_str());
    return 1;
  }
  auto client = client::DescentClient::Connect((*server)->address());
  std::printf(
      "# in-process descentd on %s, 1 worker, OpenBLAS 1 thread; process not pinned "
      "(gRPC and the watcher may use the other core); median of %d alternating runs\n",
      (*server)->address().c_str(), repeats);

  for (const std::string& name : names) {
    const Config* config = nullptr;
    for (const Config& c : kConfigs) {
      if (c.name == name) config = &c;
    }
    if (config == nullptr) {
      std::fprintf(stderr, "service_bench: unknown config %s (tiny, small)\n", name.c_str());
      return 2;
    }
    const v1::JobSpec spec = MakeSpec(*config, seconds);
    // One unmeasured run of each side warms caches, the allocator and the connection.
    RunEngine(spec);
    RunService(*client, spec);
    std::vector<double> engine_wall, engine_cpu, service_wall, service_cpu;
    int64_t steps = 0, points = 0;
    for (int r = 0; r < repeats; ++r) {
      const EngineRun engine = RunEngine(spec);
      const ServiceRun service = RunService(*client, spec);
      if (service.points != service.steps || service.steps != engine.steps) {
        std::fprintf(stderr,
                     "service_bench: the watcher received %lld points of %lld steps (engine "
                     "%lld)\n",
                     static_cast<long long>(service.points), static_cast<long long>(service.steps),
                     static_cast<long long>(engine.steps));
        return 1;
      }
      steps = engine.steps;
      points = service.points;
      const double n = static_cast<double>(steps);
      engine_wall.push_back(n / engine.seconds);
      engine_cpu.push_back(n / engine.cpu_seconds);
      service_wall.push_back(n / service.seconds);
      service_cpu.push_back(n / service.cpu_seconds);
    }
    std::printf(
        "{\"bench\":\"service\",\"config\":\"%s\",\"impl\":\"engine\",\"steps\":%lld,"
        "\"steps_per_second\":%.1f,\"cpu_steps_per_second\":%.1f}\n",
        name.c_str(), static_cast<long long>(steps), Median(engine_wall), Median(engine_cpu));
    std::printf(
        "{\"bench\":\"service\",\"config\":\"%s\",\"impl\":\"service\",\"steps\":%lld,"
        "\"steps_per_second\":%.1f,\"cpu_steps_per_second\":%.1f,\"points_received\":%lld}\n",
        name.c_str(), static_cast<long long>(steps), Median(service_wall), Median(service_cpu),
        static_cast<long long>(points));
    // The verdict uses CPU time: steady on a loaded machine, and strict, since it charges the
    // service with every thread's work (gRPC, serialisation, the watcher), not only training.
    const double cpu_ratio = Median(service_cpu) / Median(engine_cpu);
    const double wall_ratio = Median(service_wall) / Median(engine_wall);
    std::printf(
        "{\"bench\":\"service\",\"config\":\"%s\",\"ratio\":%.3f,\"wall_ratio\":%.3f,"
        "\"target\":%.2f,\"verdict\":\"%s\"}\n",
        name.c_str(), cpu_ratio, wall_ratio, config->target,
        cpu_ratio >= config->target ? "met" : "MISSED");
    std::fflush(stdout);
  }
  (*server)->Shutdown();
  return 0;
}

}  // namespace
}  // namespace descent

int main(int argc, char** argv) { return descent::Main(argc, argv); }
