// The job store implementations the store behaviour tests run against, as a gtest parameter:
// SQLite in a scratch directory, PostgreSQL in a fresh database on the shared test server
// (tests/testing/postgres_server.h). A fixture calls StartStore() in SetUp, which skips the
// test when PostgreSQL is missing (fails under CI=true), then opens and reopens the same
// store, or reaches around the interface with SQL (to damage a blob, count rows).
#ifndef DESCENT_TESTS_SERVER_STORE_UNDER_TEST_H_
#define DESCENT_TESTS_SERVER_STORE_UNDER_TEST_H_

#include <libpq-fe.h>
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/store/job_store.h"
#include "server/store/postgres/postgres_job_store.h"
#include "server/store/postgres/postgres_schema.h"
#include "server/store/sqlite_job_store.h"
#include "server/store/store_migration.h"
#include "tests/testing/files.h"
#include "tests/testing/postgres_server.h"

namespace descent::server::testing {

enum class StoreKind { kSqlite, kPostgres };

inline std::string StoreKindName(const ::testing::TestParamInfo<StoreKind>& info) {
  return info.param == StoreKind::kSqlite ? "SQLite" : "PostgreSQL";
}

// One store of either kind, reopened as often as a test likes.
class StoreUnderTest {
 public:
  virtual ~StoreUnderTest() = default;
  virtual absl::StatusOr<std::unique_ptr<JobStore>> Open() = 0;
  // Runs SQL outside the store (SQLite: with no store open); false with a test failure on error.
  virtual bool Execute(const std::string& sql) = 0;
  // The first column of the first row of a query, as an integer.
  virtual int64_t QueryInt(const std::string& sql) = 0;
  // The dialect's literal of the bytes with these hex digits.
  virtual std::string BytesLiteral(const std::string& hex) const = 0;
  // Marks the stored schema as `version` (after an Open created it).
  virtual bool SetVersion(int64_t version) = 0;
  // The schema version this descentd writes.
  virtual int64_t CurrentVersion() const = 0;
};

class SqliteUnderTest final : public StoreUnderTest {
 public:
  absl::StatusOr<std::unique_ptr<JobStore>> Open() override { return SqliteJobStore::Open(path_); }
  bool Execute(const std::string& sql) override {
    sqlite3* db = nullptr;
    const bool ok = sqlite3_open(path_.c_str(), &db) == SQLITE_OK &&
                    sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
    if (!ok) ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
    sqlite3_close(db);
    return ok;
  }
  int64_t QueryInt(const std::string& sql) override {
    sqlite3* db = nullptr;
    sqlite3_stmt* statement = nullptr;
    int64_t value = -1;
    if (sqlite3_open(path_.c_str(), &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      value = sqlite3_column_int64(statement, 0);
    } else {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return value;
  }
  std::string BytesLiteral(const std::string& hex) const override {
    return absl::StrCat("x'", hex, "'");
  }
  bool SetVersion(int64_t version) override {
    return Execute(absl::StrCat("PRAGMA user_version = ", version));
  }
  int64_t CurrentVersion() const override { return kStoreVersion; }
  const std::string& path() const { return path_; }

 private:
  const descent::testing::ScratchDir scratch_{"job_store"};
  const std::string path_ = scratch_.path() + "/descent.db";
};

class PostgresUnderTest final : public StoreUnderTest {
 public:
  explicit PostgresUnderTest(std::string url) : url_(std::move(url)) {}
  absl::StatusOr<std::unique_ptr<JobStore>> Open() override {
    return PostgresJobStore::Open(url_);
  }
  bool Execute(const std::string& sql) override {
    PGconn* db = PQconnectdb(url_.c_str());
    PGresult* result = PQexec(db, sql.c_str());
    const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK ||
                    PQresultStatus(result) == PGRES_TUPLES_OK;
    if (!ok) ADD_FAILURE() << sql << ": " << PQerrorMessage(db);
    PQclear(result);
    PQfinish(db);
    return ok;
  }
  int64_t QueryInt(const std::string& sql) override {
    PGconn* db = PQconnectdb(url_.c_str());
    PGresult* result = PQexec(db, sql.c_str());
    int64_t value = -1;
    if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) > 0) {
      value = std::strtoll(PQgetvalue(result, 0, 0), nullptr, 10);
    } else {
      ADD_FAILURE() << sql << ": " << PQerrorMessage(db);
    }
    PQclear(result);
    PQfinish(db);
    return value;
  }
  std::string BytesLiteral(const std::string& hex) const override {
    return absl::StrCat("'\\x", hex, "'::bytea");
  }
  bool SetVersion(int64_t version) override {
    return Execute(absl::StrCat("UPDATE schema_version SET version = ", version));
  }
  int64_t CurrentVersion() const override { return kPostgresSchemaVersion; }
  const std::string& url() const { return url_; }

 private:
  const std::string url_;
};

}  // namespace descent::server::testing

// In SetUp of a fixture parameterized by StoreKind: sets `member` (a
// std::unique_ptr<StoreUnderTest>) to a fresh store of the parameter's kind, or skips.
#define DESCENT_START_STORE_OR_SKIP(member)                                                   \
  if (GetParam() == ::descent::server::testing::StoreKind::kSqlite) {                        \
    member = std::make_unique<::descent::server::testing::SqliteUnderTest>();                \
  } else {                                                                                    \
    DESCENT_POSTGRES_DATABASE_OR_SKIP(store_url_);                                            \
    member = std::make_unique<::descent::server::testing::PostgresUnderTest>(store_url_);     \
  }

#endif  // DESCENT_TESTS_SERVER_STORE_UNDER_TEST_H_
