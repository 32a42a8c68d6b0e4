// The face index's files apart from hnswlib's structures: the meta file beside the index (.json), atomic writes, and
// reading and writing plain values in byte buffers (the index file's header, delta records).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "facefill/status.h"

namespace facefill::index_files {

constexpr int kMetaVersion = 3;  // 3: 8-bit codes; 2: half floats

// What the saved index was built from; compared with the catalog on open.
struct IndexMeta {
  int version = kMetaVersion;
  int dimension = 0;
  std::string model;        // the catalog's scan model ids when it was saved
  int64_t count = 0;        // live vectors
  int64_t max_row = 0;      // the largest vector row it holds
  std::string max_face_id;  // the face id of that row: if it changed, SQLite reused the row id
  int max_connections = 0;
  int ef_construction = 0;
  std::string generation;  // 16 hex digits, new with every whole save; delta records name the one they apply to
};

std::string MetaToJson(const IndexMeta& meta);
std::optional<IndexMeta> MetaFromJson(std::string_view json);  // nullopt when malformed or incomplete
std::optional<IndexMeta> ReadMeta(const std::string& path);
Status WriteMeta(const std::string& path, const IndexMeta& meta);  // atomically
std::string NewGeneration();

// Writes `parts` one after another to a temporary file and renames it over `path`, so that a reader never sees half
// a file.
Status WriteAtomically(const std::string& path, std::initializer_list<std::string_view> parts);

// Appends the bytes of a plain value.
template <typename T>
void Put(std::string* out, const T& value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof value);
}

// Reads plain values and byte runs from a buffer, remembering whether it ran past the end.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}
  template <typename T>
  T Get() {
    T value{};
    if (Take(sizeof value)) std::memcpy(&value, data_.data() + at_ - sizeof value, sizeof value);
    return value;
  }
  const char* Bytes(size_t n) { return Take(n) ? data_.data() + at_ - n : nullptr; }
  bool ok() const { return ok_; }
  size_t position() const { return at_; }

 private:
  bool Take(size_t n) {
    ok_ = ok_ && n <= data_.size() - at_;
    if (ok_) at_ += n;
    return ok_;
  }
  std::string_view data_;
  size_t at_ = 0;
  bool ok_ = true;
};

}  // namespace facefill::index_files
