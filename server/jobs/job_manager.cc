#include "server/jobs/job_manager.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <limits>
#include <optional>
#include <utility>

#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/conversion/engine_to_proto.h"
#include "server/jobs/job_ids.h"
#include "server/jobs/job_manager_impl.h"
#include "server/jobs/job_recovery.h"
#include "server/jobs/list_page_token.h"
#include "server/jobs/job_runner.h"
#include "server/jobs/store_conversion.h"
#include "server/jobs/watch_stream.h"

namespace descent::server {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
constexpr int64_t kMaxAfterStep = int64_t{1} << 62;

absl::Status JobNotFound(std::string_view job_id) {
  return absl::NotFoundError(
      absl::StrCat("job \"", std::string(job_id),
                   "\" not found; `descent list` shows the jobs this server has"));
}

// A finished job's model as the store holds it, with what the job row holds filled in.
absl::StatusOr<std::shared_ptr<const TrainedModel>> StoredModel(const JobStore& store,
                                                                const StoredJob& job) {
  ASSIGN_OR_RETURN(const store::v1::Model stored, store.ReadModel(job.sequence));
  absl::StatusOr<TrainedModel> model = FromStored(stored);
  if (!model.ok()) {
    return absl::DataLossError(absl::StrCat("job ", job.job.id(), ": ", model.status().message()));
  }
  model->job_id = job.job.id();
  model->spec = job.spec;
  return std::make_shared<const TrainedModel>(*std::move(model));
}

// A stored job as Get shows it: its row with the spec.
v1::Job WithSpec(StoredJob stored) {
  *stored.job.mutable_spec() = std::move(stored.spec);
  return std::move(stored.job);
}

}  // namespace

absl::StatusOr<JobManager::Impl::Found> JobManager::Impl::FindLocked(std::string_view job_id) const {
  if (auto it = jobs.find(std::string(job_id)); it != jobs.end()) {
    return Found{it->second->sequence(), Slot{it->second, v1::JOB_STATE_UNSPECIFIED, {}}};
  }
  if (options.store != nullptr) {
    absl::StatusOr<int64_t> sequence = options.store->FindSequence(std::string(job_id));
    if (sequence.ok()) {
      if (auto it = by_sequence.find(*sequence); it != by_sequence.end()) {
        return Found{*sequence, it->second};
      }
      // Submitted to another replica since this one started: served from the store.
      if (shared()) return Found{*sequence, Slot{}};
    } else if (!absl::IsNotFound(sequence.status())) {
      return sequence.status();
    }
  }
  return JobNotFound(job_id);
}

absl::StatusOr<v1::Job> JobManager::Impl::SnapshotOf(int64_t sequence, const Slot& slot) const {
  // A job queued here may have been claimed by another replica since: the store knows.
  if (slot.record != nullptr && !(shared() && slot.record->state() == v1::QUEUED)) {
    return slot.record->Snapshot();
  }
  ASSIGN_OR_RETURN(StoredJob stored, options.store->ReadJobRow(sequence));
  return WithSpec(std::move(stored));
}

absl::StatusOr<v1::Job> JobManager::Impl::RepeatedRequestLocked(const v1::JobSpec& spec,
                                                                const std::string& request_id,
                                                                int64_t sequence) const {
  auto slot = by_sequence.find(sequence);
  ASSIGN_OR_RETURN(v1::Job existing,
                   SnapshotOf(sequence, slot != by_sequence.end() ? slot->second : Slot{}));
  if (!google::protobuf::util::MessageDifferencer::Equals(existing.spec(), spec)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "request_id \"", request_id, "\" was already used for job ", existing.id(),
        " with a different spec; use a new request_id for a new job"));
  }
  return existing;
}

absl::StatusOr<int64_t> JobManager::Impl::QueuedJobsLocked() const {
  if (!shared()) return static_cast<int64_t>(queue.size());
  ASSIGN_OR_RETURN(const std::vector<UnfinishedJobs> counts, options.store->CountUnfinished());
  int64_t queued = 0;
  for (const UnfinishedJobs& count : counts) {
    if (count.state == v1::QUEUED) queued += count.jobs;
  }
  return queued;
}

