// descentd replicas on PostgreSQL, three figures in one run (in-process descentd servers on
// 127.0.0.1, one worker each, OpenBLAS 1 thread; PostgreSQL 15 started in a temp dir by the
// test harness, tests/testing/postgres_server.h, which runs it with fsync=off):
//
// 1. store: steps/s of a job watched through descentd (a watcher receiving every step, as in
//    service_bench) on the SQLite store and on the PostgreSQL store, against the engine alone;
//    tiny and small, alternating, median of --repeats. Goal: PostgreSQL >= 0.9x SQLite.
// 2. claim: time from SubmitJob's answer to the job seen RUNNING (GetJob polled every
//    millisecond) on an idle replica, median and p95 of --claims jobs: "local", submitted to
//    the idle replica itself (its worker is woken), and "remote", submitted to a replica whose
//    worker is busy and claimed by the idle one (woken by the database's notification of the
//    submission).
// 3. scale: --jobs small jobs submitted round-robin to two replicas with one worker each,
//    against the same jobs on one replica with one worker: jobs finished per second from the
//    first submission to the last job's end (its Job.end_time; the jobs are polled every
//    100 ms), alternating, median of --repeats. Goal >= 1.8x on two cores. The 1-minute load
//    average is printed next to each figure, and next to each scale figure the cores other
//    processes kept busy meanwhile (other_processes_cores, from /proc/stat less this process
//    and its PostgreSQL): the two replicas need both cores, so on a shared machine a ratio
//    measured while others held, say, half a core says little.
//
// Prints JSON lines, e.g.
//   {"bench":"replicas_store","config":"tiny","impl":"postgresql","steps_per_second":..}
//   {"bench":"replicas_store","config":"tiny","postgresql_over_sqlite":0.98,"target":0.9,...}
//   {"bench":"replicas_claim","kind":"remote","median_ms":..,"p95_ms":..}
//   {"bench":"replicas_scale","replicas":2,"jobs_per_second":..,"load_average":..}
//   {"bench":"replicas_scale","ratio":1.93,"target":1.8,"verdict":"met"}
// Usage: replicas_bench [--configs=tiny,small] [--seconds=1] [--repeats=5] [--claims=20]
//                       [--jobs=8] [--parts=store,claim,scale]
// A benchmark, not a test: bench/replicas.sh runs it; ctest never does.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/service_runs.h"
#include "client/descent_client.h"
#include "engine/blas.h"
#include "proto/job_state.h"
#include "server/conversion/engine_to_proto.h"
#include "server/server.h"
#include "tests/testing/postgres_server.h"

namespace descent {
namespace {

using bench::Median;
using bench::ParseFlag;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "replicas_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T OrDie(absl::StatusOr<T> value, const char* what) {
  if (!value.ok()) Die(absl::StrCat(what, ": ", value.status().ToString()));
  return *std::move(value);
}

// The 1-minute load average.
double LoadAverage() {
  std::ifstream file("/proc/loadavg");
  double one_minute = 0;
  file >> one_minute;
  return one_minute;
}

// CPU seconds (user + system) of the PostgreSQL server this process started: the postmaster
// (a child of this process), its live backends, and what its exited children used.
double PostgresCpuSeconds() {
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  struct Stat {
    long pid = 0, ppid = 0;
    double cpu = 0, children = 0;
  };
  std::vector<Stat> all;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream file(entry.path() / "stat");
    std::string text;
    if (!std::getline(file, text)) continue;
    const size_t close = text.rfind(')');
    if (close == std::string::npos || text.find("(postgres)") == std::string::npos) continue;
    // After "pid (comm) ": state ppid ... utime(14) stime(15) cutime(16) cstime(17).
    std::vector<std::string> fields = absl::StrSplit(text.substr(close + 2), ' ');
    if (fields.size() < 15) continue;
    Stat stat;
    stat.pid = std::stol(text);
    stat.ppid = std::stol(fields[1]);
    stat.cpu = (std::stod(fields[11]) + std::stod(fields[12])) / tick;
    stat.children = (std::stod(fields[13]) + std::stod(fields[14])) / tick;
    all.push_back(stat);
  }
  double seconds = 0;
  for (const Stat& postmaster : all) {
    if (postmaster.ppid != getpid()) continue;
    seconds += postmaster.cpu + postmaster.children;
    for (const Stat& backend : all) {
      if (backend.ppid == postmaster.pid) seconds += backend.cpu;
    }
  }
  return seconds;
}

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const size_t index = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size()))) - 1;
  return values[std::min(index, values.size() - 1)];
}

