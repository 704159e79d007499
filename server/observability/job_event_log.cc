#include "server/observability/job_event_log.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "server/observability/log.h"

namespace descent::server {
namespace {

// `job job-0123456789ab "name"`, how every line names its job.
std::string Named(const std::string& id, const std::string& name) {
  return absl::StrCat("job ", id, " \"", name, "\"");
}

double Seconds(const google::protobuf::Timestamp& time) {
  return static_cast<double>(time.seconds()) + time.nanos() * 1e-9;
}

const char* FinishedEvent(v1::JobState state) {
  switch (state) {
    case v1::SUCCEEDED:
      return "job_succeeded";
    case v1::CANCELLED:
      return "job_cancelled";
    default:
      return "job_failed";
  }
}

}  // namespace

void JobEventLog::OnSubmitted(const JobLabels& job) {
  Log(LogLevel::kInfo, "job_submitted", absl::StrCat(Named(job.id, job.name), " submitted, QUEUED"),
      {{"job_id", job.id}, {"job_name", job.name}});
}

void JobEventLog::OnRecovered(const JobLabels& job, v1::JobState state) {
  const std::string what =
      state == v1::RUNNING
          ? " was RUNNING when the server stopped: it resumes from its last checkpoint"
          : " is QUEUED again after the restart";
  Log(LogLevel::kInfo, "job_recovered", absl::StrCat(Named(job.id, job.name), what),
      {{"job_id", job.id}, {"job_name", job.name}, {"state", v1::JobState_Name(state)}});
}

void JobEventLog::OnHandedOver(const JobLabels& job, v1::JobState state) {
  const std::string what = state == v1::RUNNING
                               ? " lost its lease: another replica resumes it from its checkpoint"
                               : " was claimed by another replica";
  Log(LogLevel::kInfo, "job_handed_over", absl::StrCat(Named(job.id, job.name), what),
      {{"job_id", job.id}, {"job_name", job.name}, {"state", v1::JobState_Name(state)}});
}

void JobEventLog::OnStateChange(const JobLabels& job, v1::JobState from, v1::JobState to,
                                absl::Duration time_in_from) {
  // Terminal states are logged by OnFinished, with the outcome.
  if (from != v1::QUEUED || to != v1::RUNNING) return;
  Log(LogLevel::kInfo, "job_started",
      absl::StrCat(Named(job.id, job.name), " started after ",
                   absl::FormatDuration(absl::Trunc(time_in_from, absl::Milliseconds(1))),
                   " in the queue"),
      {{"job_id", job.id},
       {"job_name", job.name},
       {"queue_wait_seconds", absl::ToDoubleSeconds(time_in_from)}});
}

void JobEventLog::OnEndNotStored(const JobLabels& job, v1::JobState state,
                                 const absl::Status& error) {
  Log(LogLevel::kError, "job_store_failed",
      absl::StrCat("job ", job.id, " ended ", v1::JobState_Name(state),
                   " but the job store kept its earlier state: ", error.message()),
      {{"job_id", job.id}, {"state", v1::JobState_Name(state)}, {"error", error.message()}});
}

void JobEventLog::OnResumed(const JobLabels& job, int64_t step) {
  Log(LogLevel::kInfo, "job_resumed",
      absl::StrCat(
          Named(job.id, job.name), " resumed at step ", step,
          step == 0 ? " (no checkpoint was written before the stop)" : " (its last checkpoint)"),
      {{"job_id", job.id}, {"job_name", job.name}, {"step", step}});
}

void JobEventLog::OnFinished(const v1::Job& job) {
  const std::string state = v1::JobState_Name(job.state());
  const std::string verdict = v1::Verdict_Name(job.diagnosis().verdict());
  std::string message =
      absl::StrCat(Named(job.id(), job.name()), " ", state, " at step ", job.progress().step());
  double run_seconds = 0;
  if (job.has_start_time() && job.has_end_time()) {
    run_seconds = Seconds(job.end_time()) - Seconds(job.start_time());
    absl::StrAppend(
        &message, " after ",
        absl::FormatDuration(absl::Trunc(absl::Seconds(run_seconds), absl::Milliseconds(1))),
        " running");
  }
  if (!job.error().empty()) absl::StrAppend(&message, ": ", job.error());
  if (job.diagnosis().verdict() != v1::VERDICT_UNSPECIFIED) {
    absl::StrAppend(&message, "; diagnosis ", verdict);
    if (!job.diagnosis().message().empty()) {
      absl::StrAppend(&message, ": ", job.diagnosis().message());
    }
  }
  Log(job.state() == v1::FAILED ? LogLevel::kWarning : LogLevel::kInfo, FinishedEvent(job.state()),
      message,
      {{"job_id", job.id()},
       {"job_name", job.name()},
       {"state", state},
       {"steps", static_cast<int64_t>(job.progress().step())},
       {"run_seconds", run_seconds},
       {"verdict", verdict},
       {"error", job.error()}});
}

}  // namespace descent::server
