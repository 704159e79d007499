// Proof against the real thing: Debian's Prometheus server scrapes a real descentd while
// jobs run, and what Prometheus stores agrees with what the jobs report over gRPC; promtool
// finds no problem in the exposition; the Grafana dashboard is valid JSON whose every
// expression parses in Prometheus and names only metrics descentd exports.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/integration/descentd_process.h"
#include "tests/testing/http_get.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace descent::integration {
namespace {

using ::google::protobuf::ListValue;
using ::google::protobuf::Struct;
using ::google::protobuf::Value;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The path of `name` on PATH, or "" when it is not installed.
std::string FindExecutable(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::vector<std::string> dirs = absl::StrSplit(path == nullptr ? "" : path, ':');
  dirs.push_back("/usr/bin");
  for (const std::string& dir : dirs) {
    const std::string candidate = absl::StrCat(dir, "/", name);
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

absl::StatusOr<Value> ParseJson(const std::string& text) {
  Value value;
  const auto status = google::protobuf::util::JsonStringToMessage(text, &value);
  if (!status.ok()) {
    return absl::DataLossError(absl::StrCat("not JSON (", status.ToString(), "): ", text));
  }
  return value;
}

// Calls `done` until it returns true or `timeout` passes; true if it did.
bool PollUntil(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return true;
}

// One sample of a query result: its labels, value and timestamp (seconds since the epoch).
struct Sample {
  std::map<std::string, std::string> labels;
  double value = NAN;
  double time = 0;
};

// A `[time, "value"]` pair of the query API.
Sample ToSample(const Struct& metric, const Value& pair) {
  Sample sample;
  for (const auto& [key, value] : metric.fields()) sample.labels[key] = value.string_value();
  const ListValue& list = pair.list_value();
  if (list.values_size() == 2) {
    sample.time = list.values(0).number_value();
    // Prometheus writes values as strings: "NaN", "+Inf" and Go's shortest round-trip form.
    if (!absl::SimpleAtod(list.values(1).string_value(), &sample.value)) sample.value = NAN;
  }
  return sample;
}

// A Prometheus server started for one test: loopback, a free port, a temporary config and
// storage dir, scraping one target every second. Stopped and deleted on destruction.
class PrometheusServer {
 public:
  static absl::StatusOr<std::unique_ptr<PrometheusServer>> Start(const std::string& binary,
                                                                 const std::string& target) {
    static int instance = 0;
    const std::string dir =
        absl::StrCat(::testing::TempDir(), "/prometheus-", getpid(), "-", ++instance);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir + "/data");
    const std::string config = dir + "/prometheus.yml";
    std::ofstream(config) << "global:\n"
                          << "  scrape_interval: 1s\n"
                          << "  scrape_timeout: 1s\n"
                          << "  evaluation_interval: 1s\n"
                          << "scrape_configs:\n"
                          << "  - job_name: descentd\n"
                          << "    static_configs:\n"
                          << "      - targets: [\"" << target << "\"]\n";
    std::unique_ptr<PrometheusServer> server(new PrometheusServer(dir));
    // The port is free when picked; if another process takes it first, Prometheus exits
    // and we try another.
    std::string last_error;
    for (int attempt = 0; attempt < 3; ++attempt) {
      server->port_ = testing::PickFreePort();
      absl::StatusOr<std::unique_ptr<testing::Subprocess>> process = testing::Subprocess::Start(
          {binary, "--config.file=" + config, "--storage.tsdb.path=" + dir + "/data",
           absl::StrCat("--web.listen-address=127.0.0.1:", server->port_), "--log.level=warn"});
      if (!process.ok()) return process.status();
      server->process_ = *std::move(process);
      const bool ready = PollUntil(
          [&] {
            absl::StatusOr<testing::HttpResponse> response =
                testing::HttpGet(server->port_, "/-/ready", absl::Seconds(2));
            return (response.ok() && response->status == 200) ||
                   server->process_->Wait(absl::ZeroDuration()).ok();
          },
          absl::Seconds(60));
      if (ready && !server->process_->Wait(absl::ZeroDuration()).ok()) return server;
      server->process_->Signal(SIGKILL);
      (void)server->process_->Wait(absl::Seconds(10));
      last_error = server->process_->Stderr();
      server->process_.reset();
    }
    return absl::UnavailableError(absl::StrCat("prometheus did not become ready: ", last_error));
  }

  ~PrometheusServer() {
    if (process_ != nullptr) {
      process_->Signal(SIGTERM);
      if (!process_->Wait(absl::Seconds(20)).ok()) process_->Signal(SIGKILL);
      process_.reset();
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // GETs an API path and returns the response's "data", or the error Prometheus gave.
  absl::StatusOr<Value> Api(const std::string& target) const {
    absl::StatusOr<testing::HttpResponse> response = testing::HttpGet(port_, target);
    if (!response.ok()) return response.status();
    absl::StatusOr<Value> json = ParseJson(response->body);
    if (!json.ok()) return json.status();
    const auto& fields = json->struct_value().fields();
    if (response->status != 200 || !fields.contains("status") ||
        fields.at("status").string_value() != "success") {
      return absl::InvalidArgumentError(
          absl::StrCat(target, " -> HTTP ", response->status, ": ", response->body));
    }
    return fields.at("data");
  }

  // An instant query evaluated now: its vector or matrix samples, newest last per series.
  absl::StatusOr<std::vector<Sample>> Query(const std::string& promql) const {
    absl::StatusOr<Value> data = Api("/api/v1/query?query=" + testing::UrlEncode(promql));
    if (!data.ok()) return data.status();
    std::vector<Sample> samples;
    for (const Value& result : data->struct_value().fields().at("result").list_value().values()) {
      const auto& fields = result.struct_value().fields();
      const Struct& metric = fields.at("metric").struct_value();
      if (fields.contains("value")) samples.push_back(ToSample(metric, fields.at("value")));
      if (fields.contains("values")) {
        for (const Value& pair : fields.at("values").list_value().values()) {
          samples.push_back(ToSample(metric, pair));
        }
      }
    }
    return samples;
  }

  std::string Log() const { return process_ == nullptr ? "" : process_->Stderr(); }

 private:
  explicit PrometheusServer(std::string dir) : dir_(std::move(dir)) {}

  std::string dir_;
  int port_ = 0;
  std::unique_ptr<testing::Subprocess> process_;
};

// The newest sample of an instant query with exactly one series, scraped after `after`
// (seconds since the epoch); polls for up to 90 s (scrapes lag on a loaded machine).
// NOT_FOUND when none comes.
absl::StatusOr<Sample> SampleScrapedAfter(const PrometheusServer& prometheus,
                                          const std::string& selector, double after) {
  // A range selector returns raw samples with the time they were scraped.
  const std::string promql = absl::StrCat(selector, "[10s]");
  Sample newest;
  std::string last;
  const bool found = PollUntil(
      [&] {
        absl::StatusOr<std::vector<Sample>> samples = prometheus.Query(promql);
        if (!samples.ok()) {
          last = samples.status().ToString();
          return false;
        }
        last = absl::StrCat(samples->size(), " samples");
        if (samples->empty() || samples->back().time <= after) return false;
        newest = samples->back();
        return true;
      },
      absl::Seconds(90));
  if (!found) {
    return absl::NotFoundError(absl::StrCat("no sample of ", selector, " scraped after ", after,
                                            " (last: ", last,
                                            "); prometheus log: ", prometheus.Log()));
  }
  return newest;
}

double Seconds(const google::protobuf::Timestamp& time) {
  return static_cast<double>(google::protobuf::util::TimeUtil::TimestampToMilliseconds(time)) /
         1000.0;
}

// Polls GetJob until the job is in `state`; fails the test otherwise.
absl::StatusOr<v1::Job> WaitForState(client::DescentClient& client, const std::string& id,
                                     v1::JobState state) {
  absl::StatusOr<v1::Job> job;
  PollUntil(
      [&] {
        job = client.GetJob(id);
        return !job.ok() || job->state() == state;
      },
      absl::Seconds(120));
  if (job.ok() && job->state() != state) {
    return absl::DeadlineExceededError(absl::StrCat(
        "job ", id, " is ", v1::JobState_Name(job->state()), ", not ", v1::JobState_Name(state)));
  }
  return job;
}

v1::JobSpec HousePrices(const std::string& name, int samples, int batch, int epochs) {
  v1::JobSpec spec;
  spec.set_name(name);
  spec.mutable_dataset()->mutable_builtin()->set_name("house_prices");
  spec.mutable_dataset()->mutable_builtin()->set_samples(samples);
  spec.mutable_model()->add_hidden_layers()->set_units(8);
  spec.set_loss(v1::MEAN_SQUARED_ERROR);
  spec.mutable_optimizer()->mutable_adam()->set_learning_rate(0.01);
  spec.mutable_training()->set_epochs(epochs);
  spec.mutable_training()->set_batch_size(batch);
  return spec;
}

// The names of every sample line of a text exposition (histograms give _bucket, _sum,
// _count).
std::set<std::string> SampleNames(const std::string& exposition) {
  std::set<std::string> names;
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (line.empty() || line.front() == '#') continue;
    names.insert(std::string(line.substr(0, line.find_first_of("{ "))));
  }
  return names;
}

// The metric names a PromQL expression selects: identifiers outside strings, label
// matchers and ranges that are not function names, keywords or grouping labels.
std::set<std::string> MetricNamesIn(std::string_view expr) {
  static const std::set<std::string> kGrouping = {"by",       "without",    "on",
                                                  "ignoring", "group_left", "group_right"};
  static const std::set<std::string> kOperators = {"and",  "or",     "unless",
                                                   "bool", "offset", "atan2"};
  std::set<std::string> names;
  auto skip_to = [&](size_t i, char open, char close) {
    int depth = 0;
    for (; i < expr.size(); ++i) {
      if (expr[i] == '"' || expr[i] == '\'') {
        const char quote = expr[i];
        for (++i; i < expr.size() && expr[i] != quote; ++i) {
          if (expr[i] == '\\') ++i;
        }
      } else if (expr[i] == open) {
        ++depth;
      } else if (expr[i] == close && --depth == 0) {
        return i + 1;
      }
    }
    return i;
  };
  auto is_name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  };
  size_t i = 0;
  while (i < expr.size()) {
    const char c = expr[i];
    if (c == '{') {
      i = skip_to(i, '{', '}');
    } else if (c == '[') {
      i = skip_to(i, '[', ']');
    } else if (c == '"' || c == '\'') {
      i = skip_to(i, c, c);
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      while (i < expr.size() && (is_name_char(expr[i]) || expr[i] == '.')) ++i;
    } else if (is_name_char(c) || c == '$') {
      size_t end = i + 1;
      while (end < expr.size() && is_name_char(expr[end])) ++end;
      const std::string word(expr.substr(i, end - i));
      size_t next = end;
      while (next < expr.size() && std::isspace(static_cast<unsigned char>(expr[next]))) ++next;
      const bool call = next < expr.size() && expr[next] == '(';
      i = end;
      // An aggregation's clause may come before its argument: `sum by (le) (...)`.
      const bool aggregation = expr.substr(next, 3) == "by " || expr.substr(next, 3) == "by(" ||
                               expr.substr(next, 7) == "without";
      if (kGrouping.count(word)) {
        if (call) i = skip_to(next, '(', ')');
      } else if (!call && !aggregation && !kOperators.count(word) && word.front() != '$') {
        names.insert(word);
      }
    } else {
      ++i;
    }
  }
  return names;
}

TEST(MetricNamesInTest, FindsSelectedMetricsOnly) {
  EXPECT_EQ(MetricNamesIn("histogram_quantile(0.9, sum by (le, grpc_method) "
                          "(rate(a_bucket{x=~\"$v\",y!=\"q{}\"}[$__rate_interval])))"),
            std::set<std::string>{"a_bucket"});
  EXPECT_EQ(MetricNamesIn("sum by (m, c) (rate(a{c!=\"OK\"}[1m])) / ignoring (c) group_left "
                          "sum by (m) (rate(b[5m])) and on() c > bool 1e-3"),
            (std::set<std::string>{"a", "b", "c"}));
  EXPECT_EQ(MetricNamesIn("time() - process_start_time_seconds"),
            std::set<std::string>{"process_start_time_seconds"});
}

// Every PromQL expression of a Grafana dashboard: panel targets (rows nest panels) and
// query variables.
void CollectExpressions(const Value& node, std::vector<std::string>& out) {
  if (node.has_list_value()) {
    for (const Value& item : node.list_value().values()) CollectExpressions(item, out);
    return;
  }
  if (!node.has_struct_value()) return;
  const auto& fields = node.struct_value().fields();
  if (fields.contains("expr") && fields.at("expr").has_string_value()) {
    out.push_back(fields.at("expr").string_value());
  }
  for (const char* nested : {"panels", "targets", "templating", "list"}) {
    if (fields.contains(nested)) CollectExpressions(fields.at(nested), out);
  }
}

// Query variables as `label_values(metric, label)`, Grafana's own function: the metric.
std::vector<std::string> VariableMetrics(const Value& dashboard) {
  std::vector<std::string> metrics;
  const auto& fields = dashboard.struct_value().fields();
  if (!fields.contains("templating")) return metrics;
  for (const Value& variable :
       fields.at("templating").struct_value().fields().at("list").list_value().values()) {
    const auto& v = variable.struct_value().fields();
    if (!v.contains("type") || v.at("type").string_value() != "query") continue;
    std::string query = v.at("query").has_struct_value()
                            ? v.at("query").struct_value().fields().at("query").string_value()
                            : v.at("query").string_value();
    std::smatch match;
    if (std::regex_match(query, match, std::regex(R"(label_values\(\s*(\w+)\s*,\s*\w+\s*\))"))) {
      metrics.push_back(match[1].str());
    } else {
      ADD_FAILURE() << "unexpected variable query: " << query;
    }
  }
  return metrics;
}

class PrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prometheus_binary_ = FindExecutable("prometheus");
    promtool_binary_ = FindExecutable("promtool");
    if (prometheus_binary_.empty() || promtool_binary_.empty()) {
      GTEST_SKIP() << "Debian's prometheus package (prometheus, promtool) is not installed; "
                      "`deploy/install-deps.sh test` installs it";
    }
    absl::StatusOr<std::unique_ptr<DescentdProcess>> descentd =
        DescentdProcess::Start({"--workers", "1"});
    ASSERT_OK(descentd);
    descentd_ = *std::move(descentd);
    metrics_port_ = descentd_->metrics_port();
    ASSERT_GT(metrics_port_, 0) << "no metrics port in descentd's start-up line: "
                                << descentd_->process().Stderr();
    client_ = descentd_->NewClient();
    absl::StatusOr<std::unique_ptr<PrometheusServer>> prometheus =
        PrometheusServer::Start(prometheus_binary_, absl::StrCat("127.0.0.1:", metrics_port_));
    ASSERT_OK(prometheus);
    prometheus_ = *std::move(prometheus);
  }

