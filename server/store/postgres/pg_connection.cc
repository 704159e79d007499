#include "server/store/postgres/pg_connection.h"

#include <endian.h>
#include <poll.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"

namespace descent::server {
namespace {

// "postgresql://USER@HOST:PORT/DB" from a connection string or URL, without the password;
// the string itself when libpq cannot parse it (Connect then fails, naming it).
std::string LocationOf(const std::string& url) {
  PQconninfoOption* options = PQconninfoParse(url.c_str(), nullptr);
  if (options == nullptr) return url;
  std::string user, host, port, database;
  for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (option->val == nullptr) continue;
    const std::string_view keyword = option->keyword;
    if (keyword == "user") user = option->val;
    if (keyword == "host" || (keyword == "hostaddr" && host.empty())) host = option->val;
    if (keyword == "port") port = option->val;
    if (keyword == "dbname") database = option->val;
  }
  PQconninfoFree(options);
  return absl::StrCat("postgresql://", user, user.empty() ? "" : "@", host,
                      port.empty() ? "" : ":", port, "/", database);
}

std::string ErrorText(const PGconn* connection) {
  return std::string(absl::StripTrailingAsciiWhitespace(PQerrorMessage(connection)));
}

}  // namespace

PgParams& PgParams::Int(int64_t value) {
  values_.push_back(absl::StrCat(value));
  formats_.push_back(0);
  nulls_.push_back(false);
  return *this;
}

PgParams& PgParams::Text(std::string_view text) {
  values_.emplace_back(text);
  formats_.push_back(0);
  nulls_.push_back(false);
  return *this;
}

PgParams& PgParams::Bytes(std::string_view bytes) {
  values_.emplace_back(bytes);
  formats_.push_back(1);
  nulls_.push_back(false);
  return *this;
}

PgParams& PgParams::Null() {
  values_.emplace_back();
  formats_.push_back(0);
  nulls_.push_back(true);
  return *this;
}

int64_t PgResult::affected() const {
  const char* count = PQcmdTuples(result_.get());
  return count != nullptr && *count != '\0' ? std::strtoll(count, nullptr, 10) : 0;
}

int64_t PgResult::Int(int row, int column) const {
  const char* value = PQgetvalue(result_.get(), row, column);
  switch (PQgetlength(result_.get(), row, column)) {
    case 8: {
      uint64_t big = 0;
      std::memcpy(&big, value, 8);
      return static_cast<int64_t>(be64toh(big));
    }
    case 4: {
      uint32_t big = 0;
      std::memcpy(&big, value, 4);
      return static_cast<int32_t>(be32toh(big));
    }
    case 2: {
      uint16_t big = 0;
      std::memcpy(&big, value, 2);
      return static_cast<int16_t>(be16toh(big));
    }
    default:
      return 0;  // NULL
  }
}

