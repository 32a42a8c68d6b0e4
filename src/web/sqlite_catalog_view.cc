// The web pages' CatalogView over the embedded SQLite catalog.
#include <map>

#include "../core/landmarks_json.h"
#include "../people/people_catalog.h"
#include "catalog_view.h"

namespace facefill::web {
namespace {

constexpr const char* kFaceSelect =
    "SELECT f.id, f.asset_id, f.bbox_x, f.bbox_y, f.bbox_w, f.bbox_h, f.detection_confidence, "
    "COALESCE(f.quality_score, 0), COALESCE(f.cluster_id, ''), COALESCE(p.name, ''), COALESCE(f.landmarks, ''), "
    "a.path, COALESCE(a.file_size, 0), COALESCE(a.file_modified_at, ''), COALESCE(f.qdrant_point_id, f.id) "
    "FROM face_instances f JOIN image_assets a ON a.id = f.asset_id LEFT JOIN persons p ON p.id = f.person_id ";

// Thread-safe: one connection, serialised.
class SqliteCatalogView final : public CatalogView {
 public:
  explicit SqliteCatalogView(std::unique_ptr<people::PeopleCatalog> catalog) : catalog_(std::move(catalog)) {}

  Result<std::vector<PeopleCluster>> People() override { return people::ListPeople(*catalog_); }
  Result<std::vector<FaceView>> FacesOfCluster(const std::string& cluster_id) override;
  Result<std::vector<FaceView>> UnclusteredFaces(int limit, int64_t* total) override;
  Result<std::vector<FaceView>> FacesOfAsset(int64_t asset_id) override;
  Result<std::optional<FaceView>> Face(const std::string& face_id) override;
  Result<std::optional<AssetView>> Asset(int64_t asset_id) override;

 private:
  Result<std::vector<FaceView>> QueryFaces(const std::string& where_and_order, const std::string& text_arg,
                                           int64_t int_arg);
  // The statement for `sql`, prepared on first use: a page of a thousand crops is a thousand face lookups, and
  // parsing the query each time cost more than running it. Call with the connection's mutex held.
  Result<sqlite::Statement*> Prepared(const std::string& sql);
  std::unique_ptr<people::PeopleCatalog> catalog_;
  std::map<std::string, sqlite::Statement> statements_;  // guarded by catalog_->db().mutex()
};

Result<sqlite::Statement*> SqliteCatalogView::Prepared(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    FACEFILL_ASSIGN_OR_RETURN(auto stmt, catalog_->db().Prepare(sql));
    it = statements_.emplace(sql, std::move(stmt)).first;
  }
  return &it->second;
}

// `where_and_order` binds ?1 to text_arg when it names ?1, and ?2 to int_arg when it names ?2.
Result<std::vector<FaceView>> SqliteCatalogView::QueryFaces(const std::string& where_and_order,
                                                            const std::string& text_arg, int64_t int_arg) {
  sqlite::Database& db = catalog_->db();
  std::lock_guard lock(db.mutex());
  FACEFILL_ASSIGN_OR_RETURN(sqlite::Statement * prepared, Prepared(std::string(kFaceSelect) + where_and_order));
  sqlite::Statement& stmt = *prepared;
  stmt.Reset();
  if (where_and_order.find("?1") != std::string::npos) stmt.Bind(1, text_arg);
  if (where_and_order.find("?2") != std::string::npos) stmt.Bind(2, int_arg);
  std::vector<FaceView> faces;
  FACEFILL_RETURN_IF_ERROR(stmt.ForEachRow([&] {
    FaceView f;
    f.id = stmt.Text(0);
    f.asset_id = stmt.Int(1);
    f.bbox_x = static_cast<int>(stmt.Int(2));
    f.bbox_y = static_cast<int>(stmt.Int(3));
    f.bbox_w = static_cast<int>(stmt.Int(4));
    f.bbox_h = static_cast<int>(stmt.Int(5));
    f.detection_confidence = static_cast<float>(stmt.Double(6));
    f.quality_score = static_cast<float>(stmt.Double(7));
    f.cluster_id = stmt.Text(8);
    f.person_name = stmt.Text(9);
    f.landmarks = ParseLandmarksJson(stmt.Text(10));
    f.path = stmt.Text(11);
    f.file_size = stmt.Int(12);
    f.file_modified_at = stmt.Text(13);
    f.point_id = stmt.Text(14);
    faces.push_back(std::move(f));
  }));
  return faces;
}

Result<std::vector<FaceView>> SqliteCatalogView::FacesOfCluster(const std::string& cluster_id) {
  return QueryFaces(std::string("WHERE f.cluster_id = ?1") + kBestFacesFirst, cluster_id, 0);
}

Result<std::vector<FaceView>> SqliteCatalogView::UnclusteredFaces(int limit, int64_t* total) {
  {
    sqlite::Database& db = catalog_->db();
    std::lock_guard lock(db.mutex());
    FACEFILL_ASSIGN_OR_RETURN(auto count, db.Prepare("SELECT COUNT(*) FROM face_instances WHERE cluster_id IS NULL"));
    FACEFILL_ASSIGN_OR_RETURN(bool row, count.Step());
    *total = row ? count.Int(0) : 0;
  }
  return QueryFaces(std::string("WHERE f.cluster_id IS NULL") + kBestFacesFirst + " LIMIT ?2", "", limit);
}

Result<std::vector<FaceView>> SqliteCatalogView::FacesOfAsset(int64_t asset_id) {
  return QueryFaces(std::string("WHERE f.asset_id = ?2") + kLeftToRight, "", asset_id);
}

Result<std::optional<FaceView>> SqliteCatalogView::Face(const std::string& face_id) {
  FACEFILL_ASSIGN_OR_RETURN(auto faces, QueryFaces("WHERE f.id = ?1", face_id, 0));
  if (faces.empty()) return std::optional<FaceView>();
  return std::optional<FaceView>(std::move(faces.front()));
}

Result<std::optional<AssetView>> SqliteCatalogView::Asset(int64_t asset_id) {
  sqlite::Database& db = catalog_->db();
  std::lock_guard lock(db.mutex());
  FACEFILL_ASSIGN_OR_RETURN(sqlite::Statement * prepared,
                            Prepared("SELECT id, path, COALESCE(width, 0), COALESCE(height, 0), "
                                     "COALESCE(file_size, 0), COALESCE(file_modified_at, '') "
                                     "FROM image_assets WHERE id = ?"));
  sqlite::Statement& stmt = *prepared;
  stmt.Reset();
  stmt.Bind(1, asset_id);
  FACEFILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<AssetView>();
  AssetView a;
  a.id = stmt.Int(0);
  a.path = stmt.Text(1);
  a.width = static_cast<int>(stmt.Int(2));
  a.height = static_cast<int>(stmt.Int(3));
  a.file_size = stmt.Int(4);
  a.file_modified_at = stmt.Text(5);
  stmt.Reset();
  return std::optional<AssetView>(std::move(a));
}

}  // namespace

Result<std::unique_ptr<CatalogView>> OpenSqliteCatalogView(const std::string& catalog_url) {
  FACEFILL_ASSIGN_OR_RETURN(auto catalog, people::PeopleCatalog::Open(catalog_url));
  return std::unique_ptr<CatalogView>(new SqliteCatalogView(std::move(catalog)));
}

}  // namespace facefill::web
