// Thin RAII layer over the SQLite C API: a connection and prepared statements with typed binds, errors as Status.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "facefill/status.h"

namespace facefill::sqlite {

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  // Binds are 1-based, as in SQL.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, double value);
  Statement& Bind(int index, const std::string& value);
  Statement& Bind(int index, std::span<const float> blob);
  Statement& BindNull(int index);
  Statement& Bind(int index, const std::optional<int>& value);

  // Steps once: true when a row is available, false when done; errors become kDatabaseError.
  Result<bool> Step();
  // Calls on_row for every remaining row, then resets for reuse.
  template <typename OnRow>
  Status ForEachRow(OnRow&& on_row) {
    while (true) {
      auto row = Step();
      if (!row.ok()) {
        Reset();
        return row.status();
      }
      if (!*row) break;
      on_row();
    }
    sqlite3_reset(stmt_);
    return Status::Ok();
  }
  // Steps to completion (for writes) and resets for reuse.
  Status Run();
  void Reset();

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  double Double(int column) const { return sqlite3_column_double(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string Text(int column) const;
  std::span<const float> Floats(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Database {
 public:
  // Opens or creates the file with WAL journaling, foreign keys on and a busy timeout.
  static Result<std::unique_ptr<Database>> Open(const std::string& path);
  ~Database();

  Result<Statement> Prepare(const std::string& sql);
  Status Exec(const std::string& sql);
  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back when it fails.
  template <typename Body>
  Status Transaction(Body&& body) {
    FACEFILL_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    Status status = body();
    if (!status.ok()) {
      (void)Exec("ROLLBACK");
      return status;
    }
    return Exec("COMMIT");
  }
  // Serialises use of the connection across threads.
  std::mutex& mutex() { return mutex_; }
  const std::string& path() const { return path_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  std::mutex mutex_;
};

Status Error(sqlite3* db, const std::string& what);

}  // namespace facefill::sqlite
