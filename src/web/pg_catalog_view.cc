// The web pages' CatalogView over a PostgreSQL catalog — the image-search service's own database or one of facefill's
// — on its schema (face_instances, image_assets, persons), read only: SELECTs, nothing else. The people listing goes
// through the people FaceStore, as `facefill people` does.
#include <cctype>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <vector>

#include "../catalog/pg_session.h"
#include "../core/landmarks_json.h"
#include "../people/face_store.h"
#include "catalog_view.h"
#include "facefill/service_settings.h"

namespace facefill::web {
namespace {

// The service's noise marker ("-1": faces kept out of clustering) is no cluster: such faces show as unclustered.
constexpr char kFaceSelect[] =
    "SELECT f.id::text, f.asset_id, f.bbox_x, f.bbox_y, f.bbox_w, f.bbox_h, f.detection_confidence, "
    "COALESCE(f.quality_score, 0), COALESCE(NULLIF(f.cluster_id, '-1'), ''), COALESCE(p.name, ''), "
    "COALESCE(f.landmarks::text, ''), a.path, COALESCE(a.file_size, 0), "
    "COALESCE(FLOOR(EXTRACT(EPOCH FROM a.file_modified_at))::BIGINT::text, ''), f.qdrant_point_id::text "
    "FROM face_instances f JOIN image_assets a ON a.id = f.asset_id LEFT JOIN persons p ON p.id = f.person_id ";
constexpr char kUnclustered[] = "(f.cluster_id IS NULL OR f.cluster_id = '-1')";

FaceView ReadFace(const pqxx::row& row) {
  FaceView f;
  f.id = row[0].as<std::string>();
  f.asset_id = row[1].as<int64_t>();
  f.bbox_x = row[2].as<int>();
  f.bbox_y = row[3].as<int>();
  f.bbox_w = row[4].as<int>();
  f.bbox_h = row[5].as<int>();
  f.detection_confidence = static_cast<float>(row[6].as<double>());
  f.quality_score = static_cast<float>(row[7].as<double>());
  f.cluster_id = row[8].as<std::string>();
  f.person_name = row[9].as<std::string>();
  f.landmarks = ParseLandmarksJson(row[10].as<std::string>());
  f.path = row[11].as<std::string>();
  f.file_size = row[12].as<int64_t>();
  f.file_modified_at = row[13].as<std::string>();
  f.point_id = row[14].as<std::string>();
  return f;
}

AssetView ReadAsset(const pqxx::row& row) {
  AssetView a;
  a.id = row[0].as<int64_t>();
  a.path = row[1].as<std::string>();
  a.width = row[2].as<int>();
  a.height = row[3].as<int>();
  a.file_size = row[4].as<int64_t>();
  a.file_modified_at = row[5].as<std::string>();
  return a;
}

// face_instances.id is a uuid: anything else is no face of the catalog (and never reaches the server as a cast
// that fails).
bool IsUuid(const std::string& id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? id[i] != '-' : !std::isxdigit(static_cast<unsigned char>(id[i]))) return false;
  }
  return true;
}

// Up to kSessions connections, opened as requests need them: a browser loads a page's crops over six connections at
// once, each crop a face lookup, and one connection serialising them made a page of a thousand faces take seconds.
class SessionPool {
 public:
  static constexpr size_t kSessions = 6;

  explicit SessionPool(std::string url) : url_(std::move(url)) {}

  // Runs `read` on a free session (waiting for one when all are busy).
  template <typename Read>
  auto With(Read&& read) -> decltype(read(std::declval<pg::Session&>())) {
    std::unique_ptr<pg::Session> session;
    {
      std::unique_lock lock(mutex_);
      freed_.wait(lock, [&] { return !idle_.empty() || opened_ < kSessions; });
      if (!idle_.empty()) {
        session = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++opened_;
      }
    }
    if (!session) {
      auto opened = pg::Session::Open(url_);
      if (!opened.ok()) {
        std::lock_guard lock(mutex_);
        --opened_;
        freed_.notify_one();
        return opened.status();
      }
      session = std::move(opened).value();
    }
    auto result = read(*session);
    {
      std::lock_guard lock(mutex_);
      idle_.push_back(std::move(session));
    }
    freed_.notify_one();
    return result;
  }

 private:
  const std::string url_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<pg::Session>> idle_;  // guarded by mutex_
  size_t opened_ = 0;                               // guarded by mutex_
};

