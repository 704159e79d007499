#include "server/job_manager.h"

#include <sched.h>

#include <algorithm>
#include <deque>
#include <limits>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "engine/blas.h"
#include "engine/status_macros.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/checkpoint_codec.h"
#include "server/engine_to_proto.h"
#include "server/job_ids.h"
#include "server/job_record.h"
#include "server/job_runner.h"
#include "server/job_store.h"
#include "server/watch_stream.h"

namespace descent::server {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
constexpr char kPageTokenVersion[] = "v1";
constexpr int64_t kMaxAfterStep = int64_t{1} << 62;

// CPUs this process may run on (its affinity mask), which taskset and container cpusets
// narrow; hardware_concurrency() would count every CPU of the machine.
int AvailableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// A page token names the filter it was issued for and the position to resume from: jobs
// with a submission sequence below `bound` are still to be listed.
std::string EncodePageToken(v1::JobState state, int64_t bound) {
  return absl::WebSafeBase64Escape(absl::StrCat(kPageTokenVersion, ":", state, ":", bound));
}

absl::StatusOr<int64_t> DecodePageToken(std::string_view token, v1::JobState state, int64_t jobs) {
  const absl::Status malformed = absl::InvalidArgumentError(
      "page_token is not a token from a previous ListJobs response; omit it to start from "
      "the first page");
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(absl::string_view(token.data(), token.size()), &decoded)) {
    return malformed;
  }
  std::vector<std::string> parts = absl::StrSplit(decoded, ':');
  int token_state = 0;
  int64_t bound = 0;
  if (parts.size() != 3 || parts[0] != kPageTokenVersion ||
      !absl::SimpleAtoi(parts[1], &token_state) || !absl::SimpleAtoi(parts[2], &bound) ||
      bound <= 0 || bound > jobs) {
    return malformed;
  }
  if (token_state != state) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token was issued for state ",
                     v1::JobState_Name(static_cast<v1::JobState>(token_state)), ", not ",
                     v1::JobState_Name(state), "; keep the same state filter while paging"));
  }
  return bound;
}

// The submission that prepares a stored job again: its spec as echoed, with an uploaded
// dataset named by name pinned to the id it resolved to (a newer upload under the same
// name must not change a job that was already accepted).
v1::SubmitJobRequest Resubmission(const v1::JobSpec& spec, const std::string& request_id) {
  v1::SubmitJobRequest request;
  *request.mutable_spec() = spec;
  request.set_request_id(request_id);
  v1::DatasetSource& dataset = *request.mutable_spec()->mutable_dataset();
  if (dataset.has_name() && !dataset.resolved().id().empty()) {
    dataset.set_id(dataset.resolved().id());
  }
  return request;
}

absl::Status JobNotFound(std::string_view job_id) {
  return absl::NotFoundError(
      absl::StrCat("job \"", std::string(job_id),
                   "\" not found; `descent list` shows the jobs this server has"));
}

}  // namespace

int BlasThreadsFor(const JobManagerOptions& options) {
  if (options.blas_threads > 0) return options.blas_threads;
  return std::max(1, AvailableCores() / std::max(1, options.workers));
}

struct JobManager::Impl {
  Impl(JobManagerOptions options_in, JobEventListener* listener_in)
      : options(std::move(options_in)), listener(listener_in) {}

