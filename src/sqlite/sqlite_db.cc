// SQLite connection and statement wrapper.
#include "sqlite_db.h"

namespace facefill::sqlite {

Status Error(sqlite3* db, const std::string& what) {
  return Status(StatusCode::kDatabaseError, what + ": " + (db ? sqlite3_errmsg(db) : "cannot open database"));
}

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Statement& Statement::Bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}
Statement& Statement::Bind(int index, const std::string& value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::Bind(int index, std::span<const float> blob) {
  sqlite3_bind_blob(stmt_, index, blob.data(), static_cast<int>(blob.size_bytes()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}
Statement& Statement::Bind(int index, const std::optional<int>& value) {
  return value ? Bind(index, int64_t{*value}) : BindNull(index);
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error(db_, std::string("sqlite step (") + sqlite3_sql(stmt_) + ")");
}

Status Statement::Run() {
  auto stepped = Step();
  Reset();
  return stepped.ok() ? Status::Ok() : stepped.status();
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::Text(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  return text ? std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt_, column)) : std::string();
}

std::span<const float> Statement::Floats(int column) const {
  const void* blob = sqlite3_column_blob(stmt_, column);
  return {static_cast<const float*>(blob), static_cast<size_t>(sqlite3_column_bytes(stmt_, column)) / sizeof(float)};
}

Result<std::unique_ptr<Database>> Database::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status status = Error(db, "open " + path);
    sqlite3_close(db);
    return status;
  }
  std::unique_ptr<Database> database(new Database(db, path));
  sqlite3_busy_timeout(db, 30000);
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"}) {
    FACEFILL_RETURN_IF_ERROR(database->Exec(pragma));
  }
  return database;
}

Database::~Database() { sqlite3_close_v2(db_); }

Result<Statement> Database::Prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) return Error(db_, "prepare " + sql);
  return Statement(db_, stmt);
}

Status Database::Exec(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    return Status(StatusCode::kDatabaseError, sql.substr(0, 60) + ": " + text);
  }
  return Status::Ok();
}

}  // namespace facefill::sqlite