  // descentd's /metrics right now.
  std::string Scrape() {
    absl::StatusOr<testing::HttpResponse> response = testing::HttpGet(metrics_port_, "/metrics");
    EXPECT_OK(response);
    if (!response.ok()) return "";
    EXPECT_EQ(response->status, 200);
    return response->body;
  }

  std::string prometheus_binary_;
  std::string promtool_binary_;
  std::unique_ptr<DescentdProcess> descentd_;
  int metrics_port_ = 0;
  std::unique_ptr<client::DescentClient> client_;
  std::unique_ptr<PrometheusServer> prometheus_;
};

TEST_F(PrometheusTest, StoresWhatTheJobsReport) {
  // Prometheus reaches descentd.
  absl::StatusOr<Sample> up = SampleScrapedAfter(*prometheus_, "up{job=\"descentd\"}", 0);
  ASSERT_OK(up);
  ASSERT_EQ(up->value, 1) << prometheus_->Log();

  // A short job runs to completion: the step and example counters Prometheus scraped after
  // it ended equal the steps the job reports.
  absl::StatusOr<v1::Job> short_job =
      client_->SubmitJob(HousePrices("short run", /*samples=*/200, /*batch=*/20, 50), "");
  ASSERT_OK(short_job);
  short_job = WaitForState(*client_, short_job->id(), v1::SUCCEEDED);
  ASSERT_OK(short_job);
  const int64_t short_steps = short_job->progress().step();
  ASSERT_GT(short_steps, 0);
  const double short_end = Seconds(short_job->end_time());
  absl::StatusOr<Sample> steps =
      SampleScrapedAfter(*prometheus_, "descent_training_steps_total", short_end);
  ASSERT_OK(steps);
  EXPECT_EQ(steps->value, short_steps);
  absl::StatusOr<Sample> examples =
      SampleScrapedAfter(*prometheus_, "descent_training_examples_total", short_end);
  ASSERT_OK(examples);
  EXPECT_EQ(examples->value, 20.0 * short_steps);  // 200 samples in full batches of 20
  absl::StatusOr<Sample> succeeded = SampleScrapedAfter(
      *prometheus_, "descent_jobs_finished_total{state=\"succeeded\"}", short_end);
  ASSERT_OK(succeeded);
  EXPECT_EQ(succeeded->value, 1);

  // A long job runs: its loss and step in one scrape match the loss the job reported for
  // that step, and the step counter then is the short job's steps plus this step.
  absl::StatusOr<v1::Job> long_job =
      client_->SubmitJob(HousePrices("long run", /*samples=*/2000, /*batch=*/8, 20000), "");
  ASSERT_OK(long_job);
  const std::string id = long_job->id();
  ASSERT_OK(WaitForState(*client_, id, v1::RUNNING));
  absl::StatusOr<Sample> first =
      SampleScrapedAfter(*prometheus_, absl::StrCat("descent_job_step{job_id=\"", id, "\"}"), 0);
  ASSERT_OK(first);
  // Raw samples of one scrape carry the same timestamp; take the newest scrape of both.
  absl::StatusOr<std::vector<Sample>> scraped = prometheus_->Query(absl::StrCat(
      "{__name__=~\"descent_job_step|descent_job_loss|descent_training_steps_total\",job_id=~\"",
      id, "|\"}[10s]"));
  ASSERT_OK(scraped);
  std::map<double, std::map<std::string, Sample>> by_time;
  for (const Sample& sample : *scraped) by_time[sample.time][sample.labels.at("__name__")] = sample;
  auto newest = std::find_if(by_time.rbegin(), by_time.rend(),
                             [](const auto& entry) { return entry.second.size() == 3; });
  ASSERT_NE(newest, by_time.rend()) << "no scrape holds the step, loss and counter together";
  const Sample& step = newest->second.at("descent_job_step");
  const Sample& loss = newest->second.at("descent_job_loss");
  EXPECT_EQ(step.labels.at("job_name"), "long run");
  EXPECT_EQ(loss.labels.at("job_name"), "long run");
  ASSERT_GE(step.value, 1);
  EXPECT_EQ(newest->second.at("descent_training_steps_total").value, short_steps + step.value);

  // The loss the job reported for that step, from its history over WatchJob.
  double reported = NAN;
  const int64_t step_number = static_cast<int64_t>(step.value);
  EXPECT_THAT(client_->WatchJob(id, step_number - 1, absl::Seconds(30),
                                [&](const v1::WatchJobResponse& event) {
                                  if (!event.has_losses()) return true;
                                  EXPECT_EQ(event.losses().first_step(), step_number);
                                  reported = event.losses().losses(0);
                                  return false;
                                }),
              testing::StatusIs(absl::StatusCode::kCancelled, ::testing::_));
  ASSERT_FALSE(std::isnan(reported));
  // The text format carries 16 significant digits.
  EXPECT_NEAR(loss.value, reported, 1e-15 * std::abs(reported)) << "step " << step_number;

  // promtool finds nothing to complain about in what descentd serves while a job runs.
  const std::string exposition = Scrape();
  ASSERT_THAT(exposition, HasSubstr(absl::StrCat("descent_job_loss{job_id=\"", id)));
  const std::string exposition_file =
      absl::StrCat(::testing::TempDir(), "/descentd-metrics-", getpid(), ".txt");
  std::ofstream(exposition_file) << exposition;
  absl::StatusOr<testing::ProcessResult> check = testing::RunProcess(
      {"/bin/sh", "-c",
       absl::StrCat("'", promtool_binary_, "' check metrics < '", exposition_file, "'")},
      absl::Seconds(60));
  ASSERT_OK(check);
  EXPECT_EQ(check->exit_code, 0) << check->out << check->err;
  EXPECT_THAT(check->out + check->err, IsEmpty());
  std::filesystem::remove(exposition_file);

  // Cancelled: the job's series disappear from Prometheus at the next scrape, the step
  // counter keeps its steps, and the outcome is counted.
  absl::StatusOr<v1::Job> cancelled = client_->CancelJob(id);
  ASSERT_OK(cancelled);
  cancelled = WaitForState(*client_, id, v1::CANCELLED);
  ASSERT_OK(cancelled);
  const double cancel_end = Seconds(cancelled->end_time());
  absl::StatusOr<Sample> after_cancel = SampleScrapedAfter(
      *prometheus_, "descent_jobs_finished_total{state=\"cancelled\"}", cancel_end);
  ASSERT_OK(after_cancel);
  EXPECT_EQ(after_cancel->value, 1);
  absl::StatusOr<Sample> final_steps =
      SampleScrapedAfter(*prometheus_, "descent_training_steps_total", cancel_end);
  ASSERT_OK(final_steps);
  EXPECT_EQ(final_steps->value, short_steps + cancelled->progress().step());
  absl::StatusOr<std::vector<Sample>> gone =
      prometheus_->Query(absl::StrCat("{__name__=~\"descent_job_.*\",job_id=\"", id, "\"}"));
  ASSERT_OK(gone);
  EXPECT_THAT(*gone, IsEmpty()) << "series of a cancelled job linger";
  absl::StatusOr<Sample> running =
      SampleScrapedAfter(*prometheus_, "descent_jobs_running", cancel_end);
  ASSERT_OK(running);
  EXPECT_EQ(running->value, 0);
}