// One descentd with one worker and OpenBLAS on one thread, its job store PostgreSQL at
// `store_url`, or SQLite in a fresh temp dir when it is empty.
struct Replica {
  std::unique_ptr<server::Server> server;
  std::unique_ptr<client::DescentClient> client;
};

Replica StartReplica(const std::string& store_url) {
  server::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.metrics_listen_address = "";
  options.jobs.workers = 1;
  options.jobs.blas_threads = 1;
  if (store_url.empty()) {
    std::string dir = "/tmp/replicas_bench-XXXXXX";
    if (mkdtemp(dir.data()) == nullptr) Die("mkdtemp failed");
    options.job_store_path = dir + "/descent.db";
  } else {
    options.job_store_url = store_url;
  }
  Replica replica;
  replica.server = OrDie(server::Server::Start(options), "start descentd");
  replica.client = client::DescentClient::Connect(replica.server->address());
  return replica;
}

// Polls `client` (every `every`) until job `id` satisfies `done`; the job then.
template <typename Done>
v1::Job PollUntil(client::DescentClient& client, const std::string& id, Done done,
                  absl::Duration every = absl::Milliseconds(1)) {
  const absl::Time deadline = absl::Now() + absl::Minutes(5);
  while (absl::Now() < deadline) {
    absl::StatusOr<v1::Job> job = client.GetJob(id);
    if (job.ok() && done(*job)) return *job;
    absl::SleepFor(every);
  }
  Die(absl::StrCat("job ", id, " did not get there in 5 minutes"));
}