// Thread-safe: each read on one of the pool's sessions.
class PostgresCatalogView final : public CatalogView {
 public:
  PostgresCatalogView(std::unique_ptr<people::FaceStore> faces, std::unique_ptr<SessionPool> sessions)
      : faces_(std::move(faces)), sessions_(std::move(sessions)) {}

  Result<std::vector<PeopleCluster>> People() override { return people::ListPeople(*faces_); }

  Result<std::vector<FaceView>> FacesOfCluster(const std::string& cluster_id) override {
    if (cluster_id == "-1") return std::vector<FaceView>{};
    return pg::Rows(Query(std::string(kFaceSelect) + "WHERE f.cluster_id = $1" + kBestFacesFirst, cluster_id),
                    ReadFace);
  }

  Result<std::vector<FaceView>> UnclusteredFaces(int limit, int64_t* total) override {
    FACEFILL_ASSIGN_OR_RETURN(*total,
                              QueryInt(std::string("SELECT COUNT(*) FROM face_instances f WHERE ") + kUnclustered));
    return pg::Rows(Query(std::string(kFaceSelect) + "WHERE " + kUnclustered + kBestFacesFirst + " LIMIT $1", limit),
                    ReadFace);
  }

  Result<std::vector<FaceView>> FacesOfAsset(int64_t asset_id) override {
    if (!IsAssetId(asset_id)) return std::vector<FaceView>{};
    return pg::Rows(Query(std::string(kFaceSelect) + "WHERE f.asset_id = $1" + kLeftToRight, asset_id), ReadFace);
  }

  Result<std::optional<FaceView>> Face(const std::string& face_id) override {
    if (!IsUuid(face_id)) return std::optional<FaceView>();
    FACEFILL_ASSIGN_OR_RETURN(auto faces,
                              pg::Rows(Query(std::string(kFaceSelect) + "WHERE f.id = $1::uuid", face_id), ReadFace));
    if (faces.empty()) return std::optional<FaceView>();
    return std::optional<FaceView>(std::move(faces.front()));
  }

  Result<std::optional<AssetView>> Asset(int64_t asset_id) override {
    if (!IsAssetId(asset_id)) return std::optional<AssetView>();
    FACEFILL_ASSIGN_OR_RETURN(
        auto assets, pg::Rows(Query("SELECT id, path, COALESCE(width, 0), COALESCE(height, 0), COALESCE(file_size, 0), "
                                    "COALESCE(FLOOR(EXTRACT(EPOCH FROM file_modified_at))::BIGINT::text, '') "
                                    "FROM image_assets WHERE id = $1",
                                    asset_id),
                              ReadAsset));
    if (assets.empty()) return std::optional<AssetView>();
    return std::optional<AssetView>(std::move(assets.front()));
  }

 private:
  // image_assets.id is an integer column: larger ids are none of its rows.
  static bool IsAssetId(int64_t id) { return id > 0 && id <= std::numeric_limits<int32_t>::max(); }

  // The rows of one query on a free session.
  template <typename... Args>
  Result<pqxx::result> Query(const std::string& sql, Args&&... args) {
    return sessions_->With([&](pg::Session& session) { return session.Query(sql, args...); });
  }

  Result<int64_t> QueryInt(const std::string& sql) {
    return sessions_->With([&](pg::Session& session) { return session.QueryInt(sql); });
  }

  std::unique_ptr<people::FaceStore> faces_;  // the people listing
  std::unique_ptr<SessionPool> sessions_;     // the pages' reads
};

}  // namespace

Result<std::unique_ptr<CatalogView>> OpenPostgresCatalogView(const std::string& catalog_url) {
  // The listing reads no vectors: the catalog's default vector store is opened but never asked (as ListPeople).
  FACEFILL_ASSIGN_OR_RETURN(auto faces, people::OpenPostgresFaceStore(catalog_url, ""));
  auto sessions = std::make_unique<SessionPool>(LibpqUrl(catalog_url));
  // One opened now, so that a database that cannot be reached is an error at start, not on the first page.
  FACEFILL_RETURN_IF_ERROR(sessions->With([](pg::Session& session) { return session.Execute("SELECT 1"); }));
  return std::unique_ptr<CatalogView>(new PostgresCatalogView(std::move(faces), std::move(sessions)));
}

}  // namespace facefill::web
