// One libpq connection for the PostgreSQL job store: statements with parameters (integers
// and text as text, bytes as binary bytea), results in binary, errors as absl::Status naming
// the database. A lost connection is re-established by the next call. Not thread-safe: the
// store serialises calls.
#ifndef DESCENT_SERVER_STORE_POSTGRES_PG_CONNECTION_H_
#define DESCENT_SERVER_STORE_POSTGRES_PG_CONNECTION_H_

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

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
  // Connects to `url` (postgresql://USER@HOST:PORT/DB, any libpq connection string).
  // UNAVAILABLE naming the server (without a password) when it cannot connect.
  static absl::StatusOr<std::unique_ptr<PgConnection>> Connect(const std::string& url);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // The URL without its password, for messages.
  const std::string& location() const { return location_; }

  // Runs one statement. Errors (see Error) name the database and `what` the statement does.
  absl::StatusOr<PgResult> Run(std::string_view sql, const PgParams& params, const char* what);
  // Runs statements without parameters (several, separated by ';'), e.g. a migration.
  absl::Status RunScript(const char* sql, const char* what);

  // Runs `body` (returning absl::Status) between BEGIN and COMMIT; rolls back when it or the
  // commit fails, and returns that error. `begin` may add settings after BEGIN (e.g.
  // "BEGIN; SET LOCAL synchronous_commit TO off").
  template <typename Body>
  absl::Status InTransaction(Body body, const char* begin = "BEGIN") {
    absl::Status status = RunScript(begin, "begin a transaction");
    if (status.ok()) status = body();
    if (status.ok()) status = RunScript("COMMIT", "commit");
    if (!status.ok() && PQtransactionStatus(connection_) != PQTRANS_IDLE) {
      PQclear(PQexec(connection_, "ROLLBACK"));
    }
    return status;
  }

 private:
  PgConnection(PGconn* connection, std::string location)
      : connection_(connection), location_(std::move(location)) {}
  // Re-establishes a lost connection between transactions (inside one, what it did is gone
  // with the connection, and the caller must see the error); UNAVAILABLE when the server is
  // still unreachable.
  absl::Status EnsureConnected();
  // `raw` when its statement succeeded, else its error (Error).
  absl::StatusOr<PgResult> Checked(PGresult* raw, const char* what) const;
  // A failed statement as the service reports it: RESOURCE_EXHAUSTED for a full disk,
  // ALREADY_EXISTS for a unique key taken, UNAVAILABLE otherwise (a lost connection, the
  // server shutting down, any other error), naming the database and the SQLSTATE.
  absl::Status Error(const PGresult* result, const char* what) const;

  PGconn* const connection_;
  const std::string location_;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_POSTGRES_PG_CONNECTION_H_
