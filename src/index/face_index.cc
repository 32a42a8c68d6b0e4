// The HNSW index beside the SQLite catalog: build, catch up with the catalog, save, search. The only file that
// includes hnswlib (its header defines non-inline functions).
#include "facefill/face_index.h"

#include <hnswlib/hnswlib.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_set>

#include "../sqlite/sqlite_db.h"
#include "../sqlite/sqlite_url.h"
#include "half_vectors.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using sqlite::Database;

constexpr int kMetaVersion = 2;        // 2: vectors stored as half floats
constexpr int64_t kChunkRows = 20000;  // vectors read from the catalog per parallel insertion round

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
};

nlohmann::json ToJson(const IndexMeta& m) {
  return {{"version", m.version},   {"dimension", m.dimension},
          {"model", m.model},       {"count", m.count},
          {"max_row", m.max_row},   {"max_face_id", m.max_face_id},
          {"m", m.max_connections}, {"ef_construction", m.ef_construction}};
}

std::optional<IndexMeta> ReadMeta(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  IndexMeta m;
  try {
    m.version = j.at("version");
    m.dimension = j.at("dimension");
    m.model = j.at("model");
    m.count = j.at("count");
    m.max_row = j.at("max_row");
    m.max_face_id = j.at("max_face_id");
    m.max_connections = j.at("m");
    m.ef_construction = j.at("ef_construction");
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  return m;
}

// Writes to a temporary file and renames it over `path`, so a reader never sees half a file.
template <typename Write>
Status WriteAtomically(const std::string& path, Write&& write) {
  const std::string tmp = path + ".tmp";
  try {
    write(tmp);
  } catch (const std::exception& e) {
    return Status(StatusCode::kIoError, "write " + tmp + ": " + e.what());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status(StatusCode::kIoError, "rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

// The catalog's state as far as the index cares.
struct CatalogView {
  std::string model;
  int dimension = 0;
  int64_t count = 0;
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
      "SELECT COUNT(*), COALESCE(MAX(rowid), 0), (SELECT length(embedding) FROM facefill_face_vectors LIMIT 1) "
      "FROM facefill_face_vectors");
  if (!stats.ok()) return stats.status();
  row = stats->Step();
  if (!row.ok()) return row.status();
  view.count = stats->Int(0);
  view.max_row = stats->Int(1);
  view.dimension = static_cast<int>(stats->Int(2) / static_cast<int64_t>(sizeof(float)));
  return view;
}

Result<std::string> FaceIdOfRow(Database& db, int64_t row) {
  auto stmt = db.Prepare("SELECT face_id FROM facefill_face_vectors WHERE rowid = ?");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, row);
  auto found = stmt->Step();
  if (!found.ok()) return found.status();
  return *found ? stmt->Text(0) : std::string();
}

// Cosine distance (1 - dot) between unit vectors stored as half floats: half the memory traffic of floats, and a
// vectorised dot product chosen at run time (hnswlib's own picks SIMD from compile-time macros only).
float HalfCosineDistance(const void* a, const void* b, const void* dimension) {
  return 1.0f - half::Dot(static_cast<const uint16_t*>(a), static_cast<const uint16_t*>(b),
                          static_cast<int>(*static_cast<const size_t*>(dimension)));
}

class HalfCosineSpace final : public hnswlib::SpaceInterface<float> {
 public:
  explicit HalfCosineSpace(size_t dimension) : dimension_(dimension) {}
  size_t get_data_size() override { return dimension_ * sizeof(uint16_t); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return HalfCosineDistance; }
  void* get_dist_func_param() override { return &dimension_; }

 private:
  size_t dimension_;
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
    space_ = std::make_unique<HalfCosineSpace>(static_cast<size_t>(dimension_));
    auto meta = ReadMeta(path_ + ".json");
    bool usable = meta && meta->version == kMetaVersion && meta->dimension == dimension_ &&
                  meta->model == view->model && fs::exists(path_);
    if (usable) {
      // A changed face id at the largest indexed row means SQLite reused row ids after deleting the top rows.
      auto face_id = FaceIdOfRow(*db_, meta->max_row);
      if (!face_id.ok()) return face_id.status();
      usable = meta->max_row == 0 || *face_id == meta->max_face_id;
    }
    const auto load_start = std::chrono::steady_clock::now();
    if (usable) {
      try {
        index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), path_, false,
                                                                   static_cast<size_t>(view->count + 1024));
        meta_ = *meta;
        // hnswlib 0.6.2's loading constructor leaves the deleted count uninitialised; searches rely on it.
        index_->num_deleted_ = 0;
        for (size_t i = 0; i < index_->cur_element_count; ++i) {
          index_->num_deleted_ += index_->isMarkedDeleted(static_cast<hnswlib::tableint>(i)) ? 1 : 0;
        }
      } catch (const std::exception& e) {
        spdlog::warn("face index {} unreadable ({}): rebuilding", path_, e.what());
        usable = false;
      }
    }
    if (!usable) {
      update_.rebuilt = true;
      meta_ = IndexMeta{};
      meta_.dimension = dimension_;
      meta_.max_connections = options_.max_connections;
      meta_.ef_construction = options_.ef_construction;
      index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(
          space_.get(), static_cast<size_t>(std::max<int64_t>(view->count, 1024)), options_.max_connections,
          options_.ef_construction);
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
    index_->setEf(static_cast<size_t>(options_.ef_search));
    const auto save_start = std::chrono::steady_clock::now();
    const bool worth_saving =
        update_.rebuilt || static_cast<double>(update_.added + update_.deleted) >=
                               options_.save_share * static_cast<double>(std::max<int64_t>(meta_.count, 1));
    if (changed && worth_saving && options_.save) FACEFILL_RETURN_IF_ERROR(Save());
    const auto end = std::chrono::steady_clock::now();
    update_.seconds = std::chrono::duration<double>(end - start).count();
    if (changed) {
      auto s = [](auto from, auto to) { return std::chrono::duration<double>(to - from).count(); };
      spdlog::info(
          "face index {}: {} vectors ({}{} added, {} deleted) in {:.1f} s (catalog {:.1f}, load {:.1f}, deleted "
          "{:.1f}, add {:.1f}, save {:.1f})",
          path_, meta_.count, update_.rebuilt ? "rebuilt, " : "", update_.added, update_.deleted, update_.seconds,
          s(start, load_start), s(load_start, mark_start), s(mark_start, add_start), s(add_start, save_start),
          s(save_start, end));
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
    space_ = std::make_unique<HalfCosineSpace>(static_cast<size_t>(dimension_));
    index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), std::max<size_t>(labels.size(), 1024),
                                                               options_.max_connections, options_.ef_construction);
    update_.rebuilt = true;
    // Converted and inserted kChunkRows at a time, so only one chunk is held twice.
    std::vector<int64_t> rows;
    std::vector<uint16_t> data;
    for (size_t from = 0; from < labels.size(); from += kChunkRows) {
      const size_t n = std::min(labels.size() - from, static_cast<size_t>(kChunkRows));
      rows.assign(labels.begin() + static_cast<long>(from), labels.begin() + static_cast<long>(from + n));
      data.resize(n * dimension_);
      half::FromFloat(vectors.values.data() + from * dimension_, data.data(), static_cast<int>(n) * dimension_);
      FACEFILL_RETURN_IF_ERROR(Insert(rows, data));
    }
    update_.added = static_cast<int64_t>(labels.size());
    meta_.count = update_.added;
    meta_.dimension = dimension_;
    index_->setEf(static_cast<size_t>(options_.ef_search));
    update_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return Status::Ok();
  }

  const FaceIndexUpdate& last_update() const override { return update_; }
  int64_t size() const override { return meta_.count; }
  int dimension() const override { return dimension_; }

  Result<std::vector<IndexNeighbor>> Nearest(std::span<const float> query, int k) const override {
    if (static_cast<int>(query.size()) != dimension_) {
      return Status(StatusCode::kInvalidArgument, "query has " + std::to_string(query.size()) +
                                                      " dimensions, the index " + std::to_string(dimension_));
    }
    std::vector<uint16_t> stored(query.size());
    half::FromFloat(query.data(), stored.data(), dimension_);
    std::vector<IndexNeighbor> out;
    FACEFILL_RETURN_IF_ERROR(NearestToStored(stored.data(), k, &out));
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
    std::mutex error_mutex;
    Status error;
    auto work = [&] {
      std::vector<IndexNeighbor> found;
      for (int64_t i = next++; i < n; i = next++) {
        auto internal = index_->label_lookup_.find(static_cast<hnswlib::labeltype>(vector_rows[i]));
        if (internal == index_->label_lookup_.end()) continue;
        // The stored copy is the query: no conversion, and the point finds itself first.
        Status status = NearestToStored(index_->getDataByInternalId(internal->second), k + 1, &found);
        if (!status.ok()) {
          std::lock_guard lock(error_mutex);
          error = status;
          return;
        }
        int j = 0;
        for (const auto& neighbor : found) {
          auto it = point_of_row.find(neighbor.vector_row);
          if (it == point_of_row.end() || it->second == i || j == k) continue;
          graph.neighbors[i * k + j] = it->second;
          graph.distances[i * k + j] = std::sqrt(std::max(0.0f, 2.0f - 2.0f * neighbor.similarity));
          ++j;
        }
      }
    };
    std::vector<std::jthread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    pool.clear();
    if (!error.ok()) return error;
    return graph;
  }

  Result<std::vector<float>> StoredVector(int64_t vector_row) const override {
    auto internal = index_->label_lookup_.find(static_cast<hnswlib::labeltype>(vector_row));
    if (internal == index_->label_lookup_.end()) {
      return Status(StatusCode::kNotFound, "vector row " + std::to_string(vector_row) + " is not in the face index");
    }
    std::vector<float> out(static_cast<size_t>(dimension_));
    half::ToFloat(reinterpret_cast<const uint16_t*>(index_->getDataByInternalId(internal->second)), out.data(),
                  dimension_);
    return out;
  }

  Result<std::vector<VectorMatch>> Search(const Embedding& query, int top_k, float min_similarity) override {
    // hnswlib searches with max(ef, top_k) candidates, so a large top_k still gets top_k results.
    auto nearest = Nearest(query, top_k);
    if (!nearest.ok()) return nearest.status();
    if (!db_) return Status(StatusCode::kInvalidArgument, "an in-memory face index has no catalog to find faces in");
    std::vector<VectorMatch> matches;
    std::lock_guard lock(db_->mutex());
    auto stmt = db_->Prepare("SELECT face_id, asset_id FROM facefill_face_vectors WHERE rowid = ?");
    if (!stmt.ok()) return stmt.status();
    for (const auto& n : *nearest) {
      if (n.similarity < min_similarity) break;
      stmt->Bind(1, n.vector_row);
      auto row = stmt->Step();
      if (!row.ok()) return row.status();
      if (*row) matches.push_back({stmt->Text(0), stmt->Int(1), n.similarity});
      stmt->Reset();
    }
    return matches;
  }

 private:
  // The k nearest live vectors to a query in the stored (half) format, most similar first.
  Status NearestToStored(const void* query, int k, std::vector<IndexNeighbor>* out) const {
    out->clear();
    if (k <= 0 || meta_.count == 0) return Status::Ok();
    try {
      auto found = index_->searchKnn(query, static_cast<size_t>(k));
      out->resize(found.size());
      for (size_t i = found.size(); i-- > 0; found.pop()) {
        (*out)[i] = {static_cast<int64_t>(found.top().second), 1.0f - found.top().first};
      }
    } catch (const std::exception& e) {
      return Status(StatusCode::kInternal, std::string("face index search: ") + e.what());
    }
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

  // Inserts these rows' vectors (half floats, row-major) on options_.threads threads.
  Status Insert(const std::vector<int64_t>& rows, const std::vector<uint16_t>& data) {
    if (rows.empty()) return Status::Ok();
    const size_t needed = index_->cur_element_count + rows.size();
    if (needed > index_->max_elements_) index_->resizeIndex(std::max(needed, index_->max_elements_ * 3 / 2));
    // The first point becomes the entry point before any concurrent insert, as hnswlib's own Python binding does.
    size_t first = 0;
    if (index_->cur_element_count == 0) {
      try {
        index_->addPoint(data.data(), static_cast<hnswlib::labeltype>(rows[0]));
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
          index_->addPoint(data.data() + i * dimension_, static_cast<hnswlib::labeltype>(rows[i]));
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
    std::vector<uint16_t> data;
    while (after < to_row) {
      rows.clear();
      data.clear();
      stmt->Bind(1, after).Bind(2, to_row).Bind(3, kChunkRows);
      bool bad_dimension = false;
      FACEFILL_RETURN_IF_ERROR(stmt->ForEachRow([&] {
        auto v = stmt->Floats(1);
        if (static_cast<int>(v.size()) != dimension_) {
          bad_dimension = true;
          return;
        }
        rows.push_back(stmt->Int(0));
        data.resize(data.size() + v.size());
        half::FromFloat(v.data(), data.data() + data.size() - v.size(), dimension_);
      }));
      stmt->Reset();
      if (bad_dimension) {
        return Status(StatusCode::kInvalidArgument, "face vectors of more than one dimension in " + db_->path());
      }
      if (rows.empty()) break;
      FACEFILL_RETURN_IF_ERROR(Insert(rows, data));
      update_.added += static_cast<int64_t>(rows.size());
      after = rows.back();
      meta_.max_row = after;
    }
    return update_.added;
  }

  Status Save() {
    FACEFILL_RETURN_IF_ERROR(WriteAtomically(path_, [&](const std::string& tmp) { index_->saveIndex(tmp); }));
    return WriteAtomically(path_ + ".json", [&](const std::string& tmp) {
      std::ofstream out(tmp);
      out << ToJson(meta_).dump(2) << "\n";
      out.close();
      if (!out) throw std::runtime_error("write failed");
    });
  }

  std::unique_ptr<Database> db_;
  std::string path_;
  FaceIndexOptions options_;
  int dimension_ = 0;
  IndexMeta meta_;
  FaceIndexUpdate update_;
  std::unique_ptr<HalfCosineSpace> space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index_;
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
  if (!(save_share >= 0 && save_share <= 1)) {
    return Status(StatusCode::kInvalidArgument, "index save share must be in [0, 1]");
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
