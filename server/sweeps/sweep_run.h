// One sweep's state as its trials start, report and end: the Sweep message, its numbered
// trial events and the early-stopping rule that reads the reports. No threads and no I/O:
// the sweep manager (sweep_manager.h) feeds it what the job manager tells it, under its lock.
#ifndef DESCENT_SERVER_SWEEPS_SWEEP_RUN_H_
#define DESCENT_SERVER_SWEEPS_SWEEP_RUN_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "descent/v1/sweeps.pb.h"
#include "descent/v1/training.pb.h"
#include "server/store/sweep_store.h"
#include "server/sweeps/early_stopping.h"
#include "server/sweeps/trial_sampling.h"

namespace descent::server {

// The objective `metric` in an epoch's summary; nullopt when the summary lacks it (no
// validation split, no accuracy for a regression).
std::optional<double> ObjectiveValue(v1::ObjectiveMetric metric, const v1::EpochSummary& epoch);

class SweepRun {
 public:
  // A new sweep `id` of a spec ValidateSweepSpec accepted, with its sampled trials, all
  // PENDING, and RUNNING itself.
  SweepRun(std::string id, v1::SweepSpec spec, const std::vector<TrialValues>& trials,
           absl::Time now);

  // A sweep as stored (sweep_store.h) with its stored events, in their order: the rule reads
  // the reports of the REPORTED events again, so its records (ASHA's rungs, the median
  // rule's running means) are what they were, and the decisions it made stand as stored. No
  // trial's job counts as queued or running until JobRunning says so.
  SweepRun(v1::Sweep stored, std::vector<v1::TrialEvent> events);

  // The sweep as clients see it (steps_run and steps_full summed over the trials).
  v1::Sweep sweep() const;
  const v1::Sweep& state() const { return sweep_; }
  // Every event so far; event i has sequence i + 1.
  const std::vector<v1::TrialEvent>& events() const { return events_; }
  // Not RUNNING and no trial's job left queued or running (a stopped trial's job included).
  bool ended() const;

  // The next PENDING trial to start when fewer than max_concurrent_trials are RUNNING and the
  // sweep runs; it is RUNNING (without a job yet) from then on. nullopt: none now.
  std::optional<int> ClaimNextTrial();
  // The trial's job (recovered after a restart) is queued or running.
  void JobRunning(int trial) { job_running_[trial] = true; }
  // What the store lacks: the sweep as of now and the events since the last MarkSaved.
  SweepWrite PendingWrite() const;
  // PendingWrite's events are stored.
  void MarkSaved(size_t events) { saved_events_ += events; }
  // Inserted into the store (with PendingWrite) once.
  bool stored() const { return stored_; }
  void MarkStored() { stored_ = true; }
  // On a shared store: the fencing token of this replica's lease on the sweep, which every
  // PendingWrite carries (0: none). Once the lease is lost (another replica claimed the
  // sweep) this run is stale and drives nothing more.
  int64_t lease_token() const { return lease_token_; }
  void set_lease_token(int64_t token) { lease_token_ = token; }
  bool lease_lost() const { return lease_lost_; }
  void LoseLease() { lease_lost_ = true; }
  // A claimed trial could not be submitted for now (the server stops): PENDING again.
  void Unclaim(int trial);
  // A claimed trial's job was queued: STARTED.
  void Started(int trial, const v1::Job& job);
  // A claimed trial's job could not be made (its spec, the store): FAILED, FINISHED.
  void StartFailed(int trial, const absl::Status& error);
  // The trial's job trained `step` steps.
  void Progress(int trial, int64_t step);
  // An epoch of the trial's job ended: REPORTED, then, when the rule says so, STOPPED with
  // its reason; returns true then (the caller cancels the job). Reports at or before the
  // trial's last reported step are ignored (a watch from step 0 after a restart sends the
  // epochs again).
  bool Epoch(int trial, const v1::EpochSummary& epoch);
  // The trial's job ended (a terminal Job): SUCCEEDED, FAILED or CANCELLED and FINISHED,
  // unless the trial was STOPPED (then only its step is updated). When the last trial's job ends,
  // the sweep SUCCEEDED (unless cancelled) with its best trial and end time.
  void Finished(int trial, const v1::Job& job, absl::Time now);
  // CANCELLED: every PENDING trial too. Returns the job ids of the RUNNING trials, for the
  // caller to cancel (their jobs' ends then arrive through Finished).
  std::vector<std::string> Cancel(absl::Time now);

 private:
  v1::TrialEvent& AddEvent(int trial, v1::TrialEvent::Kind kind);
  void EndIfDone(absl::Time now);

  v1::Sweep sweep_;
  std::vector<bool> job_running_;  // per trial: its job is queued or running
  std::vector<v1::TrialEvent> events_;
  std::unique_ptr<EarlyStopper> stopper_;
  size_t saved_events_ = 0;  // events_[0, saved_events_) are in the store
  bool stored_ = false;
  int64_t lease_token_ = 0;
  bool lease_lost_ = false;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_SWEEPS_SWEEP_RUN_H_
