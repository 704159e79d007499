// The PostgreSQL job store's notifications (LISTEN/NOTIFY), heard on a connection and a
// thread of their own: every write for a job notifies kWrittenChannel with the job's
// sequence (a replica following a job another one trains wakes then, instead of polling),
// every cancel request kCancelChannel (the replica that trains the job stops it at once),
// every job that became claimable kClaimableChannel (submitted, or its lease given up: idle
// workers of every replica look for it at once).
// PostgreSQL delivers a notification when its transaction commits, so what a woken reader
// reads is there. A connection lost loses what was sent meanwhile: once it is back, every
// waiter is woken as if its job had changed. Thread-safe.
#ifndef DESCENT_SERVER_STORE_POSTGRES_PG_NOTIFICATIONS_H_
#define DESCENT_SERVER_STORE_POSTGRES_PG_NOTIFICATIONS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/postgres/pg_connection.h"

namespace descent::server {

class PgNotifications {
 public:
  static constexpr char kWrittenChannel[] = "descent_job_written";
  static constexpr char kCancelChannel[] = "descent_job_cancel";
  static constexpr char kClaimableChannel[] = "descent_job_claimable";

  // Connects to `url` and starts listening. UNAVAILABLE as PgConnection::Connect.
  static absl::StatusOr<std::unique_ptr<PgNotifications>> Start(const std::string& url);
  // Stops the thread (a handler call in progress ends first).
  ~PgNotifications();
  PgNotifications(const PgNotifications&) = delete;
  PgNotifications& operator=(const PgNotifications&) = delete;

  // As JobStore::ChangeMark and AwaitChange.
  uint64_t Mark() const ABSL_LOCKS_EXCLUDED(mu_);
  bool Await(int64_t sequence, uint64_t mark, absl::Time deadline) const ABSL_LOCKS_EXCLUDED(mu_);
  // As JobStore::SetCancelHandler.
  void SetCancelHandler(std::function<void(int64_t)> handler) ABSL_LOCKS_EXCLUDED(handler_mu_);
  // As JobStore::SetClaimableHandler.
  void SetClaimableHandler(std::function<void()> handler) ABSL_LOCKS_EXCLUDED(handler_mu_);

 private:
  explicit PgNotifications(std::unique_ptr<PgConnection> db);
  void Loop();
  // Records a write of job `sequence` (a negative one: any job may have changed).
  void Written(int64_t sequence) ABSL_LOCKS_EXCLUDED(mu_);
  void Claimable() ABSL_LOCKS_EXCLUDED(handler_mu_);
  // Sleeps until `timeout` passes or the destructor wakes the thread.
  void Pause(absl::Duration timeout) const;

  const std::unique_ptr<PgConnection> db_;  // the thread's alone
  int wake_[2] = {-1, -1};                  // a pipe: the destructor writes to stop the thread

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // counts what was heard
  // The generation of the last reconnection (or reset of written_): every job may have
  // changed since.
  uint64_t everything_ ABSL_GUARDED_BY(mu_) = 0;
  // The generation of each job's last write heard.
  absl::flat_hash_map<int64_t, uint64_t> written_ ABSL_GUARDED_BY(mu_);

  absl::Mutex handler_mu_;  // held while a handler runs, so replacing it waits for that
  std::function<void(int64_t)> on_cancel_ ABSL_GUARDED_BY(handler_mu_);
  std::function<void()> on_claimable_ ABSL_GUARDED_BY(handler_mu_);

  std::thread thread_;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_POSTGRES_PG_NOTIFICATIONS_H_
