// The HNSW index beside the SQLite catalog: build, catch up with the catalog, save (whole, or only what changed),
// search. The only file that includes hnswlib (its header defines non-inline functions). hnswlib builds and inserts;
// this file loads and writes its file format, keeps a delta file of changes beside it, and searches itself.
#include "facefill/face_index.h"

#include <fmt/format.h>
#include <hnswlib/hnswlib.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "../sqlite/sqlite_db.h"
#include "../sqlite/sqlite_url.h"
#include "../vectors/exact_similarity.h"
#include "facefill/image.h"  // ReadFileBytes
#include "index_files.h"
#include "int8_vectors.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using hnswlib::tableint;
using sqlite::Database;
using Hnsw = hnswlib::HierarchicalNSW<float>;
using index_files::ByteReader;
using index_files::IndexMeta;
using index_files::kMetaVersion;
using index_files::Put;

constexpr int64_t kChunkRows = 20000;  // vectors read from the catalog per parallel insertion round
constexpr char kDeltaMagic[8] = {'F', 'F', 'H', 'N', 'S', 'W', 'D', '1'};

// The catalog's state as far as the index cares.
struct CatalogView {
  std::string model;
  int dimension = 0;
  int64_t max_row = 0;
};

Result<CatalogView> ReadCatalogView(Database& db) {
  CatalogView view;
  auto models = db.Prepare(
      "SELECT COALESCE(group_concat(model_id, ','), '') FROM (SELECT DISTINCT model_id FROM facefill_scan_status "
      "WHERE model_id IS NOT NULL ORDER BY model_id)");
  if (!models.ok()) return models.status();
  auto row = models->Step();
  if (!row.ok()) return row.status();
  view.model = models->Text(0);
  auto stats = db.Prepare(
      "SELECT COALESCE(MAX(rowid), 0), (SELECT length(embedding) FROM facefill_face_vectors LIMIT 1) "
      "FROM facefill_face_vectors");
  if (!stats.ok()) return stats.status();
  row = stats->Step();
  if (!row.ok()) return row.status();
  view.max_row = stats->Int(0);
  view.dimension = static_cast<int>(stats->Int(1) / static_cast<int64_t>(sizeof(float)));
  return view;
}

// The vectors in the catalog (a scan of the face id index: 0.1 s at a million, so only when building).
Result<int64_t> CountVectors(Database& db) {
  auto stmt = db.Prepare("SELECT COUNT(*) FROM facefill_face_vectors");
  if (!stmt.ok()) return stmt.status();
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  return stmt->Int(0);
}

Result<std::string> FaceIdOfRow(Database& db, int64_t row) {
  auto stmt = db.Prepare("SELECT face_id FROM facefill_face_vectors WHERE rowid = ?");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, row);
  auto found = stmt->Step();
  if (!found.ok()) return found.status();
  return *found ? stmt->Text(0) : std::string();
}

// Cosine distance (1 - dot) between unit vectors stored as 8-bit codes, with a dot product vectorised at run time
// (hnswlib's own picks SIMD from compile-time macros only).
float CodeCosineDistance(const void* a, const void* b, const void* dimension) {
  return 1.0f - int8::Dot(a, b, static_cast<int>(*static_cast<const size_t*>(dimension)));
}

class CodeCosineSpace final : public hnswlib::SpaceInterface<float> {
 public:
  explicit CodeCosineSpace(size_t dimension) : dimension_(dimension) {}
  size_t get_data_size() override { return int8::CodeSize(static_cast<int>(dimension_)); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return CodeCosineDistance; }
  void* get_dist_func_param() override { return &dimension_; }

 private:
  size_t dimension_;
};

// With `advise` (FaceIndexOptions::huge_pages), asks the kernel to back the index's level-0 block (links and codes of
// every element) with 2 MB pages before it is touched. Advice only: without it the block works the same.
void AdviseHugePages(void* memory, size_t bytes, bool advise) {
  if (!advise) return;
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(memory) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(memory) + bytes) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

// The length of a link list: its first 16 bits (the rest of its first word holds the deleted mark), as hnswlib's
// getListCount reads it.
size_t ListCount(const hnswlib::linklistsizeint* list) { return *reinterpret_cast<const uint16_t*>(list); }

// hnswlib's file header (saveIndex writes these fields in this order).
struct FileHeader {
  size_t offset_level0 = 0, max_elements = 0, count = 0, size_per_element = 0, label_offset = 0, offset_data = 0;
  int max_level = 0;
  tableint entry_point = 0;
  size_t max_m = 0, max_m0 = 0, m = 0;
  double mult = 0;
  size_t ef_construction = 0;
};

class HnswFaceIndex final : public FaceIndex {
 public:
  HnswFaceIndex(std::unique_ptr<Database> db, std::string path, FaceIndexOptions options)
      : db_(std::move(db)), path_(std::move(path)), options_(options) {}

