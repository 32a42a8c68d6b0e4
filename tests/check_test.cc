// `check` reads both id listings a page at a time: with more ids than a page, on the SQLite catalog with its own
// vectors and with a loopback Qdrant, it still finds a planted orphan vector and a face whose vector is missing.
#include <gtest/gtest.h>

#include <algorithm>

#include "facefill/backfill.h"
#include "facefill/search.h"
#include "facefill/stores.h"
#include "fake_qdrant.h"
#include "forwarding_catalog.h"
#include "test_support.h"

namespace facefill {
namespace {

using testing::FakeQdrant;
using testing::TempDir;

constexpr int kDimension = 8;
constexpr int kFaces = 11;
constexpr int kPageSize = 3;

// Counts the pages the check asks the catalog for, and their largest size.
class CountingCatalog final : public testing::ForwardingCatalog {
 public:
  using ForwardingCatalog::ForwardingCatalog;
  Result<IdPage> ListPointIds(const std::string& cursor, int limit) override {
    ++pages;
    largest_page = std::max(largest_page, limit);
    return ForwardingCatalog::ListPointIds(cursor, limit);
  }
  int pages = 0;
  int largest_page = 0;
};

// The catalog holds kFaces faces (one per asset); the vector store holds all their vectors but the first face's,
// and one vector whose face is not in the catalog.
struct Planted {
  std::string face_without_vector;
  std::string vector_without_face;
};

Planted StoreFacesWithTwoDifferences(Stores& stores) {
  std::vector<AssetRecord> assets(kFaces);
  for (int i = 0; i < kFaces; ++i) {
    assets[i].path = "/photos/" + std::to_string(i) + ".jpg";
    assets[i].file_size = 100 + i;
    assets[i].file_modified_at = 1700000000;
  }
  ScanCounts counts;
  EXPECT_TRUE(stores.catalog->UpsertAssets(assets, &counts).ok());
  auto pending = stores.catalog->ListPending({.limit = kFaces});
  EXPECT_TRUE(pending.ok() && pending->size() == static_cast<size_t>(kFaces));
  std::vector<ScanOutcome> outcomes;
  std::vector<FaceRecord> faces;
  for (const auto& asset : *pending) {
    FaceRecord face;
    face.asset_id = asset.id;
    face.bbox_w = face.bbox_h = 10;
    face.id = face.point_id = FaceId(asset.id, 0, 0, 10, 10, "test");
    face.detection_confidence = 0.9f;
    face.embedding.assign(kDimension, 0.0f);
    face.embedding[asset.id % kDimension] = 1.0f;
    faces.push_back(face);
    ScanOutcome outcome;
    outcome.asset = asset;
    outcome.faces = {face};
    outcomes.push_back(std::move(outcome));
  }
  EXPECT_TRUE(stores.catalog->CommitScans(outcomes, "test", "", nullptr).ok());
  FaceRecord orphan = faces.back();
  orphan.id = orphan.point_id = FaceId(999999, 1, 1, 10, 10, "test");
  std::vector<const FaceRecord*> written = {&orphan};
  for (size_t i = 1; i < faces.size(); ++i) written.push_back(&faces[i]);
  EXPECT_TRUE(stores.vectors->Prepare(kDimension).ok());
  EXPECT_TRUE(stores.vectors->Upsert(written).ok());
  return {faces.front().point_id, orphan.point_id};
}

void ExpectFound(const Result<ConsistencyReport>& report, const Planted& planted) {
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->faces_without_vectors, std::vector<std::string>{planted.face_without_vector});
  EXPECT_EQ(report->vectors_without_faces, std::vector<std::string>{planted.vector_without_face});
  EXPECT_TRUE(report->assets_missing_faces.empty());
}

TEST(PagedCheckTest, FindsAnOrphanAndAMissingVectorAcrossSqlitePages) {
  TempDir dir;
  auto stores = OpenStores("sqlite:" + (dir / "facefill.db").string(), "");
  ASSERT_TRUE(stores.ok()) << stores.status().ToString();
  const Planted planted = StoreFacesWithTwoDifferences(*stores);
  CountingCatalog catalog(*stores->catalog);
  ExpectFound(CheckConsistency(catalog, *stores->vectors, {.page_size = kPageSize}), planted);
  EXPECT_GE(catalog.pages, (kFaces + kPageSize - 1) / kPageSize) << "the catalog's ids were read in pages";
  EXPECT_EQ(catalog.largest_page, kPageSize);
  // The same answer in one page, and --fix removes the orphan while paging.
  ExpectFound(CheckConsistency(*stores->catalog, *stores->vectors, {.page_size = 1000}), planted);
  ASSERT_TRUE(CheckConsistency(*stores->catalog, *stores->vectors, {.fix = true, .page_size = kPageSize}).ok());
  auto after = CheckConsistency(*stores->catalog, *stores->vectors, {.page_size = kPageSize});
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->vectors_without_faces.empty());
  EXPECT_EQ(after->faces_without_vectors, std::vector<std::string>{planted.face_without_vector});
}

TEST(PagedCheckTest, ScrollsQdrantAPageAtATime) {
  FakeQdrant server;
  TempDir dir;
  auto stores = OpenStores("sqlite:" + (dir / "facefill.db").string(), server.url("faces"));
  ASSERT_TRUE(stores.ok()) << stores.status().ToString();
  const Planted planted = StoreFacesWithTwoDifferences(*stores);
  const int scrolls_before = server.CountRequests("/points/scroll");
  ExpectFound(CheckConsistency(*stores->catalog, *stores->vectors, {.page_size = kPageSize}), planted);
  EXPECT_GE(server.CountRequests("/points/scroll") - scrolls_before, (kFaces + kPageSize - 1) / kPageSize)
      << "Qdrant was scrolled a page at a time";
}

TEST(PagedCheckTest, APageSizeBelowOneIsRefused) {
  TempDir dir;
  auto stores = OpenStores("sqlite:" + (dir / "facefill.db").string(), "");
  ASSERT_TRUE(stores.ok());
  auto report = CheckConsistency(*stores->catalog, *stores->vectors, {.page_size = 0});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace facefill