void JobManager::Impl::WorkerLoop() {
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
      ++running_jobs;
      ShareCoresLocked();
      job->SetRunner(runner);
      // Under mu, so Cancel sees a job either in the queue or taken by a worker. A resumed
      // job is RUNNING already.
      if (job->state() == v1::QUEUED) started = job->Start(absl::Now(), listener);
    }
    if (!started.ok()) {
      job->Finish(JobOutcome::Failed(absl::StrCat("could not record the job's start: ",
                                                  started.message())),
                  absl::Now(), listener);
    } else {
      RunJob(*job, listener, checkpoints);
    }
    absl::MutexLock lock(&mu);
    --running_jobs;
    ShareCoresLocked();
    SettleLocked(*job);
  }
}

void JobManager::Impl::AddLocked(const std::shared_ptr<JobRecord>& record) {
  jobs.insert_or_assign(record->id(), record);
  by_sequence[record->sequence()] = Slot{record, v1::JOB_STATE_UNSPECIFIED, {}};
  next_sequence = std::max(next_sequence, record->sequence() + 1);
  if (!record->request_id().empty()) by_request_id[record->request_id()] = record->sequence();
}

void JobManager::Impl::SettleLocked(const JobRecord& job) {
  const v1::Job snapshot = job.Snapshot();
  if (!IsTerminal(snapshot.state())) return;
  auto slot = by_sequence.find(job.sequence());
  if (slot == by_sequence.end()) return;  // deleted already
  finished.Add(FromTimestamp(snapshot.end_time()), job.sequence());
  if (job.FullyStored()) {
    slot->second = Slot{nullptr, snapshot.state(), job.resumed_at()};
    jobs.erase(job.id());
  }
  ApplyRetentionLocked(absl::Now());
}

void JobManager::Impl::ApplyRetentionLocked(absl::Time now) {
  const std::vector<int64_t> expired = finished.TakeExpired(now);
  for (int64_t sequence : expired) ForgetLocked(sequence);
  if (options.store != nullptr) DeleteFromStore(*options.store, expired);
}

void JobManager::Impl::ForgetLocked(int64_t sequence) {
  auto slot = by_sequence.find(sequence);
  if (slot == by_sequence.end()) return;
  std::string request_id;
  if (slot->second.record != nullptr) {
    request_id = slot->second.record->request_id();
    jobs.erase(slot->second.record->id());
  } else if (options.store != nullptr) {
    absl::StatusOr<StoredJob> stored = options.store->ReadJobRow(sequence);
    if (stored.ok()) request_id = stored->job.request_id();
  }
  if (auto it = by_request_id.find(request_id); it != by_request_id.end() && it->second == sequence) {
    by_request_id.erase(it);
  }
  by_sequence.erase(slot);
  models.Erase(sequence);
}

void JobManager::Impl::RetentionLoop() {
  absl::MutexLock lock(&mu);
  const absl::Duration every = finished.CheckInterval();
  while (!mu.AwaitWithTimeout(absl::Condition(this, &Impl::ShuttingDown), every)) {
    ApplyRetentionLocked(absl::Now());
  }
}

JobManager::JobManager(JobManagerOptions options, JobEventListener* listener) {
  if (absl::Status valid = ValidateJobManagerOptions(options); !valid.ok()) {
    std::fprintf(stderr, "JobManagerOptions: %s\n", std::string(valid.message()).c_str());
    DESCENT_CHECK(valid.ok());
  }
  SetBlasThreads(BlasThreadsForRunningJobs(base::AvailableCores(), 0, options.blas_threads));
  impl_ = std::make_unique<Impl>(std::move(options), listener);
  absl::MutexLock lock(&impl_->shutdown_mu);
  if (impl_->options.start_workers) impl_->StartWorkersLocked();
  if (impl_->options.retain_finished_for > absl::ZeroDuration()) {
    impl_->retention = std::thread([impl = impl_.get()] { impl->RetentionLoop(); });
  }
  if (impl_->shared() && listener != nullptr) {
    impl_->cluster_count = std::thread([impl = impl_.get()] { impl->ClusterCountLoop(); });
  }
  if (impl_->shared()) {
    impl_->hand_over = std::thread([impl = impl_.get()] { impl->HandOverLoop(); });
  }
}