TEST_F(PrometheusTest, DashboardExpressionsParseAndNameExportedMetrics) {
  // A running job, so the per-job families are part of the exposition. 256 hidden units:
  // it must outlive the wait for Prometheus's first scrape of it below (with 8 units its 5M
  // steps take ~20 s, and its series vanish when it ends); it is cancelled at the end.
  v1::JobSpec spec = HousePrices("dashboard", /*samples=*/2000, /*batch=*/8, 20000);
  spec.mutable_model()->mutable_hidden_layers(0)->set_units(256);
  absl::StatusOr<v1::Job> job = client_->SubmitJob(spec, "");
  ASSERT_OK(job);
  ASSERT_OK(WaitForState(*client_, job->id(), v1::RUNNING));
  std::string exposition;
  ASSERT_TRUE(PollUntil(
      [&] {
        exposition = Scrape();
        return absl::StrContains(exposition, "descent_job_loss{");
      },
      absl::Seconds(30)));
  const std::set<std::string> exported = SampleNames(exposition);

  const std::string path =
      absl::StrCat(DESCENT_SOURCE_DIR, "/deploy/grafana/dashboards/descent.json");
  std::ifstream file(path);
  ASSERT_TRUE(file.good()) << path;
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<Value> dashboard = ParseJson(text.str());
  ASSERT_OK(dashboard);
  ASSERT_TRUE(dashboard->has_struct_value());

  std::vector<std::string> expressions;
  CollectExpressions(*dashboard, expressions);
  ASSERT_GE(expressions.size(), 10u);
  std::set<std::string> used;
  for (const std::string& expr : expressions) {
    SCOPED_TRACE(expr);
    const std::set<std::string> names = MetricNamesIn(expr);
    EXPECT_FALSE(names.empty());
    for (const std::string& name : names) {
      EXPECT_TRUE(exported.count(name)) << name << " is not exported by descentd";
      used.insert(name);
    }
    // Grafana's variables as Grafana would expand them; then Prometheus must accept it.
    const std::string promql =
        absl::StrReplaceAll(expr, {{"$__rate_interval", "1m"}, {"$instance", ".*"}});
    EXPECT_OK(prometheus_->Query(promql));
  }
  for (const std::string& name : VariableMetrics(*dashboard)) {
    EXPECT_TRUE(exported.count(name)) << name << " is not exported by descentd";
  }
  // The panels the dashboard promises.
  for (const char* name :
       {"descent_job_loss", "descent_job_steps_per_second", "descent_jobs_queued",
        "descent_jobs_finished_total", "descent_grpc_server_handled_total",
        "descent_grpc_server_handling_seconds_bucket", "process_resident_memory_bytes"}) {
    EXPECT_TRUE(used.count(name)) << "the dashboard does not show " << name;
  }

  // With the job scraped, the loss panel's query returns the running job's series.
  absl::StatusOr<Sample> loss = SampleScrapedAfter(
      *prometheus_, absl::StrCat("descent_job_loss{job_id=\"", job->id(), "\"}"), 0);
  ASSERT_OK(loss);
  auto loss_panel = std::find_if(expressions.begin(), expressions.end(), [](const std::string& e) {
    return MetricNamesIn(e) == std::set<std::string>{"descent_job_loss"};
  });
  ASSERT_NE(loss_panel, expressions.end());
  absl::StatusOr<std::vector<Sample>> panel = prometheus_->Query(
      absl::StrReplaceAll(*loss_panel, {{"$__rate_interval", "1m"}, {"$instance", ".*"}}));
  ASSERT_OK(panel);
  EXPECT_FALSE(panel->empty()) << *loss_panel;
  ASSERT_OK(client_->CancelJob(job->id()));
}

}  // namespace
}  // namespace descent::integration
