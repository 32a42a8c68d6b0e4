// What the web pages read from an embedded catalog: faces of a cluster, of a photo, unclustered faces, one face and
// one asset, by id only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../people/people_catalog.h"
#include "facefill/face.h"
#include "facefill/status.h"

namespace facefill::web {

// A face row with what a page shows of it. Coordinates are in upright full-resolution pixels of its photo.
struct FaceView {
  std::string id;
  std::string point_id;  // its vector's id
  int64_t asset_id = 0;
  int bbox_x = 0, bbox_y = 0, bbox_w = 0, bbox_h = 0;
  float detection_confidence = 0;
  float quality_score = 0;
  std::string cluster_id;   // empty: none
  std::string person_name;  // empty: no person
  std::optional<FiveLandmarks> landmarks;
  // Of its asset: what a cached crop depends on besides the box.
  std::string path;
  int64_t file_size = 0;
  std::string file_modified_at;
};

struct AssetView {
  int64_t id = 0;
  std::string path;
  int width = 0;  // upright; 0 when the header could not be read
  int height = 0;
  int64_t file_size = 0;
  std::string file_modified_at;
};

// Thread-safe: one connection, serialised.
class CatalogView {
 public:
  static Result<std::unique_ptr<CatalogView>> Open(const std::string& catalog_url);

  Result<std::vector<FaceView>> FacesOfCluster(const std::string& cluster_id);
  // Up to `limit` faces without a cluster, best first; `total` receives how many there are.
  Result<std::vector<FaceView>> UnclusteredFaces(int limit, int64_t* total);
  Result<std::vector<FaceView>> FacesOfAsset(int64_t asset_id);
  Result<std::optional<FaceView>> Face(const std::string& face_id);
  Result<std::optional<AssetView>> Asset(int64_t asset_id);

 private:
  explicit CatalogView(std::unique_ptr<people::PeopleCatalog> catalog) : catalog_(std::move(catalog)) {}
  Result<std::vector<FaceView>> QueryFaces(const std::string& where_and_order, const std::string& text_arg,
                                           int64_t int_arg);
  // The statement for `sql`, prepared on first use: a page of a thousand crops is a thousand face lookups, and
  // parsing the query each time cost more than running it. Call with the connection's mutex held.
  Result<sqlite::Statement*> Prepared(const std::string& sql);
  std::unique_ptr<people::PeopleCatalog> catalog_;
  std::map<std::string, sqlite::Statement> statements_;  // guarded by catalog_->db().mutex()
};

}  // namespace facefill::web