JobManager::~JobManager() {
  Shutdown();
  impl_->watchers.AwaitNone();
}

absl::StatusOr<int> JobManager::Recover() {
  Impl& impl = *impl_;
  if (impl.options.store == nullptr) return 0;
  ASSIGN_OR_RETURN(std::vector<StoredJobSummary> stored, impl.options.store->LoadSummaries());
  if (impl.shared()) return impl.RecoverShared(stored);
  std::vector<std::shared_ptr<JobRecord>> records;
  std::vector<std::shared_ptr<JobRecord>> resumed;
  std::vector<std::shared_ptr<JobRecord>> queued;
  for (const StoredJobSummary& job : stored) {
    if (IsTerminal(job.state)) continue;
    ASSIGN_OR_RETURN(std::shared_ptr<JobRecord> record, LoadUnfinishedJob(*impl.options.store, job.sequence, impl.options.prepare, impl.listener));
    if (record->state() == v1::RUNNING) resumed.push_back(record);
    if (record->state() == v1::QUEUED) queued.push_back(record);
    records.push_back(std::move(record));
  }
  absl::MutexLock lock(&impl.mu);
  DESCENT_CHECK(impl.by_sequence.empty());
  for (const StoredJobSummary& job : stored) {
    if (!IsTerminal(job.state)) continue;
    impl.by_sequence[job.sequence] = Impl::Slot{nullptr, job.state, {}};
    impl.next_sequence = std::max(impl.next_sequence, job.sequence + 1);
    impl.finished.Add(job.end_time, job.sequence);
    if (!job.request_id.empty()) impl.by_request_id[job.request_id] = job.sequence;
  }
  for (const std::shared_ptr<JobRecord>& record : records) {
    impl.AddLocked(record);
    if (impl.listener != nullptr && !IsTerminal(record->state())) {
      impl.listener->OnRecovered(record->labels(), record->state());
    }
    impl.SettleLocked(*record);  // a job that could not continue has just FAILED
  }
  impl.ApplyRetentionLocked(absl::Now());
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
    if (auto it = impl.by_request_id.find(job.request_id); it != impl.by_request_id.end()) {
      return impl.RepeatedRequestLocked(job.spec, job.request_id, it->second);
    }
    if (impl.shared()) {  // maybe submitted to another replica
      ASSIGN_OR_RETURN(const std::optional<int64_t> existing,
                       impl.options.store->FindRequest(job.request_id));
      if (existing) return impl.RepeatedRequestLocked(job.spec, job.request_id, *existing);
    }
  }
  ASSIGN_OR_RETURN(const int64_t queued_jobs, impl.QueuedJobsLocked());
  if (queued_jobs >= impl.options.max_queued_jobs) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the job queue is full (", impl.options.max_queued_jobs, " jobs queued",
        impl.shared() ? " across the replicas sharing the store" : "",
        ", the limit set by --max-queued-jobs); retry once jobs have started, or "
        "raise --max-queued-jobs"));
  }
  if (impl.shared()) {
    // Other replicas submit too: the store hands out the sequences.
    ASSIGN_OR_RETURN(impl.next_sequence, impl.options.store->NextSequence());
  }
  std::string id;
  do {
    id = NewJobId(impl.random);
  } while (impl.jobs.contains(id) ||
           (impl.options.store != nullptr && impl.options.store->FindSequence(id).ok()));
  const std::string request_id = job.request_id;
  auto record = std::make_shared<JobRecord>(id, impl.next_sequence, std::move(job), absl::Now(),
                                            impl.options.store);
  if (const absl::Status inserted = record->Insert(); !inserted.ok()) {
    if (impl.shared() && !request_id.empty() && absl::IsAlreadyExists(inserted)) {
      // Another replica was given the same request at the same moment and stored its job
      // first: that job is the answer.
      ASSIGN_OR_RETURN(const std::optional<int64_t> existing,
                       impl.options.store->FindRequest(request_id));
      if (existing) return impl.RepeatedRequestLocked(record->spec(), request_id, *existing);
    }
    return inserted;
  }
  v1::Job queued = record->Snapshot();  // before a worker can pick it up
  impl.AddLocked(record);
  impl.queue.push_back(record);
  // Under mu so that observers see OnSubmitted before the job's first state change.
  if (impl.listener != nullptr) impl.listener->OnSubmitted(record->labels());
  return queued;
}