  Status Open() {
    const auto start = std::chrono::steady_clock::now();
    std::lock_guard lock(db_->mutex());
    auto view = ReadCatalogView(*db_);
    if (!view.ok()) return view.status();
    dimension_ = view->dimension > 0 ? view->dimension : 512;
    space_ = std::make_unique<CodeCosineSpace>(static_cast<size_t>(dimension_));
    // Whether a meta (the file's, then the last delta record's) describes the catalog's vectors.
    auto describes_catalog = [&](const IndexMeta& m) {
      return m.version == kMetaVersion && m.dimension == dimension_ && m.model == view->model;
    };
    auto meta = index_files::ReadMeta(path_ + ".json");
    bool usable = meta && describes_catalog(*meta) && fs::exists(path_);
    const auto load_start = std::chrono::steady_clock::now();
    if (usable) {
      meta_ = *meta;
      // Room for what the catalog gained since the file was written, at most.
      Status loaded;
      try {
        loaded = Load(static_cast<size_t>(meta->count + std::max<int64_t>(0, view->max_row - meta->max_row) + 1024));
      } catch (const std::exception& e) {  // hnswlib and allocations report running out of memory by throwing
        loaded = Status(StatusCode::kIoError, e.what());
      }
      if (!loaded.ok()) {
        spdlog::warn("face index {} unreadable ({}): rebuilding", path_, loaded.ToString());
        usable = false;
      }
    }
    if (usable) {
      // The delta's meta was written later than the file's: it must describe these vectors too.
      usable = describes_catalog(meta_);
    }
    if (usable) {
      // A changed face id at the largest indexed row means SQLite reused row ids after deleting the top rows.
      auto face_id = FaceIdOfRow(*db_, meta_.max_row);
      if (!face_id.ok()) return face_id.status();
      usable = meta_.max_row == 0 || *face_id == meta_.max_face_id;
    }
    if (!usable) {
      update_.rebuilt = true;
      meta_ = IndexMeta{};
      meta_.dimension = dimension_;
      meta_.max_connections = options_.max_connections;
      meta_.ef_construction = options_.ef_construction;
      loaded_count_ = 0;
      loaded_hashes_.clear();
      auto count = CountVectors(*db_);
      if (!count.ok()) return count.status();
      Create(static_cast<size_t>(std::max<int64_t>(*count, 1024)));
    }
    meta_.model = view->model;
    bool changed = update_.rebuilt;
    const auto mark_start = std::chrono::steady_clock::now();
    if (usable) {
      auto deleted = MarkDeleted();
      if (!deleted.ok()) return deleted.status();
      changed |= *deleted > 0;
    }
    const auto add_start = std::chrono::steady_clock::now();
    auto added = AddSince(meta_.max_row, view->max_row);
    if (!added.ok()) return added.status();
    changed |= *added > 0;
    meta_.count = static_cast<int64_t>(index_->cur_element_count - index_->num_deleted_);
    if (meta_.max_row > 0) {
      auto face_id = FaceIdOfRow(*db_, meta_.max_row);
      if (!face_id.ok()) return face_id.status();
      meta_.max_face_id = *face_id;
    }
    const auto save_start = std::chrono::steady_clock::now();
    if (changed && options_.save) FACEFILL_RETURN_IF_ERROR(Persist());
    const auto end = std::chrono::steady_clock::now();
    update_.seconds = std::chrono::duration<double>(end - start).count();
    if (changed) {
      auto s = [](auto from, auto to) { return std::chrono::duration<double>(to - from).count(); };
      spdlog::info(
          "face index {}: {} vectors ({}{} added, {} deleted) in {:.1f} s (catalog {:.1f}, load {:.1f}, deleted "
          "{:.1f}, add {:.1f}, save {:.1f}: {})",
          path_, meta_.count, update_.rebuilt ? "rebuilt, " : "", update_.added, update_.deleted, update_.seconds,
          s(start, load_start), s(load_start, mark_start), s(mark_start, add_start), s(add_start, save_start),
          s(save_start, end),
          update_.rewritten       ? "whole file"
          : update_.delta_written ? fmt::format("delta of {:.1f} MB", static_cast<double>(update_.delta_bytes) / 1e6)
                                  : "not saved");
    }
    return Status::Ok();
  }

  // An index of `vectors` (row i labelled labels[i]) in memory only, with no catalog behind it.
  Status BuildInMemory(const VectorMatrix& vectors, const std::vector<int64_t>& labels) {
    const auto start = std::chrono::steady_clock::now();
    if (static_cast<int64_t>(labels.size()) != vectors.rows()) {
      return Status(StatusCode::kInvalidArgument, "face index: one label per vector needed");
    }
    dimension_ = vectors.dimension > 0 ? vectors.dimension : 512;
    space_ = std::make_unique<CodeCosineSpace>(static_cast<size_t>(dimension_));
    Create(std::max<size_t>(labels.size(), 1024));
    update_.rebuilt = true;
    // Encoded and inserted kChunkRows at a time, so only one chunk is held twice.
    std::vector<int64_t> rows;
    std::vector<char> codes;
    for (size_t from = 0; from < labels.size(); from += kChunkRows) {
      const size_t n = std::min(labels.size() - from, static_cast<size_t>(kChunkRows));
      rows.assign(labels.begin() + static_cast<long>(from), labels.begin() + static_cast<long>(from + n));
      codes.resize(n * code_size());
      for (size_t i = 0; i < n; ++i) {
        int8::Encode(vectors.row(static_cast<int64_t>(from + i)).data(), dimension_, codes.data() + i * code_size());
      }
      FACEFILL_RETURN_IF_ERROR(Insert(rows, codes));
    }
    update_.added = static_cast<int64_t>(labels.size());
    meta_.count = update_.added;
    meta_.dimension = dimension_;
    update_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return Status::Ok();
  }

  const FaceIndexUpdate& last_update() const override { return update_; }
  int64_t size() const override { return meta_.count; }
  int dimension() const override { return dimension_; }

