// BlobCache: the rows, the bound and the least-recently-used order.
#include "blob_cache.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace facefill::web {
namespace {

namespace fs = std::filesystem;

// Last uses are written with the next store, or once this many reads have gathered.
constexpr size_t kUsesPerFlush = 1024;

Status SqlError(sqlite3* db, std::string_view what) {
  return Status(StatusCode::kDatabaseError, fmt::format("image cache: {}: {}", what, sqlite3_errmsg(db)));
}

using Statement = std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)>;

Result<Statement> Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) return SqlError(db, sql);
  return Statement(stmt, sqlite3_finalize);
}

Status Exec(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return SqlError(db, sql);
  return Status::Ok();
}

void BindText(sqlite3_stmt* stmt, int index, const std::string& text) {
  sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}

}  // namespace

Result<std::unique_ptr<BlobCache>> BlobCache::Open(const fs::path& file, int64_t max_bytes) {
  Status last = Status::Ok();
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt == 1) {
      // Not a cache we can read (damaged, or another program's file of that name): start again empty.
      spdlog::warn("{}; starting an empty image cache", last.ToString());
      std::error_code ignored;
      fs::remove(file, ignored);
      fs::remove(file.string() + "-journal", ignored);
    }
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
        SQLITE_OK) {
      last = SqlError(db, "open " + file.string());
      sqlite3_close(db);
      continue;
    }
    std::unique_ptr<BlobCache> cache(new BlobCache(db, max_bytes));
    last = cache->Init();
    if (last.ok()) return cache;
  }
  return last;
}

Status BlobCache::Init() {
  sqlite3_busy_timeout(db_, 5000);
  // A cache needs no durability: a crash loses at most recent crops, made again on demand. TRUNCATE keeps one
  // journal file instead of creating and deleting one per transaction; incremental vacuum gives evicted pages back to
  // the filesystem, so the file's size is what the bound holds.
  for (const char* sql : {"PRAGMA auto_vacuum=INCREMENTAL", "PRAGMA journal_mode=TRUNCATE", "PRAGMA synchronous=OFF",
                          "CREATE TABLE IF NOT EXISTS blobs(key TEXT PRIMARY KEY, bytes BLOB NOT NULL, "
                          "last_use INTEGER NOT NULL)",
                          "CREATE INDEX IF NOT EXISTS blobs_last_use ON blobs(last_use)"}) {
    FACEFILL_RETURN_IF_ERROR(Exec(db_, sql));
  }
  FACEFILL_ASSIGN_OR_RETURN(auto rows, Prepare(db_, "SELECT key, length(bytes), last_use FROM blobs"));
  int rc;
  while ((rc = sqlite3_step(rows.get())) == SQLITE_ROW) {
    const auto* key = reinterpret_cast<const char*>(sqlite3_column_text(rows.get(), 0));
    Entry entry{sqlite3_column_int64(rows.get(), 1), sqlite3_column_int64(rows.get(), 2)};
    clock_ = std::max(clock_, entry.last_use);
    entries_[key ? key : ""] = entry;
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "read the cache's rows");
  FACEFILL_ASSIGN_OR_RETURN(auto select, Prepare(db_, "SELECT bytes FROM blobs WHERE key = ?"));
  select_.reset(select.release());
  return Status::Ok();
}

BlobCache::~BlobCache() {
  {
    std::lock_guard lock(mutex_);
    if (!touched_.empty() && Exec(db_, "BEGIN IMMEDIATE").ok()) {
      if (FlushUses().ok()) {
        (void)Exec(db_, "COMMIT");
      } else {
        (void)Exec(db_, "ROLLBACK");
      }
    }
  }
  sqlite3_close_v2(db_);
}

void BlobCache::Warn(const Status& status) {
  if (!warned_) spdlog::warn("{}: images are made anew", status.ToString());
  warned_ = true;
}

bool BlobCache::Contains(const std::string& key) const {
  std::lock_guard lock(mutex_);
  return entries_.count(key) != 0;
}

bool BlobCache::Get(const std::string& key, std::string* bytes) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  BindText(select_.get(), 1, key);
  const int rc = sqlite3_step(select_.get());
  if (rc == SQLITE_ROW) {
    const auto* data = static_cast<const char*>(sqlite3_column_blob(select_.get(), 0));
    bytes->assign(data ? data : "", static_cast<size_t>(sqlite3_column_bytes(select_.get(), 0)));
  }
  sqlite3_reset(select_.get());
  if (rc != SQLITE_ROW) {  // evicted by another process sharing the file
    entries_.erase(it);
    return false;
  }
  it->second.last_use = ++clock_;
  touched_.push_back(key);
  if (touched_.size() >= kUsesPerFlush && Exec(db_, "BEGIN IMMEDIATE").ok()) {
    Status flushed = FlushUses();
    (void)Exec(db_, flushed.ok() ? "COMMIT" : "ROLLBACK");
  }
  return !bytes->empty();
}