std::string_view PgResult::Bytes(int row, int column) const {
  return std::string_view(PQgetvalue(result_.get(), row, column),
                          static_cast<size_t>(PQgetlength(result_.get(), row, column)));
}

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& url,
                                                                   absl::Duration retry_for) {
  std::string location = LocationOf(url);
  // connect_timeout first: the URL's own setting, expanded from dbname after it, wins.
  const bool default_timeout = getenv("PGCONNECT_TIMEOUT") == nullptr;
  const char* keywords[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {"10", url.c_str(), nullptr};
  PGconn* connection = PQconnectdbParams(keywords + (default_timeout ? 0 : 1),
                                         values + (default_timeout ? 0 : 1), /*expand_dbname=*/1);
  if (connection == nullptr || PQstatus(connection) != CONNECTION_OK) {
    absl::Status error = absl::UnavailableError(absl::StrCat(
        "cannot connect to the job store ", location, ": ",
        connection != nullptr ? ErrorText(connection) : "out of memory",
        "; check --store and that PostgreSQL accepts connections there"));
    PQfinish(connection);
    return error;
  }
  return std::unique_ptr<PgConnection>(
      new PgConnection(connection, std::move(location), retry_for));
}

PgConnection::~PgConnection() { PQfinish(connection_); }

void PgConnection::Reachable() {
  down_since_ = absl::InfiniteFuture();
  gave_up_ = false;
}

bool PgConnection::BackOff() {
  const absl::Time now = absl::Now();
  if (down_since_ == absl::InfiniteFuture()) {
    down_since_ = now;
    backoff_ = absl::Milliseconds(50);
  }
  const absl::Time deadline = down_since_ + retry_for_;
  if (now >= deadline) {
    gave_up_ = true;
    return false;
  }
  absl::SleepFor(std::min(backoff_, deadline - now));
  backoff_ = std::min(backoff_ * 2, absl::Seconds(1));
  return true;
}

absl::Status PgConnection::EnsureConnected() {
  while (PQstatus(connection_) != CONNECTION_OK) {
    PQreset(connection_);
    if (PQstatus(connection_) == CONNECTION_OK) break;
    if (!BackOff()) {
      return absl::UnavailableError(absl::StrCat(
          "lost the connection to the job store ", location_, " and cannot reconnect",
          retry_for_ > absl::ZeroDuration()
              ? absl::StrCat(" (unreachable for ", absl::FormatDuration(absl::Now() - down_since_),
                             ")")
              : "",
          ": ", ErrorText(connection_)));
    }
  }
  return absl::OkStatus();
}

bool PgConnection::Lost(const PGresult* raw) const {
  if (PQstatus(connection_) != CONNECTION_OK) return true;
  const char* state = raw != nullptr ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
  if (state == nullptr) return raw == nullptr;
  const absl::string_view sqlstate = state;
  // Class 08: connection exception; 57P01-57P03: the server is shutting down, crashed, or is
  // not accepting connections yet.
  return absl::StartsWith(sqlstate, "08") || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03";
}

absl::Status PgConnection::Error(const PGresult* result, const char* what) const {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  const std::string detail = ErrorText(connection_);
  if (sqlstate == "53100") {  // disk_full
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot ", what, " in the job store ", location_, ": no space left (", detail,
        "); free space on the PostgreSQL server's volume"));
  }
  if (sqlstate == "23505") {  // unique_violation
    return absl::AlreadyExistsError(absl::StrCat("cannot ", what, " in the job store ",
                                                 location_, ": ", detail));
  }
  return absl::UnavailableError(absl::StrCat(
      "cannot ", what, " in the job store ", location_, ": ", detail,
      sqlstate.empty() ? std::string() : absl::StrCat(" (SQLSTATE ", sqlstate, ")"),
      PQstatus(connection_) != CONNECTION_OK ? "; the connection is lost, the next call reconnects"
                                             : ""));
}

absl::StatusOr<PgResult> PgConnection::Checked(PGresult* raw, const char* what) const {
  PgResult result(raw);
  const ExecStatusType status = PQresultStatus(raw);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  return Error(raw, what);
}

absl::StatusOr<PgResult> PgConnection::Execute(absl::FunctionRef<PGresult*()> send,
                                               const char* what) {
  while (true) {
    if (!in_transaction_) RETURN_IF_ERROR(EnsureConnected());
    PGresult* raw = send();
    last_lost_ = Lost(raw);
    if (in_transaction_ || !last_lost_) {
      if (!in_transaction_) Reachable();
      return Checked(raw, what);
    }
    absl::Status error = Checked(raw, what).status();
    if (!BackOff()) return error;
  }
}

absl::StatusOr<PgResult> PgConnection::Run(std::string_view sql, const PgParams& params,
                                           const char* what) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  values.reserve(params.values_.size());
  for (size_t i = 0; i < params.values_.size(); ++i) {
    values.push_back(params.nulls_[i] ? nullptr : params.values_[i].data());
    lengths.push_back(static_cast<int>(params.values_[i].size()));
  }
  const std::string text(sql);
  return Execute(
      [&] {
        return PQexecParams(connection_, text.c_str(), params.size(), nullptr, values.data(),
                            lengths.data(), params.formats_.data(), /*resultFormat=*/1);
      },
      what);
}

absl::Status PgConnection::RunScript(const char* sql, const char* what) {
  return Execute([&] { return PQexec(connection_, sql); }, what).status();
}

