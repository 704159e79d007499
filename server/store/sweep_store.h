// Durable sweeps, beside the jobs in the same database (job_store.h: JobStore::sweeps()):
// each sweep's row (the whole Sweep message: spec, sampled trials with their parameters and
// job ids, the reports the early-stopping rule read, the stopped trials with their reasons,
// the state and the best trial) and its numbered trial events, which a watch resumes from.
// Its own interface rather than more of JobStore's: a sweep is a different thing from a job
// (one row rewritten whole, no history chunks, no checkpoints), and the job store's
// implementers need not know it. Implementations share the job store's connection and lock,
// and are thread-safe: sqlite_sweep_store.h, postgres/postgres_sweep_store.h.
#ifndef DESCENT_SERVER_STORE_SWEEP_STORE_H_
#define DESCENT_SERVER_STORE_SWEEP_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "descent/v1/sweeps.pb.h"
#include "server/store/job_store.h"

namespace descent::server {

// What one transaction writes for a sweep.
struct SweepWrite {
  v1::Sweep sweep;  // the whole row as of this write (its id is the key)
  // Appended after the stored ones; their sequence numbers continue the stored ones'.
  std::vector<v1::TrialEvent> events;
  // A shared store writes only while the sweep's lease has this token (SweepStore::ClaimSweep;
  // 0: a sweep no replica claimed yet) and fails with a lease-lost error (IsLeaseLost,
  // naming the sweep) otherwise, writing nothing. Other stores ignore it.
  int64_t lease_token = 0;
};

// A replica's claim on a sweep of a shared store: the fencing token every write for it
// carries. Tokens only grow.
struct SweepLease {
  std::string id;
  int64_t token = 0;
};

class SweepStore {
 public:
  virtual ~SweepStore() = default;

  // Shared by several descentd (PostgreSQL), whose sweeps any of them may have created.
  virtual bool shared() const { return false; }

  // Adds a sweep with its first events, durably. ALREADY_EXISTS for an id that is stored.
  // Write errors as JobStore::Write's.
  virtual absl::Status InsertSweep(const SweepWrite& write) = 0;
  // Replaces the sweep's row and appends the events in one transaction. NOT_FOUND for an
  // unknown id; lease-lost on a shared store (see SweepWrite::lease_token); write errors as
  // JobStore::Write's, with the store unchanged.
  virtual absl::Status WriteSweep(const SweepWrite& write) = 0;
  // Every stored sweep as last written, oldest first. DATA_LOSS naming the sweep for a row
  // that does not parse.
  virtual absl::StatusOr<std::vector<v1::Sweep>> LoadSweeps() const = 0;
  // One sweep; NOT_FOUND for an unknown id.
  virtual absl::StatusOr<v1::Sweep> ReadSweep(const std::string& id) const = 0;
  // The sweep's events with a sequence number above `after`, in order (none for an unknown
  // id). DATA_LOSS for an event that does not parse.
  virtual absl::StatusOr<std::vector<v1::TrialEvent>> ReadSweepEvents(const std::string& id,
                                                                      int64_t after) const = 0;

  // Leases, on a shared store (JobStore::shared), as jobs have: one replica drives a sweep at
  // a time. The first RUNNING sweep whose lease expired or that never had one (or that an
  // earlier process at holder.runner held), oldest first, claimed in one atomic update; only
  // sweep `only` when set. nullopt when there is none. UNIMPLEMENTED on a store that is not
  // shared.
  virtual absl::StatusOr<std::optional<SweepLease>> ClaimSweep(
      const LeaseHolder& /*holder*/, const std::optional<std::string>& /*only*/) {
    return absl::UnimplementedError("this sweep store is not shared; it has no leases");
  }
  // Extends the lease to `timeout` from now; true when a cancel of the sweep was requested
  // (RequestSweepCancel). Lease-lost when another replica claimed it.
  virtual absl::StatusOr<bool> RenewSweepLease(const std::string& /*id*/, int64_t /*token*/,
                                               absl::Duration /*timeout*/) {
    return absl::UnimplementedError("this sweep store is not shared; it has no leases");
  }
  // Records a cancel of running sweep `id` for the replica that drives it, whichever that
  // is: it hears of it at its next renewal, as does a replica that claims the sweep later.
  // The sweep's state, which is terminal (and nothing was recorded) when it had ended
  // already. NOT_FOUND for a sweep that is not stored; store errors as for WriteSweep.
  virtual absl::StatusOr<v1::SweepState> RequestSweepCancel(const std::string& /*id*/) {
    return absl::UnimplementedError("this sweep store is not shared; its one process cancels");
  }
  // Gives the lease up (a replica stopping): claimable at once. OK when it was lost already.
  virtual absl::Status ReleaseSweepLease(const std::string& /*id*/, int64_t /*token*/) {
    return absl::UnimplementedError("this sweep store is not shared; it has no leases");
  }
};

// The lease-lost error of a sweep: ABORTED, naming it (IsLeaseLost recognises it).
absl::Status SweepLeaseLostError(const std::string& id);

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_SWEEP_STORE_H_
