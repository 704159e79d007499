// One libpq connection for the PostgreSQL job store: statements with parameters (integers
// and text as text, bytes as binary bytea), results in binary, errors as absl::Status naming
// the database. Not thread-safe: the store serialises calls.
//
// Outages (the server restarted, failed over, the network cut): a call that finds the
// connection lost reconnects and runs again, with backoff (50 ms doubling to 1 s), until the
// server has been unreachable for the connection's retry window (`retry_for`, descentd's
// --lease-timeout). A transaction is run again as a whole; when the connection broke while its
// COMMIT was on the way, the transaction's id tells after reconnecting whether it committed,
// so no transaction is applied twice. A statement outside a transaction is sent again as is:
// the store runs only reads and idempotent updates that way (a claim whose answer was lost
// holds that job until its lease expires). Once the window has passed, calls fail with
// UNAVAILABLE after one attempt to reconnect (gave_up() says so), until one gets through.
#ifndef DESCENT_SERVER_STORE_POSTGRES_PG_CONNECTION_H_
#define DESCENT_SERVER_STORE_POSTGRES_PG_CONNECTION_H_

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace descent::server {

// A statement's parameters, $1, $2, ... in the order added.
class PgParams {
 public:
  PgParams& Int(int64_t value);
  PgParams& Text(std::string_view text);
  PgParams& Bytes(std::string_view bytes);  // a bytea, sent as is
  PgParams& Null();
  int size() const { return static_cast<int>(values_.size()); }

 private:
  friend class PgConnection;
  std::vector<std::string> values_;
  std::vector<int> formats_;  // 0 text, 1 binary
  std::vector<bool> nulls_;
};

// A statement's result rows; columns read by index.
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result, &PQclear) {}
  int rows() const { return PQntuples(result_.get()); }
  // Rows an INSERT, UPDATE or DELETE touched.
  int64_t affected() const;
  bool IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  // A smallint, integer or bigint column (binary, any of the three widths).
  int64_t Int(int row, int column) const;
  // A text or bytea column's bytes, valid while this result lives.
  std::string_view Bytes(int row, int column) const;

 private:
  friend class PgConnection;
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

class PgConnection {
 public:
  // Connects to `url` (postgresql://USER@HOST:PORT/DB, any libpq connection string; a connect
  // attempt gives up after 10 s unless the URL or PGCONNECT_TIMEOUT says otherwise).
  // UNAVAILABLE naming the server (without a password) when it cannot connect now: the first
  // connection is not retried. Later outages are retried for `retry_for` (see above).
  static absl::StatusOr<std::unique_ptr<PgConnection>> Connect(
      const std::string& url, absl::Duration retry_for = absl::ZeroDuration());
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // The URL without its password, for messages.
  const std::string& location() const { return location_; }

  // Runs one statement. Errors (see Error) name the database and `what` the statement does.
  // Outside InTransaction, retried through outages as described above; inside, one attempt
  // (the transaction is retried).
  absl::StatusOr<PgResult> Run(std::string_view sql, const PgParams& params, const char* what);
  // Runs statements without parameters (several, separated by ';'), e.g. a migration; retried
  // as Run.
  absl::Status RunScript(const char* sql, const char* what);

  // A notification received on a connection that listens (LISTEN channel).
  struct Notification {
    std::string channel;
    std::string payload;
  };
  // For a connection that listens: waits until notifications arrive, `wake_fd` (-1: none)
  // becomes readable or `timeout` passes, and returns what arrived (maybe nothing).
  // UNAVAILABLE when the connection is lost: the next Run or RunScript reconnects, and the
  // channels must be listened to again (what was sent meanwhile is gone).
  absl::StatusOr<std::vector<Notification>> AwaitNotifications(int wake_fd,
                                                               absl::Duration timeout);

  // Runs `body` (returning absl::Status, running statements on this connection) between BEGIN
  // and COMMIT; rolls back when it or the commit fails, and returns that error. When the
  // connection is lost meanwhile, runs the whole transaction again (body included) as
  // described above, so `body` must only depend on what it reads in the transaction. `begin`
  // may add settings after BEGIN (e.g. "BEGIN; SET LOCAL synchronous_commit TO off").
  absl::Status InTransaction(absl::FunctionRef<absl::Status()> body, const char* begin = "BEGIN");

  // True when the last call failed because the server had been unreachable for the whole
  // retry window; false again once a call gets through.
  bool gave_up() const { return gave_up_; }

 private:
  PgConnection(PGconn* connection, std::string location, absl::Duration retry_for)
      : connection_(connection), location_(std::move(location)), retry_for_(retry_for) {}
  // Reconnects a lost connection, retrying with backoff within the window; UNAVAILABLE when
  // the server stays unreachable.
  absl::Status EnsureConnected();
  // Within the retry window: sleeps the next backoff and returns true. Past it (or with no
  // window): marks gave_up() and returns false. The window starts at the first failure since
  // the last call that got through.
  bool BackOff();
  // A call got through: the next outage starts a new window.
  void Reachable();
  // Whether a statement that returned `raw` failed for want of a connection (rather than
  // for what it asked): the connection is gone, or the server is shutting down or starting.
  bool Lost(const PGresult* raw) const;
  // After the connection broke while committing the transaction `xid`: whether it committed,
  // asked on a new connection (waiting while the old one's backend still holds it open).
  absl::StatusOr<bool> Committed(int64_t xid);
  // One attempt of a transaction: BEGIN (its id into *xid), body, COMMIT (*commit_sent once it
  // is on its way). Rolls back on failure.
  absl::Status TransactionOnce(absl::FunctionRef<absl::Status()> body, const char* begin,
                               int64_t* xid, bool* commit_sent);
  // Sends a statement (`send`) and checks its result, retried through outages outside a
  // transaction; sets last_lost_.
  absl::StatusOr<PgResult> Execute(absl::FunctionRef<PGresult*()> send, const char* what);
  // `raw` when its statement succeeded, else its error (Error).
  absl::StatusOr<PgResult> Checked(PGresult* raw, const char* what) const;
  // A failed statement as the service reports it: RESOURCE_EXHAUSTED for a full disk,
  // ALREADY_EXISTS for a unique key taken, UNAVAILABLE otherwise (a lost connection, the
  // server shutting down, any other error), naming the database and the SQLSTATE.
  absl::Status Error(const PGresult* result, const char* what) const;

  PGconn* const connection_;
  const std::string location_;
  const absl::Duration retry_for_;
  bool in_transaction_ = false;  // inside InTransaction's body: statements are not retried
  bool last_lost_ = false;       // the last statement failed for want of a connection
  absl::Time down_since_ = absl::InfiniteFuture();  // the current outage's first failure
  absl::Duration backoff_;
  bool gave_up_ = false;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_POSTGRES_PG_CONNECTION_H_
