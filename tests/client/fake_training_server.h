// An in-process TrainingService on a loopback port whose jobs and watch streams are
// scripted by the test, so the client's behaviour on drops, replays, gaps and errors can be
// checked exactly. Also serves grpc's built-in health service.
#ifndef DESCENT_TESTS_CLIENT_FAKE_TRAINING_SERVER_H_
#define DESCENT_TESTS_CLIENT_FAKE_TRAINING_SERVER_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "descent/v1/training.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"

namespace descent::client::testing {

// How one WatchJob call behaves. The default sends the whole rest of the job and ends with
// the terminal state event.
struct WatchAttempt {
  int64_t send_until_step = -1;  // stop sending losses after this step (-1 = all)
  grpc::Status end = grpc::Status::OK;
  bool send_terminal = true;  // the terminal state event (only when all steps were sent)
  int64_t replay = 0;         // start this many steps before after_step + 1 (overlap)
  int64_t gap = 0;            // skip this many steps after after_step (a contract breach)
  bool hang = false;          // after sending, stay silent until the client cancels
};

struct FakeJob {
  v1::Job job;                               // the final job (state, progress, diagnosis...)
  std::vector<double> losses;                // step i + 1 has losses[i]
  int steps_per_epoch = 0;                   // > 0: epoch summaries after each epoch's last step
  v1::JobState visible_state = v1::RUNNING;  // what GetJob reports
  std::deque<WatchAttempt> attempts;         // consumed one per WatchJob call
};

class FakeTrainingService final : public v1::TrainingService::Service {
 public:
  // Adds a job whose history is `losses` and whose final state is `final_state`.
  std::string AddJob(std::vector<double> losses, v1::JobState final_state,
                     int steps_per_epoch = 0) {
    absl::MutexLock lock(&mu_);
    const std::string id = absl::StrCat("job-", ++next_id_);
    FakeJob& fake = jobs_[id];
    fake.job.set_id(id);
    fake.job.set_name("fake");
    fake.job.set_state(final_state);
    fake.job.mutable_progress()->set_step(static_cast<int64_t>(losses.size()));
    fake.job.mutable_progress()->set_total_steps(static_cast<int64_t>(losses.size()));
    if (steps_per_epoch > 0) {
      const int epochs = static_cast<int>(losses.size()) / steps_per_epoch;
      fake.job.mutable_progress()->set_epoch(epochs);
      fake.job.mutable_progress()->set_total_epochs(epochs);
    }
    if (!losses.empty()) fake.job.set_train_loss(losses.back());
    fake.job.mutable_diagnosis()->set_verdict(v1::CONVERGED);
    fake.job.mutable_diagnosis()->set_message("the loss flattened at a low value");
    fake.losses = std::move(losses);
    fake.steps_per_epoch = steps_per_epoch;
    fake.visible_state = final_state;
    order_.push_back(id);
    return id;
  }

  // The final job's diagnosis (AddJob sets CONVERGED).
  void SetVerdict(const std::string& id, v1::Verdict verdict) {
    absl::MutexLock lock(&mu_);
    jobs_[id].job.mutable_diagnosis()->set_verdict(verdict);
  }

  void ScriptWatch(const std::string& id, std::vector<WatchAttempt> attempts) {
    absl::MutexLock lock(&mu_);
    for (const WatchAttempt& attempt : attempts) jobs_[id].attempts.push_back(attempt);
  }
  void SetVisibleState(const std::string& id, v1::JobState state) {
    absl::MutexLock lock(&mu_);
    jobs_[id].visible_state = state;
  }
  // The after_step of every WatchJob call so far, in order.
  std::vector<int64_t> watch_after_steps() {
    absl::MutexLock lock(&mu_);
    return watch_after_steps_;
  }
  // Every PredictRequest received, in order.
  std::vector<v1::PredictRequest> predicts() {
    absl::MutexLock lock(&mu_);
    return predicts_;
  }
  std::vector<v1::SubmitJobRequest> submits() {
    absl::MutexLock lock(&mu_);
    return submits_;
  }
  void set_page_size_cap(int cap) {
    absl::MutexLock lock(&mu_);
    page_size_cap_ = cap;
  }
  void set_points_per_message(int n) {
    absl::MutexLock lock(&mu_);
    points_per_message_ = n;
  }