// 1. The watched steps/s of each config on SQLite and PostgreSQL, against the engine alone.
void StoreOverhead(const std::vector<std::string>& names, double seconds, int repeats,
                   testing::PostgresServer& postgres) {
  Replica sqlite = StartReplica("");
  Replica pg = StartReplica(OrDie(postgres.CreateDatabase(), "create a database"));
  for (const std::string& name : names) {
    const bench::Config* config = bench::FindConfig(name);
    if (config == nullptr) Die(absl::StrCat("unknown config ", name, " (tiny, small)"));
    const v1::JobSpec spec = bench::MakeSpec(*config, seconds);
    bench::RunEngine(spec);  // warm-up runs, unmeasured
    bench::RunService(*sqlite.client, spec);
    bench::RunService(*pg.client, spec);
    std::vector<double> engine, on_sqlite, on_postgres, loads;
    std::vector<double> engine_cpu, sqlite_cpu, postgres_cpu;  // steps per CPU second
    int64_t steps = 0;
    for (int r = 0; r < repeats; ++r) {
      const bench::EngineRun alone = bench::RunEngine(spec);
      const bench::ServiceRun a = bench::RunService(*sqlite.client, spec);
      const double postgres_before = PostgresCpuSeconds();
      const bench::ServiceRun b = bench::RunService(*pg.client, spec);
      const double postgres_used = PostgresCpuSeconds() - postgres_before;
      if (a.points != alone.steps || b.points != alone.steps) {
        Die(absl::StrCat("a watcher received ", a.points, " / ", b.points, " points of ",
                         alone.steps, " steps"));
      }
      steps = alone.steps;
      const double n = static_cast<double>(steps);
      engine.push_back(n / alone.seconds);
      on_sqlite.push_back(n / a.seconds);
      on_postgres.push_back(n / b.seconds);
      engine_cpu.push_back(n / alone.cpu_seconds);
      sqlite_cpu.push_back(n / a.cpu_seconds);
      postgres_cpu.push_back(n / (b.cpu_seconds + postgres_used));
      loads.push_back(LoadAverage());
    }
    struct Row {
      const char* impl;
      const std::vector<double>& wall;
      const std::vector<double>& cpu;
    };
    for (const Row& row : {Row{"engine", engine, engine_cpu}, Row{"sqlite", on_sqlite, sqlite_cpu},
                           Row{"postgresql", on_postgres, postgres_cpu}}) {
      std::printf("{\"bench\":\"replicas_store\",\"config\":\"%s\",\"impl\":\"%s\",\"steps\":%lld,"
                  "\"steps_per_second\":%.1f,\"over_engine\":%.3f,\"cpu_steps_per_second\":%.1f}\n",
                  name.c_str(), row.impl, static_cast<long long>(steps), Median(row.wall),
                  Median(row.wall) / Median(engine), Median(row.cpu));
    }
    // The verdict by wall time (what a watcher sees); the CPU figure charges PostgreSQL's
    // processes to its side and is the steadier one on a loaded machine.
    const double ratio = Median(on_postgres) / Median(on_sqlite);
    const double cpu_ratio = Median(postgres_cpu) / Median(sqlite_cpu);
    std::printf("{\"bench\":\"replicas_store\",\"config\":\"%s\",\"postgresql_over_sqlite\":%.3f,"
                "\"cpu_postgresql_over_sqlite\":%.3f,\"target\":0.9,\"verdict\":\"%s\","
                "\"load_average\":%.2f}\n",
                name.c_str(), ratio, cpu_ratio, ratio >= 0.9 ? "met" : "MISSED", Median(loads));
    std::fflush(stdout);
  }
  sqlite.server->Shutdown();
  pg.server->Shutdown();
}

// A tiny job of about `steps` steps.
v1::JobSpec ShortJob(int epochs) {
  v1::JobSpec spec = bench::MakeSpec(*bench::FindConfig("tiny"), 0);
  spec.mutable_training()->set_epochs(epochs);
  return spec;
}

// 2. Submit-to-RUNNING on an idle replica: local and remote claims.
void ClaimLatency(int claims, testing::PostgresServer& postgres) {
  const std::string url = OrDie(postgres.CreateDatabase(), "create a database");
  Replica busy = StartReplica(url);
  // Keeps the busy replica's worker occupied until cancelled (small, many epochs); submitted
  // before the idle replica starts, which would otherwise claim it as soon as it hears of it.
  v1::JobSpec long_job = bench::MakeSpec(*bench::FindConfig("small"), 600);
  const v1::Job blocker = OrDie(busy.client->SubmitJob(long_job, ""), "submit");
  PollUntil(*busy.client, blocker.id(), [&](const v1::Job& job) {
    return job.state() == v1::RUNNING && job.runner() == busy.server->address();
  });
  Replica idle = StartReplica(url);
  for (const bool remote : {false, true}) {
    client::DescentClient& submit_to = remote ? *busy.client : *idle.client;
    std::vector<double> latencies;
    for (int i = 0; i < claims; ++i) {
      const v1::Job job = OrDie(submit_to.SubmitJob(ShortJob(2), ""), "submit");
      const absl::Time submitted = absl::Now();
      const v1::Job running =
          PollUntil(submit_to, job.id(), [](const v1::Job& seen) { return seen.state() != v1::QUEUED; });
      latencies.push_back(absl::ToDoubleMilliseconds(absl::Now() - submitted));
      if (running.runner() != idle.server->address()) {
        Die(absl::StrCat("job ", job.id(), " ran on ", running.runner()));
      }
      PollUntil(submit_to, job.id(), [](const v1::Job& seen) { return IsTerminal(seen.state()); });
    }
    std::printf("{\"bench\":\"replicas_claim\",\"kind\":\"%s\",\"jobs\":%d,\"median_ms\":%.1f,"
                "\"p95_ms\":%.1f,\"max_ms\":%.1f,\"load_average\":%.2f}\n",
                remote ? "remote" : "local", claims, Median(latencies),
                Percentile(latencies, 0.95), Percentile(latencies, 1.0), LoadAverage());
    std::fflush(stdout);
  }
  (void)busy.client->CancelJob(blocker.id());
  busy.server->Shutdown();
  idle.server->Shutdown();
}