  std::shared_ptr<JobRecord> Find(std::string_view job_id) const ABSL_LOCKS_EXCLUDED(mu) {
    absl::MutexLock lock(&mu);
    auto it = jobs.find(std::string(job_id));
    return it == jobs.end() ? nullptr : it->second;
  }

  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return !queue.empty() || shutting_down;
  }
  bool NoWatches() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return active_watches == 0; }

  // A worker thread: takes the oldest queued job (resumed jobs come first), trains it,
  // repeats; exits once shutting down.
  void WorkerLoop() {
    const CheckpointPolicy checkpoints{options.checkpoint_every_steps, options.checkpoint_every};
    while (true) {
      std::shared_ptr<JobRecord> job;
      absl::Status started;
      {
        absl::MutexLock lock(&mu);
        mu.Await(absl::Condition(this, &Impl::HasWorkOrStopping));
        if (queue.empty() || shutting_down) return;
        job = std::move(queue.front());
        queue.pop_front();
        // Under mu, so Cancel sees a job either in the queue or taken by a worker. A resumed
        // job is RUNNING already.
        if (job->state() == v1::QUEUED) started = job->Start(absl::Now(), listener);
      }
      if (!started.ok()) {
        job->Finish(JobOutcome::Failed(absl::StrCat("could not record the job's start: ",
                                                    started.message())),
                    absl::Now(), listener);
        continue;
      }
      RunJob(*job, listener, checkpoints);
    }
  }

  // Publishes a job in the lookup tables. Under mu.
  void AddLocked(const std::shared_ptr<JobRecord>& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    jobs.emplace(record->id(), record);
    all_jobs.push_back(record);
    if (!record->request_id().empty()) by_request_id.emplace(record->request_id(), record);
  }

  // A stored unfinished job, ready for a worker: its training input prepared again from its
  // spec and, for a RUNNING one, its checkpoint. FAILED with the reason when that is not
  // possible any more.
  absl::StatusOr<std::shared_ptr<JobRecord>> LoadUnfinished(const StoredJob& stored) {
    std::optional<TrainerCheckpoint> checkpoint;
    std::string problem;
    if (stored.job.state() == v1::RUNNING && stored.checkpoint) {
      absl::StatusOr<TrainerCheckpoint> decoded = DecodeCheckpoint(*stored.checkpoint);
      if (decoded.ok()) {
        checkpoint = *std::move(decoded);
        for (const StoredEvent& event : stored.events) {
          if (event.message.has_epoch() && event.message.epoch().epoch() <= checkpoint->epoch) {
            checkpoint->epochs.push_back(FromProto(event.message.epoch()));
          }
        }
      } else {
        problem = absl::StrCat("cannot read its checkpoint: ", decoded.status().message());
      }
    }
    // Without a checkpoint the job starts over; with an unreadable one it fails below and
    // keeps its history as stored.
    int64_t resume_step = 0;
    int resume_epochs = 0;
    if (checkpoint) {
      resume_step = checkpoint->step;
      resume_epochs = checkpoint->epoch;
    } else if (!problem.empty()) {
      resume_step = std::numeric_limits<int64_t>::max();
      resume_epochs = std::numeric_limits<int>::max();
    }
    if (stored.job.state() == v1::RUNNING && problem.empty()) {
      RETURN_IF_ERROR(options.store->TruncateAfter(stored.sequence, resume_step, resume_epochs));
    }
    ASSIGN_OR_RETURN(std::shared_ptr<JobRecord> record,
                     JobRecord::FromStore(stored, resume_step, resume_epochs, options.store));
    absl::StatusOr<PreparedJob> prepared =
        problem.empty() ? options.prepare(Resubmission(stored.spec, stored.job.request_id()))
                        : absl::StatusOr<PreparedJob>(absl::FailedPreconditionError(problem));
    if (!prepared.ok()) {
      // Not told to the listener: it never heard of the job in this process.
      record->Finish(JobOutcome::Failed(absl::StrCat("cannot continue after the restart: ",
                                                     prepared.status().message())),
                     absl::Now(), nullptr);
      return record;
    }
    record->SetTrainingInput(TrainingInput{
        std::move(prepared->train_spec), std::move(prepared->dataset),
        std::move(prepared->initial_parameters), stored.job.state() == v1::RUNNING,
        std::move(checkpoint)});
    return record;
  }

  const JobManagerOptions options;
  JobEventListener* const listener;

  mutable absl::Mutex mu;  // acquired before any JobRecord's mutex, never after
  absl::flat_hash_map<std::string, std::shared_ptr<JobRecord>> jobs ABSL_GUARDED_BY(mu);
  // Every job in submission order: all_jobs[i]->sequence() == i.
  std::vector<std::shared_ptr<JobRecord>> all_jobs ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::string, std::shared_ptr<JobRecord>> by_request_id ABSL_GUARDED_BY(mu);
  std::deque<std::shared_ptr<JobRecord>> queue ABSL_GUARDED_BY(mu);  // QUEUED jobs, oldest first
  bool shutting_down ABSL_GUARDED_BY(mu) = false;
  int active_watches ABSL_GUARDED_BY(mu) = 0;
  // Open Watch calls per job id; a job without any has no entry.
  absl::flat_hash_map<std::string, int> watches_per_job ABSL_GUARDED_BY(mu);
  absl::BitGen random ABSL_GUARDED_BY(mu);

  absl::Mutex shutdown_mu;  // serializes Shutdown(), so every caller returns once it is done
  std::vector<std::thread> workers ABSL_GUARDED_BY(shutdown_mu);
};

