#include "server/store/postgres/pg_connection.h"

#include <endian.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
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

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& url) {
  std::string location = LocationOf(url);
  PGconn* connection = PQconnectdb(url.c_str());
  if (connection == nullptr || PQstatus(connection) != CONNECTION_OK) {
    absl::Status error = absl::UnavailableError(absl::StrCat(
        "cannot connect to the job store ", location, ": ",
        connection != nullptr ? ErrorText(connection) : "out of memory",
        "; check --store and that PostgreSQL accepts connections there"));
    PQfinish(connection);
    return error;
  }
  return std::unique_ptr<PgConnection>(new PgConnection(connection, std::move(location)));
}

PgConnection::~PgConnection() { PQfinish(connection_); }

absl::Status PgConnection::EnsureConnected() {
  const PGTransactionStatusType transaction = PQtransactionStatus(connection_);
  if (transaction != PQTRANS_IDLE && transaction != PQTRANS_UNKNOWN) return absl::OkStatus();
  if (PQstatus(connection_) == CONNECTION_OK) return absl::OkStatus();
  PQreset(connection_);
  if (PQstatus(connection_) == CONNECTION_OK) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("lost the connection to the job store ", location_,
                                             " and cannot reconnect: ", ErrorText(connection_)));
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

absl::StatusOr<PgResult> PgConnection::Run(std::string_view sql, const PgParams& params,
                                           const char* what) {
  RETURN_IF_ERROR(EnsureConnected());
  std::vector<const char*> values;
  std::vector<int> lengths;
  values.reserve(params.values_.size());
  for (size_t i = 0; i < params.values_.size(); ++i) {
    values.push_back(params.nulls_[i] ? nullptr : params.values_[i].data());
    lengths.push_back(static_cast<int>(params.values_[i].size()));
  }
  const std::string text(sql);
  return Checked(PQexecParams(connection_, text.c_str(), params.size(), nullptr, values.data(),
                              lengths.data(), params.formats_.data(), /*resultFormat=*/1),
                 what);
}

absl::Status PgConnection::RunScript(const char* sql, const char* what) {
  RETURN_IF_ERROR(EnsureConnected());
  return Checked(PQexec(connection_, sql), what).status();
}

}  // namespace descent::server