  Result<std::vector<IndexNeighbor>> Nearest(std::span<const float> query, int k) const override {
    FACEFILL_RETURN_IF_ERROR(CheckDimension(query.size()));
    std::vector<char> code(code_size());
    int8::Encode(query.data(), dimension_, code.data());
    std::vector<IndexNeighbor> out;
    for (const auto& [distance, id] : SearchCodes(code.data(), std::max(k, options_.ef_search), k)) {
      out.push_back({static_cast<int64_t>(index_->getExternalLabel(id)), 1.0f - distance});
    }
    return out;
  }

  Result<KnnGraph> NeighborGraph(const std::vector<int64_t>& vector_rows, int k, int threads) const override {
    std::unordered_map<int64_t, int32_t> point_of_row;
    point_of_row.reserve(vector_rows.size());
    for (size_t i = 0; i < vector_rows.size(); ++i) point_of_row[vector_rows[i]] = static_cast<int32_t>(i);
    const int64_t n = static_cast<int64_t>(vector_rows.size());
    KnnGraph graph;
    graph.k = k;
    graph.neighbors.assign(n * k, -1);
    graph.distances.assign(n * k, std::numeric_limits<float>::infinity());
    std::atomic<int64_t> next{0};
    auto work = [&] {
      for (int64_t i = next++; i < n; i = next++) {
        auto internal = index_->label_lookup_.find(static_cast<hnswlib::labeltype>(vector_rows[i]));
        if (internal == index_->label_lookup_.end()) continue;
        // The stored code is the query: no conversion, and the point finds itself first.
        const auto found =
            SearchCodes(index_->getDataByInternalId(internal->second), std::max(k + 1, options_.ef_search), k + 1);
        int j = 0;
        for (const auto& [distance, id] : found) {
          auto it = point_of_row.find(static_cast<int64_t>(index_->getExternalLabel(id)));
          if (it == point_of_row.end() || it->second == i || j == k) continue;
          graph.neighbors[i * k + j] = it->second;
          graph.distances[i * k + j] = std::sqrt(std::max(0.0f, 2.0f * distance));
          ++j;
        }
      }
    };
    std::vector<std::jthread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    pool.clear();
    return graph;
  }

  Result<std::vector<float>> StoredVector(int64_t vector_row) const override {
    auto internal = index_->label_lookup_.find(static_cast<hnswlib::labeltype>(vector_row));
    if (internal == index_->label_lookup_.end()) {
      return Status(StatusCode::kNotFound, "vector row " + std::to_string(vector_row) + " is not in the face index");
    }
    std::vector<float> out(static_cast<size_t>(dimension_));
    int8::Decode(index_->getDataByInternalId(internal->second), dimension_, out.data());
    return out;
  }

  Result<std::vector<VectorMatch>> Search(const Embedding& query, int top_k, float min_similarity) override {
    if (!db_) return Status(StatusCode::kInvalidArgument, "an in-memory face index has no catalog to find faces in");
    if (top_k <= 0) return std::vector<VectorMatch>();
    // The codes' order is right to a few 1e-4: the closest k + 10 by code are reranked by the catalog's own
    // vectors, so the answers and their similarities are exact search's whenever it found them.
    auto nearest = Nearest(query, top_k + 10);
    if (!nearest.ok()) return nearest.status();
    std::vector<VectorMatch> matches;
    std::lock_guard lock(db_->mutex());
    auto stmt = db_->Prepare("SELECT face_id, asset_id, embedding FROM facefill_face_vectors WHERE rowid = ?");
    if (!stmt.ok()) return stmt.status();
    for (const auto& n : *nearest) {
      stmt->Bind(1, n.vector_row);
      auto row = stmt->Step();
      if (!row.ok()) return row.status();
      if (*row) {
        const auto v = stmt->Floats(2);
        if (v.size() != query.size()) continue;
        const float dot = ExactSimilarity(v, query);
        if (dot >= min_similarity) matches.push_back({stmt->Text(0), stmt->Int(1), dot});
      }
      stmt->Reset();
    }
    std::stable_sort(matches.begin(), matches.end(),
                     [](const VectorMatch& a, const VectorMatch& b) { return a.similarity > b.similarity; });
    if (static_cast<int>(matches.size()) > top_k) matches.resize(static_cast<size_t>(top_k));
    return matches;
  }

 private:
  using Candidate = std::pair<float, tableint>;  // distance, internal id
  struct FartherFirst {
    bool operator()(const Candidate& a, const Candidate& b) const { return a.first < b.first; }
  };
  using CandidateHeap = std::priority_queue<Candidate, std::vector<Candidate>, FartherFirst>;

  size_t code_size() const { return int8::CodeSize(dimension_); }

  Status CheckDimension(size_t size) const {
    if (static_cast<int>(size) == dimension_) return Status::Ok();
    return Status(StatusCode::kInvalidArgument,
                  "query has " + std::to_string(size) + " dimensions, the index " + std::to_string(dimension_));
  }

  float Distance(const void* query, tableint id) const {
    return 1.0f - int8::Dot(query, index_->getDataByInternalId(id), dimension_);
  }

  void Prefetch(tableint id) const {
    const char* code = index_->getDataByInternalId(id);
    for (size_t line = 0; line <= code_size() / 64 + 1; ++line) __builtin_prefetch(code + 64 * line);
  }

