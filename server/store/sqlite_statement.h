// One prepared SQLite statement with chained binds, for the job store and its migrations.
// Errors are sticky: a failed prepare or bind makes every later call a no-op that reports
// the first code, so a caller checks once.
#ifndef DESCENT_SERVER_STORE_SQLITE_STATEMENT_H_
#define DESCENT_SERVER_STORE_SQLITE_STATEMENT_H_

#include <sqlite3.h>

#include <cstdint>
#include <string_view>

namespace descent::server {

// One prepared statement; finalized on destruction.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql) {
    code_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int index, int64_t value) {
    if (ok()) code_ = sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  Statement& Bind(int index, std::string_view text) {
    if (ok()) {
      code_ = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                                SQLITE_TRANSIENT);
    }
    return *this;
  }
  Statement& BindNull(int index) {
    if (ok()) code_ = sqlite3_bind_null(stmt_, index);
    return *this;
  }
  Statement& BindBlob(int index, std::string_view bytes) {
    if (ok()) {
      code_ = sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
    }
    return *this;
  }

  // Runs a statement that returns no rows, then resets it for the next bindings.
  int Run() {
    if (!ok()) return code_;
    const int code = sqlite3_step(stmt_);
    code_ = code == SQLITE_DONE ? SQLITE_OK : code;
    sqlite3_reset(stmt_);
    return code_;
  }
  // Steps to the next row: true with a row, false at the end or on error (see code()).
  bool Next() {
    if (!ok()) return false;
    const int code = sqlite3_step(stmt_);
    if (code == SQLITE_ROW) return true;
    code_ = code == SQLITE_DONE ? SQLITE_OK : code;
    return false;
  }
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string_view Blob(int column) const {
    const void* data = sqlite3_column_blob(stmt_, column);
    const int size = sqlite3_column_bytes(stmt_, column);
    return data == nullptr ? std::string_view() :
                             std::string_view(static_cast<const char*>(data), size);
  }
  int code() const { return code_; }
  bool ok() const { return code_ == SQLITE_OK; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int code_ = SQLITE_OK;
};

}  // namespace descent::server

#endif  // DESCENT_SERVER_STORE_SQLITE_STATEMENT_H_