absl::StatusOr<v1::Job> JobManager::Get(std::string_view job_id) const {
  Impl& impl = *impl_;
  absl::MutexLock lock(&impl.mu);
  ASSIGN_OR_RETURN(const Impl::Found found, impl.FindLocked(job_id));
  return impl.SnapshotOf(found.sequence, found.slot);
}

absl::StatusOr<JobPage> JobManager::List(v1::JobState state, int page_size,
                                         std::string_view page_token) const {
  if (page_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size must be >= 0 (got ", page_size, "); 0 means ", kDefaultPageSize));
  }
  const int limit = page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize);
  Impl& impl = *impl_;
  if (impl.shared()) return impl.ListShared(state, limit, page_token);
  absl::MutexLock lock(&impl.mu);
  int64_t bound = impl.next_sequence;
  if (!page_token.empty()) {
    ASSIGN_OR_RETURN(bound, DecodeListPageToken(page_token, state, bound));
  }
  JobPage page;
  // Newest first: from the last job below `bound` backwards.
  auto it = std::make_reverse_iterator(impl.by_sequence.lower_bound(bound));
  for (; it != impl.by_sequence.rend(); ++it) {
    const auto& [sequence, slot] = *it;
    if (state != v1::JOB_STATE_UNSPECIFIED && slot.current() != state) continue;
    if (static_cast<int>(page.jobs.size()) == limit) break;  // a match for the next page
    ASSIGN_OR_RETURN(v1::Job snapshot, impl.SnapshotOf(sequence, slot));
    // The job may have moved on since current(); the page shows only what matches.
    if (state != v1::JOB_STATE_UNSPECIFIED && snapshot.state() != state) continue;
    page.jobs.push_back(std::move(snapshot));
  }
  if (it != impl.by_sequence.rend()) page.next_page_token = EncodeListPageToken(state, it->first + 1);
  return page;
}