  // The k closest live elements to a code, closest first, searching level 0 with a candidate list of ef (at least k).
  // hnswlib's algorithm (greedy descent through the upper levels, then best-first search), with changes for speed
  // only: each new neighbour's whole code is prefetched while the ones before it are compared (hnswlib prefetches
  // its first 64 bytes), the next node's links while the last codes are, and no counters are shared between threads.
  std::vector<Candidate> SearchCodes(const void* query, int ef, int k) const {
    std::vector<Candidate> out;
    if (k <= 0 || meta_.count == 0 || index_->cur_element_count == 0) return out;
    tableint current = index_->enterpoint_node_;
    float current_distance = Distance(query, current);
    for (int level = index_->maxlevel_; level > 0; --level) {
      for (bool closer = true; closer;) {
        closer = false;
        const auto* list = index_->get_linklist(current, level);
        const int size = ListCount(list);
        const auto* ids = reinterpret_cast<const tableint*>(list + 1);
        for (int i = 0; i < size; ++i) {
          const float d = Distance(query, ids[i]);
          if (d < current_distance) {
            current_distance = d;
            current = ids[i];
            closer = true;
          }
        }
      }
    }
    const size_t wanted = static_cast<size_t>(std::max(ef, k));
    const bool deletions = index_->num_deleted_ > 0;
    hnswlib::VisitedList* visited_list = index_->visited_list_pool_->getFreeVisitedList();
    hnswlib::vl_type* visited = visited_list->mass;
    const hnswlib::vl_type tag = visited_list->curV;
    CandidateHeap best, candidates;  // best: the farthest on top; candidates: the closest on top (negated)
    float bound = std::numeric_limits<float>::max();
    if (!deletions || !index_->isMarkedDeleted(current)) {
      bound = current_distance;
      best.emplace(current_distance, current);
    }
    candidates.emplace(-current_distance, current);
    visited[current] = tag;
    std::vector<tableint> fresh;
    fresh.reserve(index_->maxM0_);
    while (!candidates.empty()) {
      const auto [negated, node] = candidates.top();
      if (-negated > bound && (best.size() == wanted || !deletions)) break;
      candidates.pop();
      const auto* list = index_->get_linklist0(node);
      const int size = ListCount(list);
      const auto* ids = reinterpret_cast<const tableint*>(list + 1);
      for (int i = 0; i < size; ++i) __builtin_prefetch(visited + ids[i]);
      fresh.clear();
      for (int i = 0; i < size; ++i) {
        if (visited[ids[i]] == tag) continue;
        visited[ids[i]] = tag;
        fresh.push_back(ids[i]);
      }
      constexpr size_t kAhead = 4;
      for (size_t i = 0; i < std::min(kAhead, fresh.size()); ++i) Prefetch(fresh[i]);
      for (size_t i = 0; i < fresh.size(); ++i) {
        if (i + kAhead < fresh.size()) Prefetch(fresh[i + kAhead]);
        const float d = Distance(query, fresh[i]);
        if (best.size() < wanted || d < bound) {
          candidates.emplace(-d, fresh[i]);
          if (!deletions || !index_->isMarkedDeleted(fresh[i])) best.emplace(d, fresh[i]);
          if (best.size() > wanted) best.pop();
          if (!best.empty()) bound = best.top().first;
        }
      }
      // The next node to expand: its links are read first thing in the next round.
      if (!candidates.empty()) __builtin_prefetch(index_->get_linklist0(candidates.top().second));
    }
    index_->visited_list_pool_->releaseVisitedList(visited_list);
    while (best.size() > static_cast<size_t>(k)) best.pop();
    out.resize(best.size());
    for (size_t i = best.size(); i-- > 0; best.pop()) out[i] = best.top();
    return out;
  }

  // A new, empty index with room for `capacity` elements.
  void Create(size_t capacity) {
    index_ = std::make_unique<Hnsw>(space_.get(), capacity, options_.max_connections, options_.ef_construction);
    AdviseHugePages(index_->data_level0_memory_, capacity * index_->size_data_per_element_, options_.huge_pages);
  }

  // Grows the index to hold `needed` elements (by half again at least).
  void Reserve(size_t needed) {
    if (needed <= index_->max_elements_) return;
    index_->resizeIndex(std::max(needed, index_->max_elements_ * 3 / 2));
    AdviseHugePages(index_->data_level0_memory_, index_->max_elements_ * index_->size_data_per_element_,
                    options_.huge_pages);
  }

  // The bytes of an element's links on every level (level 0's list holds its deleted mark too).
  std::string_view Level0Links(size_t id) const {
    return {reinterpret_cast<const char*>(index_->get_linklist0(static_cast<tableint>(id))),
            index_->size_links_level0_};
  }
  std::string_view UpperLinks(size_t id) const {
    const int levels = index_->element_levels_[id];
    if (levels <= 0) return {};
    return {index_->linkLists_[id], static_cast<size_t>(levels) * index_->size_links_per_element_};
  }

  // An element's upper links as both files hold them: their length in bytes, then the links.
  void AppendUpperLinks(size_t id, std::string* out) const {
    const auto links = UpperLinks(id);
    Put(out, static_cast<uint32_t>(links.size()));
    *out += links;
  }

  // One hash of each of the first `count` elements' links, to find which changed since the file was written.
  std::vector<uint64_t> HashLinks(size_t count) const {
    std::vector<uint64_t> hashes(count);
    const std::hash<std::string_view> hash;
    for (size_t i = 0; i < count; ++i) {
      hashes[i] = hash(Level0Links(i)) * 31 + (index_->element_levels_[i] > 0 ? hash(UpperLinks(i)) : 0);
    }
    return hashes;
  }

