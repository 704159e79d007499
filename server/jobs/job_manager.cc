#include "server/jobs/job_manager.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <iterator>
#include <limits>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/cores.h"
#include "base/status_macros.h"
#include "engine/blas.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/conversion/engine_to_proto.h"
#include "server/jobs/finished_jobs.h"
#include "server/jobs/job_ids.h"
#include "server/jobs/job_recovery.h"
#include "server/jobs/job_record.h"
#include "server/jobs/list_page_token.h"
#include "server/jobs/job_runner.h"
#include "server/jobs/lease_renewer.h"
#include "server/jobs/model_cache.h"
#include "server/jobs/store_conversion.h"
#include "server/jobs/watch_stream.h"
#include "server/jobs/watcher_slots.h"
#include "server/store/job_store.h"

namespace descent::server {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
constexpr int64_t kMaxAfterStep = int64_t{1} << 62;

absl::Status AlreadyEnded(std::string_view job_id, v1::JobState state) {
  return absl::FailedPreconditionError(absl::StrCat("job ", std::string(job_id), " already ended ",
                                                    v1::JobState_Name(state),
                                                    "; only QUEUED or RUNNING jobs can be cancelled"));
}

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

struct JobManager::Impl {
  Impl(JobManagerOptions options_in, JobEventListener* listener_in)
      : options(std::move(options_in)),
        listener(listener_in),
        models(options.model_cache_bytes),
        watchers(options.max_watchers_per_job),
        finished(options.retain_finished_jobs, options.retain_finished_for),
        runner(options.runner) {
    if (shared()) renewer = std::make_unique<LeaseRenewer>(*options.store, options.lease_timeout);
  }

  // Whether this manager shares its store with other replicas: its workers then claim jobs
  // from the store (with leases) instead of taking them from the local queue alone.
  bool shared() const { return options.store != nullptr && options.store->shared(); }

  // Where a job is: its record while the manager holds one, else a finished job's state.
  struct Slot {
    std::shared_ptr<JobRecord> record;  // null: finished, and the store holds all of it
    v1::JobState state = v1::JOB_STATE_UNSPECIFIED;  // when record is null
    // When record is null: the step this process resumed the job at, if it did (a watcher
    // reconnecting after a crash hears of it, as while the record was there).
    std::optional<int64_t> resumed_at;
    v1::JobState current() const { return record != nullptr ? record->state() : state; }
  };
  struct Found {
    int64_t sequence = 0;
    Slot slot;
  };

  // The job with this id: from memory, else (a finished job) from the store's id index.
  // NOT_FOUND for an unknown or deleted id.
  absl::StatusOr<Found> FindLocked(std::string_view job_id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
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

  // The job as Get shows it, from its record or the store.
  absl::StatusOr<v1::Job> SnapshotOf(int64_t sequence, const Slot& slot) const {
    // A job queued here may have been claimed by another replica since: the store knows.
    if (slot.record != nullptr && !(shared() && slot.record->state() == v1::QUEUED)) {
      return slot.record->Snapshot();
    }
    ASSIGN_OR_RETURN(StoredJob stored, options.store->ReadJob(sequence));
    return WithSpec(std::move(stored));
  }

  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return !queue.empty() || shutting_down;
  }
  bool ShuttingDown() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return shutting_down; }