JobManager::JobManager(JobManagerOptions options, JobEventListener* listener) {
  DESCENT_CHECK(options.workers >= 0);
  DESCENT_CHECK(options.max_queued_jobs >= 0);
  DESCENT_CHECK(options.blas_threads >= 0);
  DESCENT_CHECK(options.heartbeat_interval > absl::ZeroDuration());
  DESCENT_CHECK(options.max_points_per_message >= 1);
  DESCENT_CHECK(options.watcher_fell_behind_steps >= 0);
  DESCENT_CHECK(options.max_watchers_per_job >= 1);
  SetBlasThreads(BlasThreadsFor(options));
  DESCENT_CHECK(options.checkpoint_every_steps >= 1);
  DESCENT_CHECK(options.checkpoint_every > absl::ZeroDuration());
  DESCENT_CHECK(options.store == nullptr || options.prepare != nullptr);
  impl_ = std::make_unique<Impl>(std::move(options), listener);
  absl::MutexLock lock(&impl_->shutdown_mu);
  for (int i = 0; i < impl_->options.workers; ++i) {
    impl_->workers.emplace_back([impl = impl_.get()] { impl->WorkerLoop(); });
  }
}

JobManager::~JobManager() {
  Shutdown();
  absl::MutexLock lock(&impl_->mu);
  impl_->mu.Await(absl::Condition(impl_.get(), &Impl::NoWatches));
}

absl::StatusOr<int> JobManager::Recover() {
  Impl& impl = *impl_;
  if (impl.options.store == nullptr) return 0;
  ASSIGN_OR_RETURN(std::vector<StoredJob> stored, impl.options.store->LoadAll());
  std::vector<std::shared_ptr<JobRecord>> records;
  std::vector<std::shared_ptr<JobRecord>> resumed;
  std::vector<std::shared_ptr<JobRecord>> queued;
  for (const StoredJob& job : stored) {
    std::shared_ptr<JobRecord> record;
    if (IsTerminal(job.job.state())) {
      ASSIGN_OR_RETURN(record, JobRecord::FromStore(job, 0, 0, impl.options.store));
    } else {
      ASSIGN_OR_RETURN(record, impl.LoadUnfinished(job));
    }
    // Sequences index all_jobs (List's page tokens count on it).
    if (record->sequence() != static_cast<int64_t>(records.size())) {
      return absl::DataLossError(absl::StrCat("the job store ", impl.options.store->path(),
                                              " misses job sequence ", records.size(),
                                              "; move it aside to start afresh"));
    }
    if (record->state() == v1::RUNNING) resumed.push_back(record);
    if (record->state() == v1::QUEUED) queued.push_back(record);
    records.push_back(std::move(record));
  }
  absl::MutexLock lock(&impl.mu);
  DESCENT_CHECK(impl.all_jobs.empty());
  for (const std::shared_ptr<JobRecord>& record : records) {
    impl.AddLocked(record);
    if (impl.listener != nullptr && !IsTerminal(record->state())) {
      impl.listener->OnRecovered(record->labels(), record->state());
    }
  }
  impl.queue.insert(impl.queue.end(), resumed.begin(), resumed.end());
  impl.queue.insert(impl.queue.end(), queued.begin(), queued.end());
  return static_cast<int>(resumed.size() + queued.size());
}

