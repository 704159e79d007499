#include "client/output.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace descent::client {
namespace {

std::string Number(double value) { return absl::StrFormat("%.4g", value); }

// Left-aligned columns separated by two spaces; trailing blanks trimmed.
std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

absl::Time ToTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", ToTime(timestamp), absl::LocalTimeZone());
}

std::string Progress(const v1::Job& job) {
  if (job.progress().total_steps() > 0) {
    return absl::StrCat(job.progress().step(), "/", job.progress().total_steps());
  }
  return absl::StrCat(job.progress().step());
}

// "40ms", "12.3s", "4m05s"
std::string ShortDuration(absl::Duration d) {
  const double seconds = absl::ToDoubleSeconds(d);
  if (seconds < 1) return absl::StrFormat("%.0fms", seconds * 1000);
  if (seconds < 60) return absl::StrFormat("%.1fs", seconds);
  const int64_t s = static_cast<int64_t>(seconds);
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s / 60) % 60);
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.preserve_proto_field_names = false;  // lowerCamelCase, as in job files
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    // Only reachable with a malformed message (e.g. an invalid Timestamp from the server).
    return absl::StrCat("{\"error\":\"cannot print ", message.GetTypeName(), " as JSON\"}");
  }
  if (pretty && (json.empty() || json.back() != '\n')) json += '\n';
  return json;
}

std::string StateName(v1::JobState state) { return v1::JobState_Name(state); }

std::string VerdictName(v1::Verdict verdict) {
  if (verdict == v1::VERDICT_UNSPECIFIED) return "-";
  return v1::Verdict_Name(verdict);
}

std::string FormatMetrics(const v1::Metrics& metrics) {
  std::vector<std::string> parts = {absl::StrCat("loss ", Number(metrics.loss()))};
  if (metrics.has_accuracy())
    parts.push_back(absl::StrCat("accuracy ", Number(metrics.accuracy())));
  if (metrics.has_mae()) parts.push_back(absl::StrCat("mae ", Number(metrics.mae())));
  if (metrics.has_rmse()) parts.push_back(absl::StrCat("rmse ", Number(metrics.rmse())));
  if (metrics.has_r2()) parts.push_back(absl::StrCat("r2 ", Number(metrics.r2())));
  return absl::StrJoin(parts, " ");
}

std::string FormatJobTable(const std::vector<v1::Job>& jobs) {
  // EPOCH_LOSS: the last finished epoch's mean training loss, the figure the diagnosis and the
  // epoch lines use; a single minibatch's loss jumps around too much to compare jobs by.
  std::vector<std::vector<std::string>> rows = {
      {"ID", "NAME", "STATE", "STEP", "EPOCH_LOSS", "VAL_LOSS", "VERDICT", "CREATED", "RUNNER"}};
  for (const v1::Job& job : jobs) {
    rows.push_back({job.id(), job.name().empty() ? "-" : job.name(), StateName(job.state()),
                    Progress(job),
                    job.has_train_metrics() ? Number(job.train_metrics().loss()) : "-",
                    job.has_validation_loss() ? Number(job.validation_loss()) : "-",
                    VerdictName(job.diagnosis().verdict()),
                    job.has_create_time() ? FormatTimestamp(job.create_time()) : "-",
                    job.runner().empty() ? "-" : job.runner()});
  }
  return Table(rows);
}

std::string FormatJobDetails(const v1::Job& job) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"id:", job.id()});
  rows.push_back({"name:", job.name()});
  rows.push_back({"state:", StateName(job.state())});
  if (!job.runner().empty()) rows.push_back({"runner:", job.runner()});
  if (job.has_create_time()) rows.push_back({"created:", FormatTimestamp(job.create_time())});
  if (job.has_start_time()) rows.push_back({"started:", FormatTimestamp(job.start_time())});
  if (job.has_end_time()) {
    std::string ended = FormatTimestamp(job.end_time());
    if (job.has_start_time()) {
      absl::StrAppend(&ended, " (ran ",
                      ShortDuration(ToTime(job.end_time()) - ToTime(job.start_time())), ")");
    }
    rows.push_back({"ended:", ended});
  }
  std::string progress = absl::StrCat("step ", Progress(job));
  if (job.progress().total_epochs() > 0) {
    absl::StrAppend(&progress, ", epoch ", job.progress().epoch(), "/",
                    job.progress().total_epochs());
  }
  if (job.progress().steps_per_second() > 0) {
    absl::StrAppend(&progress, ", ", absl::StrFormat("%.0f", job.progress().steps_per_second()),
                    " steps/s");
  }
  rows.push_back({"progress:", progress});
  if (job.has_train_loss()) {
    rows.push_back({"minibatch loss:",
                    absl::StrCat(Number(job.train_loss()), " (step ", job.progress().step(), ")")});
  }
  if (job.has_train_metrics()) {
    rows.push_back({"train, epoch mean:", FormatMetrics(job.train_metrics())});
  }
  if (job.has_validation_metrics()) {
    rows.push_back({"validation:", FormatMetrics(job.validation_metrics())});
  } else if (job.has_validation_loss()) {
    rows.push_back({"validation:", absl::StrCat("loss ", Number(job.validation_loss()))});
  }
  const std::string diagnosis = FormatDiagnosis(job.diagnosis());
  if (!diagnosis.empty()) rows.push_back({"diagnosis:", diagnosis.substr(11)});
  if (!job.error().empty()) rows.push_back({"error:", job.error()});
  if (!job.request_id().empty()) rows.push_back({"request id:", job.request_id()});
  return Table(rows);
}