  // Loads the index file (hnswlib's format) and the delta file beside it when it belongs to that file, with room for
  // `capacity` elements. hnswlib's own loader walks the file element by element before reading it (a million seeks
  // at a million faces) and allocates before huge pages can be advised.
  Status Load(size_t capacity) {
    std::string file;
    {
      std::ifstream in(path_, std::ios::binary);
      if (!in) return Status(StatusCode::kIoError, "cannot open");
      constexpr size_t kHeaderBytes = 10 * sizeof(size_t) + sizeof(int) + sizeof(tableint) + sizeof(double);
      std::string head(kHeaderBytes, '\0');
      in.read(head.data(), static_cast<std::streamsize>(head.size()));
      ByteReader r(head);
      // Braced initialisers are evaluated in order: the fields as saveIndex writes them.
      const FileHeader h{r.Get<size_t>(), r.Get<size_t>(), r.Get<size_t>(),   r.Get<size_t>(), r.Get<size_t>(),
                         r.Get<size_t>(), r.Get<int>(),    r.Get<tableint>(), r.Get<size_t>(), r.Get<size_t>(),
                         r.Get<size_t>(), r.Get<double>(), r.Get<size_t>()};
      if (!in || h.m < 2 || h.m > 128 || h.max_m != h.m || h.max_m0 != 2 * h.m || h.offset_level0 != 0 ||
          h.count > (size_t{1} << 32) || h.max_level < 0 || h.max_level > 64 ||
          (h.count > 0 && h.entry_point >= h.count)) {
        return Status(StatusCode::kIoError, "bad header");
      }
      index_ = std::make_unique<Hnsw>(space_.get(), std::max(capacity, h.count), h.m, h.ef_construction);
      Hnsw& x = *index_;
      if (h.size_per_element != x.size_data_per_element_ || h.offset_data != x.offsetData_ ||
          h.label_offset != x.label_offset_) {
        return Status(StatusCode::kIoError, "element layout differs from this build's");
      }
      AdviseHugePages(x.data_level0_memory_, x.max_elements_ * x.size_data_per_element_, options_.huge_pages);
      in.read(x.data_level0_memory_, static_cast<std::streamsize>(h.count * h.size_per_element));
      if (!in) return Status(StatusCode::kIoError, "truncated");
      const auto at = in.tellg();
      in.seekg(0, std::ios::end);
      file.resize(static_cast<size_t>(in.tellg() - at));
      in.seekg(at);
      in.read(file.data(), static_cast<std::streamsize>(file.size()));
      if (!in) return Status(StatusCode::kIoError, "truncated");
      // The upper levels' link lists follow, one length and list per element.
      ByteReader reader(file);
      std::vector<std::pair<int, const char*>> upper(h.count);
      for (size_t i = 0; i < h.count && reader.ok(); ++i) {
        const auto bytes = reader.Get<uint32_t>();
        const int levels = static_cast<int>(bytes / x.size_links_per_element_);
        if (bytes % x.size_links_per_element_ != 0 || levels > h.max_level)
          return Status(StatusCode::kIoError, "bad links");
        upper[i] = {levels, reader.Bytes(bytes)};
      }
      if (!reader.ok() || reader.position() != file.size())
        return Status(StatusCode::kIoError, "truncated or overlong");
      x.cur_element_count = h.count;  // from here the destructor frees the upper lists of elements below it
      for (size_t i = 0; i < h.count; ++i) {
        x.element_levels_[i] = upper[i].first;
        x.linkLists_[i] = nullptr;
        if (upper[i].first > 0) {
          const size_t bytes = static_cast<size_t>(upper[i].first) * x.size_links_per_element_;
          x.linkLists_[i] = static_cast<char*>(malloc(bytes));
          if (x.linkLists_[i] == nullptr) throw std::bad_alloc();
          std::memcpy(x.linkLists_[i], upper[i].second, bytes);
        }
      }
      x.maxlevel_ = h.max_level;
      x.enterpoint_node_ = h.count > 0 ? h.entry_point : static_cast<tableint>(-1);
      x.mult_ = h.mult;
      x.revSize_ = 1.0 / h.mult;
      base_file_bytes_ = static_cast<int64_t>(fs::file_size(path_));
    }
    ApplyDeltas();
    FACEFILL_RETURN_IF_ERROR(CheckLinks());
    loaded_count_ = index_->cur_element_count;
    if (options_.save) loaded_hashes_ = HashLinks(loaded_count_);  // only Persist compares against them
    Hnsw& x = *index_;
    x.label_lookup_.reserve(x.cur_element_count);
    x.num_deleted_ = 0;
    for (size_t i = 0; i < x.cur_element_count; ++i) {
      x.label_lookup_[x.getExternalLabel(static_cast<tableint>(i))] = static_cast<tableint>(i);
      x.num_deleted_ += x.isMarkedDeleted(static_cast<tableint>(i)) ? 1 : 0;
    }
    if (x.label_lookup_.size() != x.cur_element_count) return Status(StatusCode::kIoError, "repeated labels");
    return Status::Ok();
  }

  // Every link names an element the index holds, and no list is longer than its level allows.
  Status CheckLinks() const {
    const Hnsw& x = *index_;
    const size_t count = x.cur_element_count;
    auto list_ok = [&](const hnswlib::linklistsizeint* list, size_t most) {
      const size_t size = ListCount(list);
      const auto* ids = reinterpret_cast<const tableint*>(list + 1);
      if (size > most) return false;
      for (size_t j = 0; j < size; ++j) {
        if (ids[j] >= count) return false;
      }
      return true;
    };
    for (size_t i = 0; i < count; ++i) {
      const auto id = static_cast<tableint>(i);
      if (!list_ok(x.get_linklist0(id), x.maxM0_)) return Status(StatusCode::kIoError, "bad level-0 links");
      for (int level = 1; level <= x.element_levels_[i]; ++level) {
        if (!list_ok(x.get_linklist(id, level), x.maxM_)) return Status(StatusCode::kIoError, "bad links");
      }
    }
    return Status::Ok();
  }