absl::StatusOr<v1::Job> JobManager::Submit(PreparedJob job) {
  Impl& impl = *impl_;
  absl::MutexLock lock(&impl.mu);
  if (impl.shutting_down) {
    return absl::UnavailableError("the server is shutting down and accepts no new jobs");
  }
  if (!job.request_id.empty()) {
    auto it = impl.by_request_id.find(job.request_id);
    if (it != impl.by_request_id.end()) {
      const JobRecord& existing = *it->second;
      if (!google::protobuf::util::MessageDifferencer::Equals(existing.spec(), job.spec)) {
        return absl::AlreadyExistsError(absl::StrCat(
            "request_id \"", job.request_id, "\" was already used for job ", existing.id(),
            " with a different spec; use a new request_id for a new job"));
      }
      return existing.Snapshot();
    }
  }
  if (impl.queue.size() >= static_cast<size_t>(impl.options.max_queued_jobs)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the job queue is full (", impl.options.max_queued_jobs,
        " jobs queued, the limit set by --max-queued-jobs); retry once jobs have started, or "
        "raise --max-queued-jobs"));
  }
  std::string id;
  do {
    id = NewJobId(impl.random);
  } while (impl.jobs.contains(id));
  auto record = std::make_shared<JobRecord>(id, static_cast<int64_t>(impl.all_jobs.size()),
                                            std::move(job), absl::Now(), impl.options.store);
  RETURN_IF_ERROR(record->Insert());
  v1::Job queued = record->Snapshot();  // before a worker can pick it up
  impl.AddLocked(record);
  impl.queue.push_back(record);
  // Under mu so that observers see OnSubmitted before the job's first state change.
  if (impl.listener != nullptr) impl.listener->OnSubmitted(record->labels());
  return queued;
}

absl::StatusOr<v1::Job> JobManager::Get(std::string_view job_id) const {
  std::shared_ptr<JobRecord> job = impl_->Find(job_id);
  if (job == nullptr) return JobNotFound(job_id);
  return job->Snapshot();
}

absl::StatusOr<JobPage> JobManager::List(v1::JobState state, int page_size,
                                         std::string_view page_token) const {
  if (page_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size must be >= 0 (got ", page_size, "); 0 means ", kDefaultPageSize));
  }
  const int limit = page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize);
  Impl& impl = *impl_;
  absl::MutexLock lock(&impl.mu);
  int64_t bound = static_cast<int64_t>(impl.all_jobs.size());
  if (!page_token.empty()) {
    ASSIGN_OR_RETURN(bound, DecodePageToken(page_token, state, bound));
  }
  JobPage page;
  int64_t index = bound - 1;
  for (; index >= 0; --index) {
    const JobRecord& job = *impl.all_jobs[static_cast<size_t>(index)];
    if (state != v1::JOB_STATE_UNSPECIFIED && job.state() != state) continue;
    if (static_cast<int>(page.jobs.size()) == limit) break;  // a match for the next page
    v1::Job snapshot = job.Snapshot();
    // The job may have moved on since state(); the page shows only what matches.
    if (state != v1::JOB_STATE_UNSPECIFIED && snapshot.state() != state) continue;
    page.jobs.push_back(std::move(snapshot));
  }
  if (index >= 0) page.next_page_token = EncodePageToken(state, index + 1);
  return page;
}