Status BlobCache::FlushUses() {
  FACEFILL_ASSIGN_OR_RETURN(auto update, Prepare(db_, "UPDATE blobs SET last_use = ? WHERE key = ?"));
  for (const auto& key : touched_) {
    auto it = entries_.find(key);
    if (it == entries_.end()) continue;
    sqlite3_bind_int64(update.get(), 1, it->second.last_use);
    BindText(update.get(), 2, key);
    if (sqlite3_step(update.get()) != SQLITE_DONE) return SqlError(db_, "note a use");
    sqlite3_reset(update.get());
  }
  touched_.clear();
  return Status::Ok();
}

int64_t BlobCache::FileBytesLocked() const {
  int64_t pages = 0, page_size = 0;
  for (auto [sql, out] : {std::pair{"PRAGMA page_count", &pages}, std::pair{"PRAGMA page_size", &page_size}}) {
    auto pragma = Prepare(db_, sql);
    if (pragma.ok() && sqlite3_step(pragma->get()) == SQLITE_ROW) *out = sqlite3_column_int64(pragma->get(), 0);
  }
  return pages * page_size;
}

Status BlobCache::EvictToBound() {
  // Rows are deleted in least-recently-used order, as the file records it (rows another process stored included),
  // until their sizes make up the excess down to 90% of the bound, so eviction does not run on every store; the
  // vacuum then returns the pages. Page slack can leave the file a little over, so it is measured again.
  for (int round = 0; round < 8; ++round) {
    const int64_t file = FileBytesLocked();
    if (file <= max_bytes_) return Status::Ok();
    const int64_t excess = file - max_bytes_ * 9 / 10;
    FACEFILL_ASSIGN_OR_RETURN(auto oldest, Prepare(db_, "SELECT key, length(bytes) FROM blobs ORDER BY last_use"));
    FACEFILL_ASSIGN_OR_RETURN(auto remove, Prepare(db_, "DELETE FROM blobs WHERE key = ?"));
    FACEFILL_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
    std::vector<std::string> evicted;
    int64_t freed = 0;
    while (freed < excess && sqlite3_step(oldest.get()) == SQLITE_ROW) {
      const auto* key = reinterpret_cast<const char*>(sqlite3_column_text(oldest.get(), 0));
      evicted.emplace_back(key ? key : "");
      freed += sqlite3_column_int64(oldest.get(), 1);
    }
    sqlite3_reset(oldest.get());
    for (const auto& key : evicted) {
      BindText(remove.get(), 1, key);
      if (sqlite3_step(remove.get()) != SQLITE_DONE) {
        Status error = SqlError(db_, "evict");
        (void)Exec(db_, "ROLLBACK");
        return error;
      }
      sqlite3_reset(remove.get());
    }
    FACEFILL_RETURN_IF_ERROR(Exec(db_, "COMMIT"));
    for (const auto& key : evicted) entries_.erase(key);
    FACEFILL_RETURN_IF_ERROR(Exec(db_, "PRAGMA incremental_vacuum"));
    if (evicted.empty()) break;
  }
  return Status::Ok();
}

void BlobCache::Put(const std::vector<std::pair<std::string, std::string>>& items) {
  if (items.empty()) return;
  std::lock_guard lock(mutex_);
  auto insert = Prepare(db_, "INSERT OR REPLACE INTO blobs(key, bytes, last_use) VALUES (?, ?, ?)");
  if (!insert.ok()) return Warn(insert.status());
  Status status = Exec(db_, "BEGIN IMMEDIATE");
  if (!status.ok()) return Warn(status);
  int64_t use = clock_;
  for (const auto& [key, bytes] : items) {
    BindText(insert->get(), 1, key);
    sqlite3_bind_blob(insert->get(), 2, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
    sqlite3_bind_int64(insert->get(), 3, ++use);
    if (sqlite3_step(insert->get()) != SQLITE_DONE) {
      status = SqlError(db_, "store");
      break;
    }
    sqlite3_reset(insert->get());
  }
  if (status.ok()) status = FlushUses();
  if (!status.ok()) {
    (void)Exec(db_, "ROLLBACK");
    return Warn(status);
  }
  status = Exec(db_, "COMMIT");
  if (!status.ok()) {
    (void)Exec(db_, "ROLLBACK");
    return Warn(status);
  }
  for (const auto& [key, bytes] : items) entries_[key] = {static_cast<int64_t>(bytes.size()), ++clock_};
  status = EvictToBound();
  if (!status.ok()) Warn(status);
}

int64_t BlobCache::file_bytes() const {
  std::lock_guard lock(mutex_);
  return FileBytesLocked();
}

int64_t BlobCache::entries() const {
  std::lock_guard lock(mutex_);
  return static_cast<int64_t>(entries_.size());
}

}  // namespace facefill::web