  // The delta file: what changed since the index file was written, as records appended by each open that changed
  // the index, all for the file of meta_.generation. A record:
  //   magic, generation (16 characters), element count before it, count after it, max level, entry point, changed
  //   elements, meta length, meta (JSON); per changed element below the count before: its id, level-0 links, upper
  //   links' length and links; per element added: its level-0 record (links, code, label), upper links' length and
  //   links; then the record's length and hash, so that a record cut short by a crash is recognised.
  std::string DeltaPath() const { return path_ + ".delta"; }

  // Applies the delta file's records in order while they belong to the loaded file; the first that is stale,
  // damaged or cut short ends it (what the rest held is added again from the catalog). Remembers how many bytes were
  // good, where the next record goes.
  void ApplyDeltas() {
    delta_good_bytes_ = 0;
    std::vector<uint8_t> bytes;
    if (!fs::exists(DeltaPath()) || !ReadFileBytes(DeltaPath(), std::numeric_limits<int64_t>::max(), &bytes).ok()) {
      return;
    }
    const std::string_view data(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    while (delta_good_bytes_ < data.size()) {
      const auto used = ApplyRecord(data.substr(delta_good_bytes_));
      if (used == 0) {
        spdlog::warn("face index delta {}: a record at byte {} is stale or damaged; it and any after it are ignored",
                     DeltaPath(), delta_good_bytes_);
        return;
      }
      delta_good_bytes_ += used;
    }
  }

  // Applies one record at the start of `data`; returns its length, or 0 (and changes nothing) when it does not
  // belong to the index as it stands or is damaged.
  size_t ApplyRecord(std::string_view data) {
    Hnsw& x = *index_;
    ByteReader r(data);
    const char* magic = r.Bytes(sizeof kDeltaMagic);
    const char* generation = r.Bytes(16);
    const auto base = r.Get<uint64_t>(), count = r.Get<uint64_t>();
    const auto max_level = r.Get<int32_t>();
    const auto entry_point = r.Get<tableint>();
    const auto changed = r.Get<uint64_t>(), meta_bytes = r.Get<uint64_t>();
    const char* meta_text = r.Bytes(meta_bytes);
    if (!r.ok() || std::memcmp(magic, kDeltaMagic, sizeof kDeltaMagic) != 0 ||
        std::string_view(generation, 16) != meta_.generation || base != x.cur_element_count || count < base ||
        count > (uint64_t{1} << 32) || changed > base || (count > 0 && entry_point >= count) || max_level < 0 ||
        max_level > 64) {
      return 0;
    }
    struct Patch {
      uint64_t id;
      const char* level0;  // links, or the whole record of an added element
      uint32_t upper_bytes;
      const char* upper;
    };
    std::vector<Patch> patches;
    patches.reserve(changed + (count - base));
    for (uint64_t i = 0; i < changed + (count - base) && r.ok(); ++i) {
      Patch p{};
      p.id = i < changed ? r.Get<uint32_t>() : base + (i - changed);
      p.level0 = r.Bytes(i < changed ? x.size_links_level0_ : x.size_data_per_element_);
      p.upper_bytes = r.Get<uint32_t>();
      p.upper = r.Bytes(p.upper_bytes);
      // An element's levels never change once it is in: a changed one keeps the length of its upper links.
      const bool valid = i < changed ? p.id < base && p.upper_bytes == UpperLinks(p.id).size()
                                     : p.upper_bytes % x.size_links_per_element_ == 0 &&
                                           p.upper_bytes / x.size_links_per_element_ <= static_cast<size_t>(max_level);
      if (!valid) return 0;
      patches.push_back(p);
    }
    const size_t length = r.position();
    const auto stated_length = r.Get<uint64_t>(), stated_hash = r.Get<uint64_t>();
    if (!r.ok() || stated_length != length || stated_hash != std::hash<std::string_view>()(data.substr(0, length))) {
      return 0;
    }
    auto meta = index_files::MetaFromJson(std::string_view(meta_text, meta_bytes));
    if (!meta || meta->generation != meta_.generation) return 0;
    Reserve(count);
    for (const auto& p : patches) {
      if (p.id < base) {
        std::memcpy(x.get_linklist0(static_cast<tableint>(p.id)), p.level0, x.size_links_level0_);
        if (p.upper_bytes > 0) std::memcpy(x.linkLists_[p.id], p.upper, p.upper_bytes);
        continue;
      }
      std::memcpy(x.data_level0_memory_ + p.id * x.size_data_per_element_, p.level0, x.size_data_per_element_);
      x.element_levels_[p.id] = static_cast<int>(p.upper_bytes / x.size_links_per_element_);
      x.linkLists_[p.id] = nullptr;
      if (p.upper_bytes > 0) {
        x.linkLists_[p.id] = static_cast<char*>(malloc(p.upper_bytes));
        if (x.linkLists_[p.id] == nullptr) throw std::bad_alloc();
        std::memcpy(x.linkLists_[p.id], p.upper, p.upper_bytes);
      }
      x.cur_element_count = p.id + 1;
    }
    x.maxlevel_ = max_level;
    x.enterpoint_node_ = entry_point;
    meta_ = *meta;
    return length + 2 * sizeof(uint64_t);
  }

  // Writes what changed: a record appended to the delta file while that file stays under options_.rewrite_share of
  // the index file's size, the whole index file otherwise (and always after a rebuild).
  Status Persist() {
    if (update_.rebuilt || loaded_count_ == 0) return SaveWhole();
    const Hnsw& x = *index_;
    const auto hashes = HashLinks(loaded_count_);
    std::vector<uint32_t> changed;
    for (size_t i = 0; i < loaded_count_; ++i) {
      if (hashes[i] != loaded_hashes_[i]) changed.push_back(static_cast<uint32_t>(i));
    }
    const std::string meta = index_files::MetaToJson(meta_);
    std::string record;
    record.reserve(96 + meta.size() + changed.size() * (8 + x.size_links_level0_) +
                   (x.cur_element_count - loaded_count_) * (4 + x.size_data_per_element_));
    record.append(kDeltaMagic, sizeof kDeltaMagic);
    record.append(meta_.generation.data(), 16);
    Put(&record, static_cast<uint64_t>(loaded_count_));
    Put(&record, static_cast<uint64_t>(x.cur_element_count));
    Put(&record, static_cast<int32_t>(x.maxlevel_));
    Put(&record, x.enterpoint_node_);
    Put(&record, static_cast<uint64_t>(changed.size()));
    Put(&record, static_cast<uint64_t>(meta.size()));
    record += meta;
    for (const uint32_t id : changed) {
      Put(&record, id);
      record += Level0Links(id);
      AppendUpperLinks(id, &record);
    }
    for (size_t id = loaded_count_; id < x.cur_element_count; ++id) {
      record.append(x.data_level0_memory_ + id * x.size_data_per_element_, x.size_data_per_element_);
      AppendUpperLinks(id, &record);
    }
    const uint64_t length = record.size(), hash = std::hash<std::string_view>()(record);
    Put(&record, length);
    Put(&record, hash);
    const size_t delta_bytes = delta_good_bytes_ + record.size();
    if (static_cast<double>(delta_bytes) > options_.rewrite_share * static_cast<double>(base_file_bytes_)) {
      return SaveWhole();
    }
    // Anything after the good records (one cut short, or a stale file) goes before this one is appended.
    std::error_code ec;
    if (fs::exists(DeltaPath(), ec) && fs::file_size(DeltaPath(), ec) != delta_good_bytes_) {
      fs::resize_file(DeltaPath(), delta_good_bytes_, ec);
      if (ec) return Status(StatusCode::kIoError, "truncate " + DeltaPath() + ": " + ec.message());
    }
    std::ofstream out(DeltaPath(), std::ios::binary | std::ios::app);
    out << record;
    out.close();
    if (!out) return Status(StatusCode::kIoError, "append to " + DeltaPath() + " failed");
    update_.delta_written = true;
    update_.delta_bytes = static_cast<int64_t>(delta_bytes);
    return Status::Ok();
  }

  // The whole index in hnswlib's format, then its meta with a new generation. The old delta goes first: a crash
  // between the steps leaves a file the catalog catches up with, never a delta applied to another file.
  Status SaveWhole() {
    meta_.generation = index_files::NewGeneration();
    std::error_code ec;
    fs::remove(DeltaPath(), ec);
    if (ec) return Status(StatusCode::kIoError, "remove " + DeltaPath() + ": " + ec.message());
    const Hnsw& x = *index_;
    std::string header;
    for (const size_t v : {x.offsetLevel0_, x.max_elements_, x.cur_element_count, x.size_data_per_element_,
                           x.label_offset_, x.offsetData_}) {
      Put(&header, v);
    }
    Put(&header, x.maxlevel_);
    Put(&header, x.enterpoint_node_);
    for (const size_t v : {x.maxM_, x.maxM0_, x.M_}) Put(&header, v);
    Put(&header, x.mult_);
    Put(&header, x.ef_construction_);
    const std::string_view level0(x.data_level0_memory_, x.cur_element_count * x.size_data_per_element_);
    std::string upper;
    for (size_t i = 0; i < x.cur_element_count; ++i) AppendUpperLinks(i, &upper);
    FACEFILL_RETURN_IF_ERROR(index_files::WriteAtomically(path_, {header, level0, upper}));
    FACEFILL_RETURN_IF_ERROR(index_files::WriteMeta(path_ + ".json", meta_));
    update_.rewritten = true;
    return Status::Ok();
  }

  // Marks indexed rows that left the catalog as deleted; returns how many.
  Result<int64_t> MarkDeleted() {
    // "+rowid": counted over the face id index (a few bytes a row), not the table (2 KB a row).
    auto stmt = db_->Prepare("SELECT COUNT(*) FROM facefill_face_vectors WHERE +rowid <= ?");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, meta_.max_row);
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    const int64_t live = static_cast<int64_t>(index_->cur_element_count - index_->num_deleted_);
    if (stmt->Int(0) == live) return int64_t{0};
    stmt->Reset();
    auto rows = db_->Prepare("SELECT rowid FROM facefill_face_vectors WHERE +rowid <= ?");
    if (!rows.ok()) return rows.status();
    rows->Bind(1, meta_.max_row);
    std::unordered_set<int64_t> present;
    FACEFILL_RETURN_IF_ERROR(rows->ForEachRow([&] { present.insert(rows->Int(0)); }));
    std::vector<hnswlib::labeltype> gone;
    for (const auto& [label, internal] : index_->label_lookup_) {
      if (!present.count(static_cast<int64_t>(label)) && !index_->isMarkedDeleted(internal)) gone.push_back(label);
    }
    for (auto label : gone) index_->markDelete(label);
    update_.deleted = static_cast<int64_t>(gone.size());
    return update_.deleted;
  }

