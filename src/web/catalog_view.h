// What the web pages read from a catalog: the people, faces of a cluster, of a photo, unclustered faces, one face and
// one asset, by id only. Two implementations, one per backend: the embedded SQLite catalog (sqlite_catalog_view.cc)
// and a PostgreSQL catalog, the image-search service's database among them (pg_catalog_view.cc). Both only read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "facefill/face.h"
#include "facefill/people.h"
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
  std::string cluster_id;   // empty: none (on the service's database, its noise marker "-1" too)
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

// The orders the pages show faces in, the same SQL on both backends: a person's and the unclustered faces best first,
// a photo's from left to right.
inline constexpr char kBestFacesFirst[] =
    " ORDER BY COALESCE(f.quality_score, 0) DESC, f.detection_confidence DESC, f.id";
inline constexpr char kLeftToRight[] = " ORDER BY f.bbox_x, f.bbox_y, f.id";

// Thread-safe.
class CatalogView {
 public:
  // The view of an embedded catalog ("sqlite:...") or a PostgreSQL one ("postgresql://...").
  static Result<std::unique_ptr<CatalogView>> Open(const std::string& catalog_url);
  virtual ~CatalogView() = default;

  // The clusters, largest first, with their named persons (facefill::ListPeople's listing).
  virtual Result<std::vector<PeopleCluster>> People() = 0;
  virtual Result<std::vector<FaceView>> FacesOfCluster(const std::string& cluster_id) = 0;
  // Up to `limit` faces without a cluster, best first; `total` receives how many there are.
  virtual Result<std::vector<FaceView>> UnclusteredFaces(int limit, int64_t* total) = 0;
  virtual Result<std::vector<FaceView>> FacesOfAsset(int64_t asset_id) = 0;
  // Not found (nullopt) for an id that cannot be one of the catalog's.
  virtual Result<std::optional<FaceView>> Face(const std::string& face_id) = 0;
  virtual Result<std::optional<AssetView>> Asset(int64_t asset_id) = 0;
};

Result<std::unique_ptr<CatalogView>> OpenSqliteCatalogView(const std::string& catalog_url);
Result<std::unique_ptr<CatalogView>> OpenPostgresCatalogView(const std::string& catalog_url);

}  // namespace facefill::web