absl::StatusOr<v1::Job> JobManager::Cancel(std::string_view job_id) {
  Impl& impl = *impl_;
  std::shared_ptr<JobRecord> job;
  {
    absl::MutexLock lock(&impl.mu);
    ASSIGN_OR_RETURN(const Impl::Found found, impl.FindLocked(job_id));
    const v1::JobState state = found.slot.current();
    if (IsTerminal(state)) return AlreadyEnded(job_id, state);
    // A shared manager cancels at once only the jobs it trains; others through the store.
    if (impl.shared() && (found.slot.record == nullptr || found.slot.record->lease_token() == 0)) {
      return impl.CancelElsewhereLocked(job_id, found);
    }
    job = found.slot.record;
    DESCENT_CHECK(job != nullptr);  // unfinished jobs stay in memory
    // A QUEUED job, or a resumed one no worker has taken yet.
    auto queued = std::find(impl.queue.begin(), impl.queue.end(), job);
    if (queued != impl.queue.end()) {
      impl.queue.erase(queued);
      job->Finish(JobOutcome::Cancelled(), absl::Now(), impl.listener);
      v1::Job cancelled = job->Snapshot();
      impl.SettleLocked(*job);
      return cancelled;
    }
    job->RequestCancel();
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
  Impl::Found found;
  {
    absl::MutexLock lock(&impl.mu);
    ASSIGN_OR_RETURN(found, impl.FindLocked(job_id));
  }
  const std::string id(job_id);
  // Without a record here: a finished job, or a shared store's job another replica trains
  // (or is about to).
  std::optional<StoredJob> stored;
  if (found.slot.record == nullptr) {
    absl::StatusOr<StoredJob> read = impl.options.store->ReadJobRow(found.sequence);
    if (!read.ok()) return absl::IsNotFound(read.status()) ? JobNotFound(id) : read.status();
    stored = *std::move(read);
    absl::MutexLock lock(&impl.mu);
    if (impl.shared() && !IsTerminal(stored->job.state()) &&
        (stored->job.runner().empty() || stored->job.runner() == impl.runner)) {
      // No replica claimed it yet, or this replica's previous process ran it (a restart): a
      // worker here may claim it within a few poll intervals, and its record then serves the
      // watch (a resumption before after_step included).
      Impl::ClaimWait wait{&impl, found.sequence};
      impl.mu.AwaitWithTimeout(absl::Condition(&Impl::ClaimedHereOrEnded, &wait),
                               impl.ClaimPollInterval() * 3);
      ASSIGN_OR_RETURN(found, impl.FindLocked(job_id));
    }
  }
  RETURN_IF_ERROR(impl.watchers.Acquire(id));
  if (impl.listener != nullptr) impl.listener->OnWatchersChanged(+1);
  const WatchStreamOptions options{
      .heartbeat_interval = impl.options.heartbeat_interval,
      .max_points_per_message = impl.options.max_points_per_message,
      .fell_behind_steps = impl.options.watcher_fell_behind_steps,
      .page_steps = impl.options.watch_page_steps,
  };
  WatchedJob watched;
  watched.record = found.slot.record.get();
  watched.store = impl.options.store;
  watched.id = id;
  watched.sequence = found.sequence;
  if (found.slot.record != nullptr) {
    watched.spec = &found.slot.record->spec();
  } else {
    watched.spec = &stored->spec;
    if (IsTerminal(stored->job.state())) {
      watched.ended_at = stored->job.progress().step();
      watched.resumed_at = found.slot.resumed_at;
    } else {
      // Another replica trains it: followed in the store (to its end, should it end since).
      watched.follow = true;
    }
  }
  const absl::Status status = ServeWatch(watched, after_step, options, impl.listener, send);
  if (impl.listener != nullptr) impl.listener->OnWatchersChanged(-1);
  impl.watchers.Release(id);
  return status;
}

absl::StatusOr<TrainedModel> JobManager::Model(std::string_view job_id) const {
  Impl& impl = *impl_;
  Impl::Found found;
  {
    absl::MutexLock lock(&impl.mu);
    ASSIGN_OR_RETURN(found, impl.FindLocked(job_id));
  }
  if (found.slot.record != nullptr) return found.slot.record->Model();
  if (std::shared_ptr<const TrainedModel> cached = impl.models.Find(found.sequence)) {
    return *cached;
  }
  ASSIGN_OR_RETURN(const StoredJob stored, impl.options.store->ReadJobRow(found.sequence));
  if (stored.spec.has_lr_find()) return RangeTestModelError(stored.job.id());
  if (stored.job.state() != v1::SUCCEEDED) {
    return NoModelError(stored.job.id(), stored.job.state(), stored.job.error());
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const TrainedModel> model,
                   StoredModel(*impl.options.store, stored));
  impl.models.Add(found.sequence, model);
  return *model;
}

void JobManager::StartWorkers(std::string runner) {
  absl::MutexLock shutdown_lock(&impl_->shutdown_mu);
  DESCENT_CHECK(impl_->workers.empty());
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->runner = std::move(runner);
  }
  impl_->StartWorkersLocked();
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
      for (const auto& [id, job] : impl.jobs) {
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
  // No announcement reaches the manager once it stopped (the handler takes mu: not held here).
  if (impl.shared()) impl.options.store->SetClaimableHandler(nullptr);
  if (impl.retention.joinable()) impl.retention.join();
  if (impl.cluster_count.joinable()) impl.cluster_count.join();
  if (impl.hand_over.joinable()) impl.hand_over.join();
}

}  // namespace descent::server