  // Inserts these rows' codes (code_size() bytes each) on options_.threads threads.
  Status Insert(const std::vector<int64_t>& rows, const std::vector<char>& codes) {
    if (rows.empty()) return Status::Ok();
    Reserve(index_->cur_element_count + rows.size());
    // The first point becomes the entry point before any concurrent insert, as hnswlib's own Python binding does.
    size_t first = 0;
    if (index_->cur_element_count == 0) {
      try {
        index_->addPoint(codes.data(), static_cast<hnswlib::labeltype>(rows[0]));
      } catch (const std::exception& e) {
        return Status(StatusCode::kInternal, std::string("face index insert: ") + e.what());
      }
      first = 1;
    }
    std::atomic<size_t> next{first};
    std::mutex error_mutex;
    std::string error;
    auto work = [&] {
      for (size_t i = next++; i < rows.size(); i = next++) {
        try {
          index_->addPoint(codes.data() + i * code_size(), static_cast<hnswlib::labeltype>(rows[i]));
        } catch (const std::exception& e) {
          std::lock_guard error_lock(error_mutex);
          error = e.what();
        }
      }
    };
    std::vector<std::jthread> pool;
    for (int t = 1; t < std::max(1, options_.threads); ++t) pool.emplace_back(work);
    work();
    pool.clear();
    if (!error.empty()) return Status(StatusCode::kInternal, "face index insert: " + error);
    return Status::Ok();
  }