std::string FormatEpochLine(const v1::EpochSummary& summary, int total_epochs,
                            int64_t total_steps) {
  std::string line = absl::StrCat("epoch ", summary.epoch());
  if (total_epochs > 0) absl::StrAppend(&line, "/", total_epochs);
  absl::StrAppend(&line, "  step ", summary.last_step());
  if (total_steps > 0) absl::StrAppend(&line, "/", total_steps);
  absl::StrAppend(&line, "  train ", FormatMetrics(summary.train()));
  if (summary.has_validation()) {
    absl::StrAppend(&line, "  validation ", FormatMetrics(summary.validation()));
  }
  return line;
}

std::string FormatDiagnosis(const v1::Diagnosis& diagnosis) {
  if (diagnosis.verdict() == v1::VERDICT_UNSPECIFIED && diagnosis.message().empty()) return "";
  // The engine's message already names the step; without one, say it here.
  if (!diagnosis.message().empty()) {
    return absl::StrCat("diagnosis: ", VerdictName(diagnosis.verdict()), " - ",
                        diagnosis.message());
  }
  std::string line = absl::StrCat("diagnosis: ", VerdictName(diagnosis.verdict()));
  if (diagnosis.step() > 0) absl::StrAppend(&line, " at step ", diagnosis.step());
  return line;
}

std::string FormatOutcome(const v1::Job& job) {
  std::string out = absl::StrCat("job ", job.id(), " ", StateName(job.state()), " after ",
                                 job.progress().step(), " steps");
  if (job.has_start_time() && job.has_end_time()) {
    absl::StrAppend(&out, " in ", ShortDuration(ToTime(job.end_time()) - ToTime(job.start_time())));
  }
  out += "\n";
  if (job.has_train_metrics()) {
    absl::StrAppend(&out, "train (last epoch's mean) ", FormatMetrics(job.train_metrics()), "\n");
  }
  if (job.has_validation_metrics()) {
    absl::StrAppend(&out, "validation (last epoch) ", FormatMetrics(job.validation_metrics()),
                    "\n");
  }
  if (!job.error().empty()) absl::StrAppend(&out, "error: ", job.error(), "\n");
  const std::string diagnosis = FormatDiagnosis(job.diagnosis());
  if (!diagnosis.empty()) absl::StrAppend(&out, diagnosis, "\n");
  return out;
}

std::string FormatPredictions(const v1::PredictResponse& response) {
  const v1::Matrix& outputs = response.outputs();
  const bool classifier = response.classes_size() > 0;
  const bool named = response.class_names_size() > 0;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"ROW"};
  if (outputs.cols() == 1) {
    header.push_back(classifier ? "PROBABILITY" : "OUTPUT");
  } else {
    for (int c = 0; c < outputs.cols(); ++c) {
      header.push_back(classifier ? absl::StrCat("P(", c, ")") : absl::StrCat("OUTPUT_", c));
    }
  }
  if (classifier) header.push_back("CLASS");
  if (named) header.push_back("NAME");
  rows.push_back(header);
  for (int r = 0; r < outputs.rows(); ++r) {
    std::vector<std::string> row = {absl::StrCat(r)};
    for (int c = 0; c < outputs.cols(); ++c) {
      const int index = r * outputs.cols() + c;
      row.push_back(index < outputs.values_size() ? Number(outputs.values(index)) : "?");
    }
    if (classifier)
      row.push_back(r < response.classes_size() ? absl::StrCat(response.classes(r)) : "?");
    if (named) row.push_back(r < response.class_names_size() ? response.class_names(r) : "?");
    rows.push_back(row);
  }
  return Table(rows);
}

}  // namespace descent::client