  // Divides the available cores among the running jobs' OpenBLAS threads. The setting is
  // process-wide and takes effect at each job's next product (one in flight keeps the threads
  // it started with). Under mu, so the count and the setting change together.
  void ShareCoresLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    SetBlasThreads(
        BlasThreadsForRunningJobs(base::AvailableCores(), running_jobs, options.blas_threads));
  }

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

  // Who claims, for the store: this replica's address and this process.
  LeaseHolder Holder() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return LeaseHolder{runner, instance, options.lease_timeout};
  }
  // How long an idle worker of a shared manager waits before it looks for claimable jobs
  // again (jobs submitted elsewhere, leases that expired); a local submission wakes it.
  absl::Duration ClaimPollInterval() const {
    return std::min(absl::Seconds(1), options.lease_timeout / 3);
  }

  // A shared manager's worker: claims a job from the store (those submitted here first, as
  // their training input is prepared already), trains it under its lease, repeats; exits
  // once shutting down.
  void SharedWorkerLoop() {
    const CheckpointPolicy checkpoints{options.checkpoint_every_steps, options.checkpoint_every};
    while (true) {
      {
        absl::MutexLock lock(&mu);
        if (shutting_down) return;
      }
      absl::StatusOr<std::shared_ptr<JobRecord>> claimed = ClaimNext();
      if (!claimed.ok() || *claimed == nullptr) {
        // Nothing claimable (a local submission wakes the worker), or the store is away
        // (then only the interval does): look again after a while.
        absl::MutexLock lock(&mu);
        mu.AwaitWithTimeout(claimed.ok() ? absl::Condition(this, &Impl::HasWorkOrStopping)
                                         : absl::Condition(this, &Impl::ShuttingDown),
                            ClaimPollInterval());
        continue;
      }
      std::shared_ptr<JobRecord> job = *std::move(claimed);
      renewer->Add(job);
      absl::Status started;
      {
        absl::MutexLock lock(&mu);
        ++running_jobs;
        ShareCoresLocked();
        job->SetRunner(runner);
        if (job->state() == v1::QUEUED) started = job->Start(absl::Now(), listener);
      }
      if (!started.ok() && !job->lease_lost()) {
        job->Finish(JobOutcome::Failed(absl::StrCat("could not record the job's start: ",
                                                    started.message())),
                    absl::Now(), listener);
      } else if (started.ok()) {
        RunJob(*job, listener, checkpoints);
      }
      renewer->Remove(job.get());
      absl::MutexLock lock(&mu);
      --running_jobs;
      ShareCoresLocked();
      if (job->lease_lost()) {
        HandOverLocked(*job);
      } else if (!IsTerminal(job->state())) {
        // Stopping: the job checkpointed and stays RUNNING; the next replica may take it now.
        (void)options.store->ReleaseLease(job->sequence(), job->lease_token());
      }
      SettleLocked(*job);
    }
  }

  // The next job this replica may train, with its lease: the first claimable job of the
  // store (resumed ones first, then by submission, whichever replica took it), its record
  // here if it was submitted here (its training input is prepared already), else loaded from
  // the store (its submission prepared again, a RUNNING one from its checkpoint). When none is
  // claimable, the jobs queued here were taken by other replicas and leave this one, but for
  // one submitted since, which is claimed. nullptr when there is nothing to train.
  absl::StatusOr<std::shared_ptr<JobRecord>> ClaimNext() {
    LeaseHolder holder;
    {
      absl::MutexLock lock(&mu);
      holder = Holder();
    }
    ASSIGN_OR_RETURN(std::optional<Lease> lease, options.store->Claim(holder, std::nullopt));
    if (lease) {
      {
        absl::MutexLock lock(&mu);
        if (std::shared_ptr<JobRecord> local = TakeQueuedLocked(lease->sequence)) {
          local->SetLease(lease->token);
          return local;
        }
      }
      ASSIGN_OR_RETURN(std::shared_ptr<JobRecord> record,
                       LoadUnfinishedJob(*options.store, lease->sequence, options.prepare,
                                         listener, lease->token));
      absl::MutexLock lock(&mu);
      if (listener != nullptr && !IsTerminal(record->state())) {
        listener->OnRecovered(record->labels(), record->state());
      }
      AddLocked(record);
      if (IsTerminal(record->state())) {  // it could not be prepared again: FAILED, with why
        SettleLocked(*record);
        return nullptr;
      }
      return record;
    }
    std::vector<std::shared_ptr<JobRecord>> local;
    {
      absl::MutexLock lock(&mu);
      local.assign(queue.begin(), queue.end());
    }
    for (const std::shared_ptr<JobRecord>& job : local) {
      ASSIGN_OR_RETURN(std::optional<Lease> mine, options.store->Claim(holder, job->sequence()));
      absl::MutexLock lock(&mu);
      if (TakeQueuedLocked(job->sequence()) == nullptr) continue;  // cancelled meanwhile
      if (mine) {
        job->SetLease(mine->token);
        return job;
      }
      HandOverLocked(*job);
    }
    return nullptr;
  }

  // Removes the job with this sequence from the local queue and returns it; nullptr when it
  // is not there.
  std::shared_ptr<JobRecord> TakeQueuedLocked(int64_t sequence) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    for (auto it = queue.begin(); it != queue.end(); ++it) {
      if ((*it)->sequence() != sequence) continue;
      std::shared_ptr<JobRecord> job = std::move(*it);
      queue.erase(it);
      return job;
    }
    return nullptr;
  }

  // For Watch: whether job `sequence` has a record here, has ended, or the manager stops.
  struct ClaimWait {
    const Impl* impl;
    int64_t sequence;
  };
  static bool ClaimedHereOrEnded(ClaimWait* wait) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    // Called by Await with mu held.
    const Impl& impl = *wait->impl;
    auto slot = impl.by_sequence.find(wait->sequence);
    return impl.shutting_down || (slot != impl.by_sequence.end() &&
                                  (slot->second.record != nullptr ||
                                   IsTerminal(slot->second.state)));
  }

  // Cancel() of a shared manager, for a job that does not train here: claims it (so no
  // replica starts it meanwhile) and ends it CANCELLED; a job another replica trains is
  // FAILED_PRECONDITION naming that replica.
  absl::StatusOr<v1::Job> CancelElsewhereLocked(std::string_view job_id, const Found& found)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::shared_ptr<JobRecord> job;
    auto queued = std::find(queue.begin(), queue.end(), found.slot.record);
    if (found.slot.record != nullptr && queued != queue.end()) {
      job = found.slot.record;
      queue.erase(queued);
    }
    absl::StatusOr<std::optional<Lease>> lease = options.store->Claim(Holder(), found.sequence);
    if (!lease.ok()) {
      if (job != nullptr) queue.push_front(job);
      return lease.status();
    }
    if (*lease) {
      if (job == nullptr) {
        ASSIGN_OR_RETURN(job, LoadUnfinishedJob(*options.store, found.sequence, options.prepare,
                                                listener, (*lease)->token));
        if (listener != nullptr && !IsTerminal(job->state())) {
          listener->OnRecovered(job->labels(), job->state());
        }
        AddLocked(job);
      } else {
        job->SetLease((*lease)->token);
      }
      if (!IsTerminal(job->state())) job->Finish(JobOutcome::Cancelled(), absl::Now(), listener);
      v1::Job cancelled = job->Snapshot();
      SettleLocked(*job);
      return cancelled;
    }
    if (job != nullptr) HandOverLocked(*job);
    ASSIGN_OR_RETURN(const StoredJob stored, options.store->ReadJob(found.sequence));
    if (IsTerminal(stored.job.state())) return AlreadyEnded(job_id, stored.job.state());
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", std::string(job_id), " is ", v1::JobState_Name(stored.job.state()),
        " on the replica ", stored.job.runner(),
        ", which alone can cancel it; send the cancel there (descent --server ",
        stored.job.runner(), " cancel ", std::string(job_id), ")"));
  }

  // A job this process held that another replica has now: it leaves memory (Get and List
  // read it from the store), its watchers end as for a stopping server, and the listener
  // stops counting it here.
  void HandOverLocked(JobRecord& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    job.MarkSuspended();
    if (listener != nullptr) listener->OnHandedOver(job.labels(), job.state());
    jobs.erase(job.id());
    if (auto slot = by_sequence.find(job.sequence()); slot != by_sequence.end()) {
      slot->second = Slot{nullptr, job.state(), job.resumed_at()};
    }
  }

  // Recover() of a shared manager: every stored job is known by its summary and served from
  // the store; unfinished ones are claimed by the workers like any other (a RUNNING one only
  // once its lease expired, or at once if this replica's previous process held it).
  int RecoverShared(const std::vector<StoredJobSummary>& stored) {
    absl::MutexLock lock(&mu);
    int unfinished = 0;
    for (const StoredJobSummary& job : stored) {
      // The workers run already: a job one of them claimed keeps its record.
      by_sequence.try_emplace(job.sequence, Slot{nullptr, job.state, {}});
      next_sequence = std::max(next_sequence, job.sequence + 1);
      if (!job.request_id.empty()) by_request_id[job.request_id] = job.sequence;
      if (IsTerminal(job.state)) {
        finished.Add(job.end_time, job.sequence);
      } else {
        ++unfinished;
      }
    }
    ApplyRetentionLocked(absl::Now());
    return unfinished;
  }

  // Publishes a job in the lookup tables. Under mu.
  void AddLocked(const std::shared_ptr<JobRecord>& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    jobs.insert_or_assign(record->id(), record);
    by_sequence[record->sequence()] = Slot{record, v1::JOB_STATE_UNSPECIFIED, {}};
    next_sequence = std::max(next_sequence, record->sequence() + 1);
    if (!record->request_id().empty()) by_request_id[record->request_id()] = record->sequence();
  }

  // After a job may have ended: a finished job joins the retention order, and a durable one
  // the store holds entirely leaves memory (watchers that hold its record finish with it).
  void SettleLocked(const JobRecord& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
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

  // Deletes the finished jobs retention no longer keeps, oldest end time first.
  void ApplyRetentionLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const std::vector<int64_t> expired = finished.TakeExpired(now);
    for (int64_t sequence : expired) ForgetLocked(sequence);
    if (options.store != nullptr) DeleteFromStore(*options.store, expired);
  }

  // Drops a deleted job from every table in memory.
  void ForgetLocked(int64_t sequence) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto slot = by_sequence.find(sequence);
    if (slot == by_sequence.end()) return;
    std::string request_id;
    if (slot->second.record != nullptr) {
      request_id = slot->second.record->request_id();
      jobs.erase(slot->second.record->id());
    } else if (options.store != nullptr) {
      absl::StatusOr<StoredJob> stored = options.store->ReadJob(sequence);
      if (stored.ok()) request_id = stored->job.request_id();
    }
    if (auto it = by_request_id.find(request_id); it != by_request_id.end() && it->second == sequence) {
      by_request_id.erase(it);
    }
    by_sequence.erase(slot);
    models.Erase(sequence);
  }

  // Applies the age limit while the manager runs; returns once shutting down.
  void RetentionLoop() {
    absl::MutexLock lock(&mu);
    const absl::Duration every = finished.CheckInterval();
    while (!mu.AwaitWithTimeout(absl::Condition(this, &Impl::ShuttingDown), every)) {
      ApplyRetentionLocked(absl::Now());
    }
  }

  const JobManagerOptions options;
  JobEventListener* const listener;
  mutable ModelCache models;
  WatcherSlots watchers;  // open Watch calls

  mutable absl::Mutex mu;  // acquired before any JobRecord's mutex, never after
  // Jobs held in memory (unfinished ones, and finished ones the store does not hold whole).
  absl::flat_hash_map<std::string, std::shared_ptr<JobRecord>> jobs ABSL_GUARDED_BY(mu);
  // Every job, by submission sequence (List pages by it).
  absl::btree_map<int64_t, Slot> by_sequence ABSL_GUARDED_BY(mu);
  int64_t next_sequence ABSL_GUARDED_BY(mu) = 0;
  absl::flat_hash_map<std::string, int64_t> by_request_id ABSL_GUARDED_BY(mu);
  int running_jobs ABSL_GUARDED_BY(mu) = 0;  // taken by a worker, not yet settled
  FinishedJobs finished ABSL_GUARDED_BY(mu);  // retention's order
  std::deque<std::shared_ptr<JobRecord>> queue ABSL_GUARDED_BY(mu);  // QUEUED jobs, oldest first
  bool shutting_down ABSL_GUARDED_BY(mu) = false;
  std::string runner ABSL_GUARDED_BY(mu);  // Job.runner of the jobs this manager starts
  // This process among the replicas that ever ran at `runner` (lease_instance).
  const int64_t instance = absl::Uniform<int64_t>(absl::BitGen(), 1, INT64_MAX);
  std::unique_ptr<LeaseRenewer> renewer;  // with a shared store only
  absl::BitGen random ABSL_GUARDED_BY(mu);

  absl::Mutex shutdown_mu;  // serializes Shutdown(), so every caller returns once it is done
  std::vector<std::thread> workers ABSL_GUARDED_BY(shutdown_mu);

  void StartWorkersLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shutdown_mu) {
    for (int i = 0; i < options.workers; ++i) {
      workers.emplace_back([this] {
        if (shared()) {
          SharedWorkerLoop();
        } else {
          WorkerLoop();
        }
      });
    }
  }
  std::thread retention ABSL_GUARDED_BY(shutdown_mu);
};

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
    auto it = impl.by_request_id.find(job.request_id);
    if (it != impl.by_request_id.end()) {
      const Impl::Slot& slot = impl.by_sequence.at(it->second);
      ASSIGN_OR_RETURN(v1::Job existing, impl.SnapshotOf(it->second, slot));
      if (!google::protobuf::util::MessageDifferencer::Equals(existing.spec(), job.spec)) {
        return absl::AlreadyExistsError(absl::StrCat(
            "request_id \"", job.request_id, "\" was already used for job ", existing.id(),
            " with a different spec; use a new request_id for a new job"));
      }
      return existing;
    }
  }
  if (impl.queue.size() >= static_cast<size_t>(impl.options.max_queued_jobs)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the job queue is full (", impl.options.max_queued_jobs,
        " jobs queued, the limit set by --max-queued-jobs); retry once jobs have started, or "
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
  auto record = std::make_shared<JobRecord>(id, impl.next_sequence, std::move(job), absl::Now(),
                                            impl.options.store);
  RETURN_IF_ERROR(record->Insert());
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
    if (impl.shared() && found.slot.record == nullptr && !IsTerminal(found.slot.current())) {
      // An unfinished job this replica does not hold: if it is claimable, a worker here
      // claims it within a few poll intervals (right after a restart, say).
      Impl::ClaimWait wait{&impl, found.sequence};
      impl.mu.AwaitWithTimeout(absl::Condition(&Impl::ClaimedHereOrEnded, &wait),
                               impl.ClaimPollInterval() * 3);
      ASSIGN_OR_RETURN(found, impl.FindLocked(job_id));
    }
  }
  const std::string id(job_id);
  RETURN_IF_ERROR(impl.watchers.Acquire(id));
  if (impl.listener != nullptr) impl.listener->OnWatchersChanged(+1);
  const WatchStreamOptions options{
      .heartbeat_interval = impl.options.heartbeat_interval,
      .max_points_per_message = impl.options.max_points_per_message,
      .fell_behind_steps = impl.options.watcher_fell_behind_steps,
      .page_steps = impl.options.watch_page_steps,
  };
  absl::Status status;
  WatchedJob watched{.record = found.slot.record.get(), .store = impl.options.store, .id = id,
                     .sequence = found.sequence};
  if (found.slot.record != nullptr) {
    watched.spec = &found.slot.record->spec();
    status = ServeWatch(watched, after_step, options, impl.listener, send);
  } else {
    absl::StatusOr<StoredJob> stored = impl.options.store->ReadJob(found.sequence);
    if (stored.ok() && !IsTerminal(stored->job.state())) {
      // A shared store's job that another replica trains (or will): UNAVAILABLE, as for a
      // stopping server, so a client retries (this replica may claim it yet).
      status = absl::UnavailableError(absl::StrCat(
          "job ", id, " is ", v1::JobState_Name(stored->job.state()),
          stored->job.runner().empty() ? std::string(" and not claimed by any replica yet")
                                       : absl::StrCat(" on the replica ", stored->job.runner()),
          "; watch it on the replica that trains it (descent --server REPLICA watch ", id, ")"));
    } else if (stored.ok()) {
      watched.spec = &stored->spec;
      watched.ended_at = stored->job.progress().step();
      watched.resumed_at = found.slot.resumed_at;
      status = ServeWatch(watched, after_step, options, impl.listener, send);
    } else {
      status = absl::IsNotFound(stored.status()) ? JobNotFound(id) : stored.status();
    }
  }
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
  ASSIGN_OR_RETURN(const StoredJob stored, impl.options.store->ReadJob(found.sequence));
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
  if (impl.retention.joinable()) impl.retention.join();
}

}  // namespace descent::server