  // Inserts the catalog's vectors with from_row < row <= to_row, kChunkRows at a time on options_.threads threads.
  Result<int64_t> AddSince(int64_t from_row, int64_t to_row) {
    auto stmt = db_->Prepare(
        "SELECT rowid, embedding FROM facefill_face_vectors WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?");
    if (!stmt.ok()) return stmt.status();
    int64_t after = from_row;
    std::vector<int64_t> rows;
    std::vector<char> codes;
    while (after < to_row) {
      rows.clear();
      codes.clear();
      stmt->Bind(1, after).Bind(2, to_row).Bind(3, kChunkRows);
      bool bad_dimension = false;
      FACEFILL_RETURN_IF_ERROR(stmt->ForEachRow([&] {
        auto v = stmt->Floats(1);
        if (static_cast<int>(v.size()) != dimension_) {
          bad_dimension = true;
          return;
        }
        rows.push_back(stmt->Int(0));
        codes.resize(codes.size() + code_size());
        int8::Encode(v.data(), dimension_, codes.data() + codes.size() - code_size());
      }));
      stmt->Reset();
      if (bad_dimension) {
        return Status(StatusCode::kInvalidArgument, "face vectors of more than one dimension in " + db_->path());
      }
      if (rows.empty()) break;
      FACEFILL_RETURN_IF_ERROR(Insert(rows, codes));
      update_.added += static_cast<int64_t>(rows.size());
      after = rows.back();
      meta_.max_row = after;
    }
    return update_.added;
  }

  std::unique_ptr<Database> db_;
  std::string path_;
  FaceIndexOptions options_;
  int dimension_ = 0;
  IndexMeta meta_;
  FaceIndexUpdate update_;
  std::unique_ptr<CodeCosineSpace> space_;
  std::unique_ptr<Hnsw> index_;
  size_t loaded_count_ = 0;              // elements as loaded (the index file and its delta records)
  std::vector<uint64_t> loaded_hashes_;  // their links' hashes as loaded, to find the ones that changed since
  size_t delta_good_bytes_ = 0;          // the delta file's records that were applied
  int64_t base_file_bytes_ = 0;
};

}  // namespace

Status FaceIndexOptions::Validate() const {
  if (max_connections < 2 || max_connections > 128) {
    return Status(StatusCode::kInvalidArgument, "index max connections (M) must be in [2, 128]");
  }
  if (ef_construction < max_connections) {
    return Status(StatusCode::kInvalidArgument, "index ef_construction must be at least M");
  }
  if (ef_search < 1) return Status(StatusCode::kInvalidArgument, "index ef_search must be at least 1");
  if (threads < 1) return Status(StatusCode::kInvalidArgument, "index threads must be at least 1");
  if (!(rewrite_share >= 0 && rewrite_share <= 1)) {
    return Status(StatusCode::kInvalidArgument, "index rewrite share must be in [0, 1]");
  }
  return Status::Ok();
}

Result<std::unique_ptr<FaceIndex>> FaceIndex::InMemory(const VectorMatrix& vectors, const std::vector<int64_t>& labels,
                                                       const FaceIndexOptions& options) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  auto index = std::make_unique<HnswFaceIndex>(nullptr, "", options);
  FACEFILL_RETURN_IF_ERROR(index->BuildInMemory(vectors, labels));
  return std::unique_ptr<FaceIndex>(std::move(index));
}

std::string FaceIndex::IndexPath(const std::string& catalog_url) { return SqlitePathFromUrl(catalog_url) + ".hnsw"; }

Result<std::unique_ptr<FaceIndex>> FaceIndex::Open(const std::string& catalog_url, const FaceIndexOptions& options) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  auto db = Database::Open(SqlitePathFromUrl(catalog_url));
  if (!db.ok()) return db.status();
  auto index = std::make_unique<HnswFaceIndex>(std::move(db).value(), IndexPath(catalog_url), options);
  FACEFILL_RETURN_IF_ERROR(index->Open());
  return std::unique_ptr<FaceIndex>(std::move(index));
}

}  // namespace facefill