absl::Status PgConnection::TransactionOnce(absl::FunctionRef<absl::Status()> body,
                                           const char* begin, int64_t* xid, bool* commit_sent) {
  *xid = -1;
  *commit_sent = false;
  last_lost_ = true;  // should the server stay unreachable
  RETURN_IF_ERROR(EnsureConnected());
  in_transaction_ = true;
  // The transaction's id, to ask whether it committed should the COMMIT's answer be lost.
  const std::string begin_script = absl::StrCat(begin, "; SELECT txid_current()");
  absl::StatusOr<PgResult> begun =
      Execute([&] { return PQexec(connection_, begin_script.c_str()); }, "begin a transaction");
  absl::Status status = begun.status();
  if (status.ok() && begun->rows() == 1 &&
      !absl::SimpleAtoi(PQgetvalue(begun->result_.get(), 0, 0), xid)) {
    *xid = -1;
  }
  if (status.ok()) status = body();
  if (status.ok()) {
    *commit_sent = true;
    status = RunScript("COMMIT", "commit");
  }
  in_transaction_ = false;
  if (!status.ok() && PQstatus(connection_) == CONNECTION_OK &&
      PQtransactionStatus(connection_) != PQTRANS_IDLE) {
    PQclear(PQexec(connection_, "ROLLBACK"));
  }
  return status;
}

absl::StatusOr<bool> PgConnection::Committed(int64_t xid) {
  while (true) {
    absl::StatusOr<PgResult> known = Run("SELECT txid_status($1)", PgParams().Int(xid),
                                         "ask whether a transaction committed");
    if (!known.ok()) {
      // 22023: an id the server does not know (a crash lost the commit's WAL): not committed.
      if (absl::StrContains(known.status().message(), "SQLSTATE 22023")) return false;
      return known.status();
    }
    const std::string_view outcome = known->IsNull(0, 0) ? "" : known->Bytes(0, 0);
    if (outcome != "in progress") return outcome == "committed";
    // The old connection's backend has not noticed yet that its client is gone.
    if (!BackOff()) {
      return absl::UnavailableError(absl::StrCat(
          "the job store ", location_, " still holds transaction ", xid,
          " of a lost connection open; it ends when the server notices the connection is gone"));
    }
  }
}

absl::Status PgConnection::InTransaction(absl::FunctionRef<absl::Status()> body,
                                         const char* begin) {
  while (true) {
    int64_t xid = -1;
    bool commit_sent = false;
    const absl::Status status = TransactionOnce(body, begin, &xid, &commit_sent);
    if (status.ok()) {
      Reachable();
      return status;
    }
    // The statements' own error (a key taken, a full disk): the caller's to see. The server
    // answered, so an outage before this one is over.
    if (!last_lost_ && PQstatus(connection_) == CONNECTION_OK) {
      Reachable();
      return status;
    }
    if (commit_sent && xid >= 0) {
      ASSIGN_OR_RETURN(const bool committed, Committed(xid));
      if (committed) return absl::OkStatus();
    }
    if (!BackOff()) return status;
  }
}

absl::StatusOr<std::vector<PgConnection::Notification>> PgConnection::AwaitNotifications(
    int wake_fd, absl::Duration timeout) {
  const auto lost = [&] {
    return absl::UnavailableError(absl::StrCat("lost the connection to the job store ", location_,
                                               ": ", ErrorText(connection_)));
  };
  if (PQstatus(connection_) != CONNECTION_OK) return lost();
  std::vector<Notification> received;
  const auto take = [&] {
    while (PGnotify* notify = PQnotifies(connection_)) {
      received.push_back(Notification{notify->relname, notify->extra});
      PQfreemem(notify);
    }
  };
  take();  // some may have come with the results of earlier statements
  if (!received.empty()) return received;
  pollfd fds[2] = {{PQsocket(connection_), POLLIN, 0}, {wake_fd, POLLIN, 0}};
  const int ready = poll(fds, wake_fd >= 0 ? 2 : 1,
                         static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (ready > 0 && fds[0].revents != 0) {
    if (PQconsumeInput(connection_) == 0 || PQstatus(connection_) != CONNECTION_OK) return lost();
    take();
  }
  return received;
}

}  // namespace descent::server