// CPU seconds the whole machine spent busy so far (every core; steal counts as busy: the
// hypervisor gave that time to someone else), from /proc/stat.
double MachineBusySeconds() {
  std::ifstream file("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  file >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return (user + nice + system + irq + softirq + steal) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// One run of the scale jobs: jobs finished per second, and the cores (on average over the
// run) that processes other than this one and its PostgreSQL kept busy. On a shared machine
// that second figure says how much of the two cores the run really had.
struct ScaleRun {
  double jobs_per_second = 0;
  double other_cores = 0;
  double postgres_ms_per_job = 0;  // CPU of PostgreSQL's processes
};

// Jobs finished per second: `jobs` small jobs submitted round-robin to `replicas`, from the
// first submission to the last job's end as the job says (Job.end_time: the replicas run in
// this process, on this clock). Each job is polled on the replica it was submitted to, every
// 100 ms: the end is read from the job, so the poll's interval does not count, while its
// work would (a poll of a job another replica trains reads the database, and with two
// replicas no core is spare for it).
ScaleRun JobsPerSecond(std::vector<Replica>& replicas, int jobs, const v1::JobSpec& spec) {
  const double busy_before = MachineBusySeconds();
  const double postgres_before = PostgresCpuSeconds();
  const double own_before = bench::ProcessCpuSeconds() + postgres_before;
  const absl::Time start = absl::Now();
  std::vector<std::pair<client::DescentClient*, std::string>> ids;
  for (int i = 0; i < jobs; ++i) {
    Replica& to = replicas[static_cast<size_t>(i) % replicas.size()];
    ids.emplace_back(to.client.get(), OrDie(to.client->SubmitJob(spec, ""), "submit").id());
  }
  absl::Time last_end = start;
  for (const auto& [client, id] : ids) {
    const v1::Job done = PollUntil(
        *client, id, [](const v1::Job& job) { return IsTerminal(job.state()); },
        absl::Milliseconds(100));
    if (done.state() != v1::SUCCEEDED) Die(absl::StrCat("job ", id, ": ", done.error()));
    last_end = std::max(last_end, server::FromTimestamp(done.end_time()));
  }
  const double polled = absl::ToDoubleSeconds(absl::Now() - start);
  const double postgres = PostgresCpuSeconds() - postgres_before;
  const double own = bench::ProcessCpuSeconds() + postgres + postgres_before - own_before;
  const double others = MachineBusySeconds() - busy_before - own;
  return {jobs / absl::ToDoubleSeconds(last_end - start), std::max(0.0, others / polled),
          1000 * postgres / jobs};
}

// 3. Two replicas with one worker each against one replica with one worker.
void Scale(int jobs, double seconds, int repeats, testing::PostgresServer& postgres) {
  // A database each, so the lone replica has no other to share its jobs with.
  const std::string alone = OrDie(postgres.CreateDatabase(), "create a database");
  const std::string shared = OrDie(postgres.CreateDatabase(), "create a database");
  std::vector<Replica> one, two;
  one.push_back(StartReplica(alone));
  two.push_back(StartReplica(shared));
  two.push_back(StartReplica(shared));
  const v1::JobSpec spec = bench::MakeSpec(*bench::FindConfig("small"), seconds);
  struct Side {
    int replicas;
    std::vector<Replica>& servers;
    std::vector<double> runs, loads, other_cores, postgres_ms;
  };
  Side sides[] = {{1, one, {}, {}, {}, {}}, {2, two, {}, {}, {}, {}}};
  for (int r = 0; r < repeats; ++r) {
    for (Side& side : sides) {
      const ScaleRun run = JobsPerSecond(side.servers, jobs, spec);
      side.runs.push_back(run.jobs_per_second);
      side.other_cores.push_back(run.other_cores);
      side.postgres_ms.push_back(run.postgres_ms_per_job);
      side.loads.push_back(LoadAverage());
    }
  }
  for (const Side& side : sides) {
    std::printf("{\"bench\":\"replicas_scale\",\"replicas\":%d,\"workers_each\":1,\"jobs\":%d,"
                "\"jobs_per_second\":%.3f,\"postgres_cpu_ms_per_job\":%.1f,"
                "\"other_processes_cores\":%.2f,\"load_average\":%.2f}\n",
                side.replicas, jobs, Median(side.runs), Median(side.postgres_ms),
                Median(side.other_cores), Median(side.loads));
  }
  const std::vector<double>& single = sides[0].runs;
  const std::vector<double>& pair = sides[1].runs;
  const double ratio = Median(pair) / Median(single);
  std::printf("{\"bench\":\"replicas_scale\",\"ratio\":%.3f,\"target\":1.8,\"verdict\":\"%s\","
              "\"cores\":%ld}\n",
              ratio, ratio >= 1.8 ? "met" : "MISSED", sysconf(_SC_NPROCESSORS_ONLN));
  std::fflush(stdout);
  for (Replica& replica : two) replica.server->Shutdown();
  one[0].server->Shutdown();
}

int Main(int argc, char** argv) {
  bench::RunFlags flags;
  int claims = 20, jobs = 8;
  std::vector<std::string> parts = {"store", "claim", "scale"};
  for (int i = 1; i < argc; ++i) {
    std::string value;
    const std::string_view arg = argv[i];
    if (bench::ParseRunFlag(arg, &flags)) {
      continue;
    } else if (ParseFlag(arg, "--claims", &value)) {
      claims = std::stoi(value);
    } else if (ParseFlag(arg, "--jobs", &value)) {
      jobs = std::stoi(value);
    } else if (ParseFlag(arg, "--parts", &value)) {
      parts = absl::StrSplit(value, ',', absl::SkipEmpty());
    } else {
      std::fprintf(stderr,
                   "usage: %s [--configs=tiny,small] [--seconds=S] [--repeats=R] [--claims=N] "
                   "[--jobs=N] [--parts=store,claim,scale]\n",
                   argv[0]);
      return 2;
    }
  }
  const std::vector<std::string>& names = flags.configs;
  const double seconds = flags.seconds;
  const int repeats = flags.repeats;
  if (seconds <= 0 || repeats < 1 || claims < 1 || jobs < 2) {
    std::fprintf(stderr, "--seconds must be > 0, --repeats and --claims >= 1, --jobs >= 2\n");
    return 2;
  }
  SetBlasThreads(1);
  std::unique_ptr<testing::PostgresServer> postgres =
      OrDie(testing::PostgresServer::Start(), "start PostgreSQL 15");
  std::printf("# in-process descentd replicas on 127.0.0.1, 1 worker each, OpenBLAS 1 thread; "
              "PostgreSQL 15 on 127.0.0.1:%d (fsync off); medians of %d alternating runs\n",
              postgres->port(), repeats);
  const auto wanted = [&](std::string_view part) {
    return std::find(parts.begin(), parts.end(), part) != parts.end();
  };
  if (wanted("store")) StoreOverhead(names, seconds, repeats, *postgres);
  if (wanted("claim")) ClaimLatency(claims, *postgres);
  if (wanted("scale")) Scale(jobs, seconds, repeats, *postgres);
  return 0;
}

}  // namespace
}  // namespace descent

int main(int argc, char** argv) { return descent::Main(argc, argv); }
