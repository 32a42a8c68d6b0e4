// BlobCache: a size-bounded key → bytes store in one SQLite file (least recently used go first), so that a page
// of a thousand face crops costs a thousand rows in a few transactions, not two thousand files created and renamed.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "facefill/status.h"

namespace facefill::web {

// Thread-safe: one connection, serialised. Several processes may share the file (SQLite's locking); each keeps its
// own view of what is there and treats a row another one evicted as a miss.
class BlobCache {
 public:
  // Opens or creates `file`; a file that is not a readable cache is replaced by an empty one.
  static Result<std::unique_ptr<BlobCache>> Open(const std::filesystem::path& file, int64_t max_bytes);
  ~BlobCache();
  BlobCache(const BlobCache&) = delete;
  BlobCache& operator=(const BlobCache&) = delete;

  // The bytes stored under `key` (marking it used), or false.
  bool Get(const std::string& key, std::string* bytes);
  bool Contains(const std::string& key) const;
  // Stores every (key, bytes) in one transaction, then evicts the least recently used until the file is within
  // the bound. A failure to write is logged once: the cache then only misses.
  void Put(const std::vector<std::pair<std::string, std::string>>& items);

  int64_t file_bytes() const;  // the file's size: what the bound applies to
  int64_t entries() const;

 private:
  struct Entry {
    int64_t size = 0;
    int64_t last_use = 0;
  };
  struct StatementDeleter {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
  };
  using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementDeleter>;
  BlobCache(sqlite3* db, int64_t max_bytes) : db_(db), max_bytes_(max_bytes) {}
  Status Init();
  Status FlushUses();     // writes the last uses noted since the last flush
  Status EvictToBound();  // within a transaction
  int64_t FileBytesLocked() const;
  void Warn(const Status& status);

  sqlite3* const db_;
  const int64_t max_bytes_;
  mutable std::mutex mutex_;
  StatementPtr select_;                   // guarded by mutex_: SELECT bytes by key, prepared once
  std::map<std::string, Entry> entries_;  // guarded by mutex_
  std::vector<std::string> touched_;      // guarded by mutex_: used since the last flush
  int64_t clock_ = 0;                     // guarded by mutex_
  bool warned_ = false;                   // guarded by mutex_
};

}  // namespace facefill::web
