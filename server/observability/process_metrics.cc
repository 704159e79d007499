#include "server/observability/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "prometheus/metric_type.h"

namespace descent::server {
namespace {

struct ProcStat {
  double cpu_seconds = 0;       // utime + stime
  double start_since_boot = 0;  // seconds after boot
  double virtual_bytes = 0;
  double resident_bytes = 0;
};

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// /proc/self/stat: "pid (comm) state ppid ...". comm may hold spaces and parentheses, so
// the fields are counted from the last ')'. Field numbers follow proc(5).
ProcStat ReadProcStat() {
  ProcStat stat;
  const std::string text = ReadFile("/proc/self/stat");
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return stat;
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(text).substr(close + 1), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state); field n is fields[n - 3].
  auto field = [&](int n) -> double {
    double value = 0;
    const size_t index = static_cast<size_t>(n - 3);
    if (index < fields.size() && absl::SimpleAtod(fields[index], &value)) return value;
    return 0;
  };
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  stat.cpu_seconds = (field(14) + field(15)) / ticks;
  stat.start_since_boot = field(22) / ticks;
  stat.virtual_bytes = field(23);
  stat.resident_bytes = field(24) * page;
  return stat;
}

// Boot time in seconds since the epoch ("btime" in /proc/stat).
double BootTime() {
  std::ifstream in("/proc/stat");
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "btime ")) {
      double value = 0;
      if (absl::SimpleAtod(absl::string_view(line).substr(6), &value)) return value;
    }
  }
  return 0;
}

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  const int own = dirfd(dir);
  const std::string own_name = std::to_string(own);
  double count = 0;
  while (const dirent* entry = readdir(dir)) {
    const absl::string_view name = entry->d_name;
    if (name == "." || name == ".." || name == own_name) continue;
    ++count;
  }
  closedir(dir);
  return count;
}

double MaxFds() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 0;
  return static_cast<double>(limit.rlim_cur);
}

prometheus::MetricFamily Family(std::string name, std::string help, prometheus::MetricType type,
                                double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return prometheus::MetricFamily{std::move(name), std::move(help), type, {std::move(metric)}};
}

}  // namespace

std::vector<prometheus::MetricFamily> CollectProcessMetrics() {
  using prometheus::MetricType;
  const ProcStat stat = ReadProcStat();
  // Boot time is fixed; read it once.
  static const double boot_time = BootTime();
  std::vector<prometheus::MetricFamily> families;
  families.push_back(Family("process_cpu_seconds_total",
                            "Total user and system CPU time spent in seconds.", MetricType::Counter,
                            stat.cpu_seconds));
  families.push_back(Family("process_resident_memory_bytes", "Resident memory size in bytes.",
                            MetricType::Gauge, stat.resident_bytes));
  families.push_back(Family("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                            MetricType::Gauge, stat.virtual_bytes));
  families.push_back(
      Family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, OpenFds()));
  families.push_back(Family("process_max_fds", "Maximum number of open file descriptors.",
                            MetricType::Gauge, MaxFds()));
  families.push_back(Family("process_start_time_seconds",
                            "Start time of the process since unix epoch in seconds.",
                            MetricType::Gauge, boot_time + stat.start_since_boot));
  return families;
}

}  // namespace descent::server
