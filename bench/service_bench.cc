// Service overhead: steps/s of a training job run through descentd (in-process Server on
// 127.0.0.1, one worker, OpenBLAS 1 thread) with a gRPC watcher receiving every step's
// loss, against the same job run by the engine alone (descent::Trainer with an observer that
// does nothing), in the same process and run, alternating, median of repeats.
// Configs (PERFORMANCE.md): tiny = 13-64-1 ReLU, batch 32, MSE, Adam (house_prices data);
// small = 64-128-128-10 ReLU, batch 64, cross-entropy, Adam (blobs, 64 features, 10 classes).
// Targets: service >= 0.8x the engine for tiny (~300k loss points a second to stream),
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
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench/service_runs.h"
#include "client/descent_client.h"
#include "engine/blas.h"
#include "server/server.h"

namespace descent {
namespace {

using bench::EngineRun;
using bench::FindConfig;
using bench::MakeSpec;
using bench::Median;
using bench::RunEngine;
using bench::RunService;
using bench::ServiceRun;

int Main(int argc, char** argv) {
  bench::RunFlags flags;
  for (int i = 1; i < argc; ++i) {
    if (!bench::ParseRunFlag(argv[i], &flags)) {
      std::fprintf(stderr, "usage: %s [--configs=tiny,small] [--seconds=S] [--repeats=R]\n",
                   argv[0]);
      return 2;
    }
  }
  const std::vector<std::string>& names = flags.configs;
  const double seconds = flags.seconds;
  const int repeats = flags.repeats;
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
    const bench::Config* config = FindConfig(name);
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