  grpc::Status SubmitJob(grpc::ServerContext*, const v1::SubmitJobRequest* request,
                         v1::Job* response) override {
    absl::MutexLock lock(&mu_);
    submits_.push_back(*request);
    if (request->spec().optimizer().adam().has_learning_rate() &&
        request->spec().optimizer().adam().learning_rate() <= 0) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("optimizer.adam.learning_rate must be > 0 (got ",
                                       request->spec().optimizer().adam().learning_rate(), ")"));
    }
    const std::string id = absl::StrCat("job-", ++next_id_);
    FakeJob& fake = jobs_[id];
    fake.job.set_id(id);
    fake.job.set_name(request->spec().name());
    fake.job.set_state(v1::SUCCEEDED);
    *fake.job.mutable_spec() = request->spec();
    fake.losses = {1.0, 0.5, 0.25, 0.125};
    fake.job.mutable_diagnosis()->set_verdict(v1::CONVERGED);
    fake.job.mutable_progress()->set_step(4);
    fake.job.mutable_progress()->set_total_steps(4);
    fake.visible_state = v1::SUCCEEDED;
    order_.push_back(id);
    *response = fake.job;
    response->set_state(v1::QUEUED);
    response->mutable_progress()->set_step(0);
    return grpc::Status::OK;
  }

  grpc::Status GetJob(grpc::ServerContext*, const v1::GetJobRequest* request,
                      v1::Job* response) override {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(request->job_id());
    if (it == jobs_.end()) return NotFound(request->job_id());
    *response = it->second.job;
    response->set_state(it->second.visible_state);
    return grpc::Status::OK;
  }

  grpc::Status ListJobs(grpc::ServerContext*, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override {
    absl::MutexLock lock(&mu_);
    size_t start = request->page_token().empty() ? 0 : std::stoul(request->page_token());
    const int page =
        std::min(request->page_size() == 0 ? 50 : request->page_size(), page_size_cap_);
    std::vector<v1::Job> matching;
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
      const FakeJob& fake = jobs_[*it];
      if (request->state() != v1::JOB_STATE_UNSPECIFIED && fake.visible_state != request->state()) {
        continue;
      }
      matching.push_back(fake.job);
      matching.back().set_state(fake.visible_state);
    }
    for (size_t i = start; i < matching.size() && i < start + page; ++i) {
      *response->add_jobs() = matching[i];
    }
    if (start + page < matching.size()) response->set_next_page_token(absl::StrCat(start + page));
    return grpc::Status::OK;
  }

  grpc::Status CancelJob(grpc::ServerContext*, const v1::CancelJobRequest* request,
                         v1::Job* response) override {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(request->job_id());
    if (it == jobs_.end()) return NotFound(request->job_id());
    if (it->second.visible_state == v1::SUCCEEDED || it->second.visible_state == v1::FAILED ||
        it->second.visible_state == v1::CANCELLED) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("job ", request->job_id(), " already finished"));
    }
    it->second.visible_state = v1::CANCELLED;
    *response = it->second.job;
    response->set_state(v1::CANCELLED);
    return grpc::Status::OK;
  }

  grpc::Status ExportModel(grpc::ServerContext*, const v1::ExportModelRequest* request,
                           v1::ExportModelResponse* response) override {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(request->job_id());
    if (it == jobs_.end()) return NotFound(request->job_id());
    if (it->second.visible_state != v1::SUCCEEDED) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("job ", request->job_id(), " has not succeeded"));
    }
    response->set_job_id(request->job_id());
    response->set_inputs(2);
    response->set_loss(v1::MEAN_SQUARED_ERROR);
    v1::LayerParameters* layer = response->mutable_parameters()->add_layers();
    layer->mutable_weight()->set_rows(1);
    layer->mutable_weight()->set_cols(2);
    layer->mutable_weight()->add_values(0.5f);
    layer->mutable_weight()->add_values(-1.5f);
    layer->add_bias(0.25f);
    return grpc::Status::OK;
  }

  // y = 0.5 x0 - 1.5 x1 + 0.25, the exported model.
  grpc::Status Predict(grpc::ServerContext*, const v1::PredictRequest* request,
                       v1::PredictResponse* response) override {
    {
      absl::MutexLock lock(&mu_);
      predicts_.push_back(*request);
    }
    if (request->inputs().cols() != 2) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("inputs.cols must be 2, the model's feature count (got ",
                                       request->inputs().cols(), ")"));
    }
    response->mutable_outputs()->set_rows(request->inputs().rows());
    response->mutable_outputs()->set_cols(1);
    for (int r = 0; r < request->inputs().rows(); ++r) {
      const float x0 = request->inputs().values(2 * r), x1 = request->inputs().values(2 * r + 1);
      response->mutable_outputs()->add_values(0.5f * x0 - 1.5f * x1 + 0.25f);
    }
    return grpc::Status::OK;
  }

  grpc::Status WatchJob(grpc::ServerContext* context, const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::WatchJobResponse>* writer) override {
    FakeJob fake;
    WatchAttempt attempt;
    int points_per_message;
    {
      absl::MutexLock lock(&mu_);
      watch_after_steps_.push_back(request->after_step());
      auto it = jobs_.find(request->job_id());
      if (it == jobs_.end()) return NotFound(request->job_id());
      if (!it->second.attempts.empty()) {
        attempt = it->second.attempts.front();
        it->second.attempts.pop_front();
      }
      fake = it->second;
      points_per_message = points_per_message_;
    }
    const int64_t total = static_cast<int64_t>(fake.losses.size());
    const int64_t until =
        attempt.send_until_step < 0 ? total : std::min(total, attempt.send_until_step);
    int64_t step = std::max<int64_t>(1, request->after_step() + 1 - attempt.replay) + attempt.gap;
    while (step <= until) {
      // A message ends at the batch size, the stop step, or an epoch boundary.
      int64_t end = std::min(until, step + points_per_message - 1);
      if (fake.steps_per_epoch > 0) {
        const int64_t epoch_end = ((step - 1) / fake.steps_per_epoch + 1) * fake.steps_per_epoch;
        end = std::min(end, epoch_end);
      }
      v1::WatchJobResponse points;
      points.mutable_losses()->set_first_step(step);
      for (int64_t s = step; s <= end; ++s) points.mutable_losses()->add_losses(fake.losses[s - 1]);
      if (!writer->Write(points)) return grpc::Status::CANCELLED;
      if (fake.steps_per_epoch > 0 && end % fake.steps_per_epoch == 0) {
        v1::WatchJobResponse epoch;
        epoch.mutable_epoch()->set_epoch(static_cast<int>(end / fake.steps_per_epoch));
        epoch.mutable_epoch()->set_last_step(end);
        epoch.mutable_epoch()->mutable_train()->set_loss(fake.losses[end - 1]);
        if (!writer->Write(epoch)) return grpc::Status::CANCELLED;
      }
      step = end + 1;
    }
    if (attempt.hang) {
      while (!context->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return grpc::Status::CANCELLED;
    }
    if (until == total && attempt.send_terminal) {
      v1::WatchJobResponse state;
      state.mutable_state()->set_state(fake.job.state());
      *state.mutable_state()->mutable_job() = fake.job;
      writer->Write(state);
    }
    return attempt.end;
  }

 private:
  static grpc::Status NotFound(const std::string& id) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("job ", id, " not found"));
  }

  absl::Mutex mu_;
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, FakeJob> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);  // creation order
  std::vector<int64_t> watch_after_steps_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::SubmitJobRequest> submits_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::PredictRequest> predicts_ ABSL_GUARDED_BY(mu_);
  int page_size_cap_ ABSL_GUARDED_BY(mu_) = 1000;
  int points_per_message_ ABSL_GUARDED_BY(mu_) = 100;
};

// The fake service on 127.0.0.1:<ephemeral>, stopped on destruction.
class FakeTrainingServer {
 public:
  FakeTrainingServer() {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~FakeTrainingServer() { server_->Shutdown(std::chrono::system_clock::now()); }

  FakeTrainingService& service() { return service_; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  int port() const { return port_; }

 private:
  FakeTrainingService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace descent::client::testing

#endif  // DESCENT_TESTS_CLIENT_FAKE_TRAINING_SERVER_H_