absl::StatusOr<v1::Job> JobManager::Cancel(std::string_view job_id) {
  Impl& impl = *impl_;
  std::shared_ptr<JobRecord> job;
  {
    absl::MutexLock lock(&impl.mu);
    auto it = impl.jobs.find(std::string(job_id));
    if (it == impl.jobs.end()) return JobNotFound(job_id);
    job = it->second;
    const v1::JobState state = job->state();
    if (IsTerminal(state)) {
      return absl::FailedPreconditionError(
          absl::StrCat("job ", job->id(), " already ended ", v1::JobState_Name(state),
                       "; only QUEUED or RUNNING jobs can be cancelled"));
    }
    // A QUEUED job, or a resumed one no worker has taken yet.
    auto queued = std::find(impl.queue.begin(), impl.queue.end(), job);
    if (queued != impl.queue.end()) {
      impl.queue.erase(queued);
      job->Finish(JobOutcome::Cancelled(), absl::Now(), impl.listener);
    } else {
      job->RequestCancel();
    }
  }
  return job->Snapshot();
}

absl::Status JobManager::Watch(std::string_view job_id, int64_t after_step,
                               const std::function<bool(const v1::WatchJobResponse&)>& send) {
  if (after_step < 0) {
    return absl::InvalidArgumentError(absl::StrCat("after_step must be >= 0 (got ", after_step,
                                                   "); 0 streams from the first step"));
  }
  // Any step beyond a job's reach means "only what is still to come"; the clamp keeps
  // after_step + 1 from overflowing.
  after_step = std::min(after_step, kMaxAfterStep);
  Impl& impl = *impl_;
  std::shared_ptr<JobRecord> job;
  {
    absl::MutexLock lock(&impl.mu);
    auto it = impl.jobs.find(std::string(job_id));
    if (it == impl.jobs.end()) return JobNotFound(job_id);
    job = it->second;
    int& watches = impl.watches_per_job[job->id()];
    if (watches >= impl.options.max_watchers_per_job) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "job ", job->id(), " already has the most watchers --max-watchers-per-job allows (",
          watches, "); retry once one has ended, or raise --max-watchers-per-job"));
    }
    ++watches;
    ++impl.active_watches;
  }
  if (impl.listener != nullptr) impl.listener->OnWatchersChanged(+1);
  const WatchStreamOptions options{
      .heartbeat_interval = impl.options.heartbeat_interval,
      .max_points_per_message = impl.options.max_points_per_message,
      .fell_behind_steps = impl.options.watcher_fell_behind_steps,
  };
  absl::Status status = ServeWatch(*job, after_step, options, impl.listener, send);
  if (impl.listener != nullptr) impl.listener->OnWatchersChanged(-1);
  absl::MutexLock lock(&impl.mu);
  --impl.active_watches;
  auto watches = impl.watches_per_job.find(job->id());
  if (--watches->second == 0) impl.watches_per_job.erase(watches);
  return status;
}

absl::StatusOr<TrainedModel> JobManager::Model(std::string_view job_id) const {
  std::shared_ptr<JobRecord> job = impl_->Find(job_id);
  if (job == nullptr) return JobNotFound(job_id);
  return job->Model();
}

void JobManager::Shutdown() {
  Impl& impl = *impl_;
  absl::MutexLock shutdown_lock(&impl.shutdown_mu);
  {
    absl::MutexLock lock(&impl.mu);
    if (!impl.shutting_down) {
      impl.shutting_down = true;
      const bool durable = impl.options.store != nullptr;
      const absl::Time now = absl::Now();
      // Jobs in the queue stay as stored (QUEUED, or RUNNING to be resumed); running ones
      // checkpoint and stop (job_runner.h).
      for (const std::shared_ptr<JobRecord>& job : impl.queue) {
        if (durable) {
          job->MarkSuspended();
        } else {
          job->Finish(JobOutcome::Cancelled(), now, impl.listener);
        }
      }
      impl.queue.clear();
      for (const std::shared_ptr<JobRecord>& job : impl.all_jobs) {
        if (IsTerminal(job->state())) continue;
        if (durable) {
          job->RequestSuspend();
        } else {
          job->RequestCancel();
        }
      }
    }
  }
  for (std::thread& worker : impl.workers) worker.join();
  impl.workers.clear();
}

}  // namespace descent::server
