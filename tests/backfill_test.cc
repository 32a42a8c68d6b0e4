// The embedded backfill end to end on real photos and real models: stored faces equal `detect`'s, idempotency,
// rescans keep ids, broken files are recorded and lose nothing, batch size does not change results.
#include "facefill/backfill.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <set>

#include "facefill/library_scan.h"
#include "facefill/search.h"
#include "test_support.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using testing::DefaultPackDir;
using testing::SharedDir;
using testing::TempDir;

// Every face row with its vector, keyed by id, for comparing runs.
struct StoredRow {
  int64_t asset_id;
  int x, y, w, h;
  std::vector<float> embedding;
};
std::map<std::string, StoredRow> ReadRows(const fs::path& db_path) {
  sqlite3* db = nullptr;
  sqlite3_open(db_path.c_str(), &db);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT f.id, f.asset_id, f.bbox_x, f.bbox_y, f.bbox_w, f.bbox_h, v.embedding FROM "
                     "face_instances f LEFT JOIN facefill_face_vectors v ON v.face_id = f.qdrant_point_id",
                     -1, &stmt, nullptr);
  std::map<std::string, StoredRow> rows;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    StoredRow r{sqlite3_column_int64(stmt, 1), sqlite3_column_int(stmt, 2), sqlite3_column_int(stmt, 3),
                sqlite3_column_int(stmt, 4),   sqlite3_column_int(stmt, 5), {}};
    const auto* blob = static_cast<const float*>(sqlite3_column_blob(stmt, 6));
    r.embedding.assign(blob, blob + sqlite3_column_bytes(stmt, 6) / sizeof(float));
    rows[reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))] = r;
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

std::map<int64_t, std::string> ReadAssetPaths(const fs::path& db_path) {
  sqlite3* db = nullptr;
  sqlite3_open(db_path.c_str(), &db);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT id, path FROM image_assets", -1, &stmt, nullptr);
  std::map<int64_t, std::string> paths;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    paths[sqlite3_column_int64(stmt, 0)] = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return paths;
}

int64_t CountRows(const fs::path& db_path, const std::string& table) {
  sqlite3* db = nullptr;
  sqlite3_open(db_path.c_str(), &db);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, ("SELECT COUNT(*) FROM " + table).c_str(), -1, &stmt, nullptr);
  sqlite3_step(stmt);
  int64_t n = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

class BackfillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
    FACEFILL_REQUIRE_PATH(DefaultPackDir(), "the default model pack (scripts/setup.sh)");
    analyzer_ = testing::OpenDefaultAnalyzer();
    ASSERT_NE(analyzer_, nullptr);
  }

  // Opens catalog + vectors at db_path.
  void Open(const fs::path& db_path) {
    auto catalog = OpenCatalog("sqlite:" + db_path.string());
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    catalog_ = std::move(catalog).value();
    auto vectors = OpenVectorStore("", "sqlite:" + db_path.string());
    ASSERT_TRUE(vectors.ok()) << vectors.status().ToString();
    vectors_ = std::move(vectors).value();
  }

  BackfillReport Backfill(BackfillOptions options = {}) {
    auto report = RunBackfill(*catalog_, *vectors_, *analyzer_, options);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : BackfillReport{};
  }

  std::unique_ptr<FaceAnalyzer> analyzer_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<VectorStore> vectors_;
};

TEST_F(BackfillTest, StoresExactlyTheFacesDetectFindsAndSearchFindsThePerson) {
  TempDir dir;
  Open(dir / "facefill.db");
  auto scanned = ScanLibrary(SharedDir() / "images", catalog_.get());
  ASSERT_TRUE(scanned.ok()) << scanned.status().ToString();
  EXPECT_GE(scanned->counts.added, 50);
  auto report = Backfill();
  EXPECT_EQ(report.progress.processed, scanned->counts.added);
  EXPECT_EQ(report.progress.errors, 0) << "every shared photo decodes";

  // What `detect` finds in each photo, through the service's filters, as integer boxes.
  std::map<std::string, std::multiset<std::tuple<int, int, int, int>>> expected, stored;
  BackfillOptions filters;
  for (const auto& entry : fs::recursive_directory_iterator(SharedDir() / "images")) {
    if (!entry.is_regular_file()) continue;
    auto image = DecodeImageFile(entry.path());
    ASSERT_TRUE(image.ok());
    auto faces = analyzer_->Analyze(image->bgr, false);
    ASSERT_TRUE(faces.ok());
    for (const auto& f : *faces) {
      int x1 = static_cast<int>(f.detection.box.x1), y1 = static_cast<int>(f.detection.box.y1);
      int w = static_cast<int>(f.detection.box.x2) - x1, h = static_cast<int>(f.detection.box.y2) - y1;
      if (f.detection.score < filters.min_confidence || w < filters.min_face_size || h < filters.min_face_size)
        continue;
      expected[entry.path().lexically_normal().string()].insert({x1, y1, w, h});
    }
  }
  auto ids = catalog_->AllPointIds();
  ASSERT_TRUE(ids.ok());
  auto faces = catalog_->FacesByPointIds(*ids);
  ASSERT_TRUE(faces.ok());
  for (const auto& f : *faces) stored[f.asset_path].insert({f.bbox_x, f.bbox_y, f.bbox_w, f.bbox_h});
  EXPECT_EQ(stored, expected);
  EXPECT_EQ(*vectors_->Count(), static_cast<int64_t>(ids->size())) << "one vector per face";
  auto check = CheckConsistency(*catalog_, *vectors_, false);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->clean());

  // obama2 against the library: the best matches other than obama2 itself are Obama's photos.
  auto query = DecodeImageFile(SharedDir() / "images/obama/obama2.jpg");
  ASSERT_TRUE(query.ok());
  auto results = SearchByImage(*analyzer_, *catalog_, *vectors_, query->bgr, {5, 0.0f, 0.5f});
  ASSERT_TRUE(results.ok());
  ASSERT_EQ(results->size(), 1u);
  int obama_hits = 0;
  for (const auto& hit : (*results)[0].hits) {
    EXPECT_NE(hit.face.asset_path.find("obama"), std::string::npos) << hit.face.asset_path << " ranked in the top 5";
    obama_hits += hit.face.asset_path.find("obama2") == std::string::npos;
  }
  EXPECT_GE(obama_hits, 3);
}

TEST_F(BackfillTest, SecondRunAddsNothingAndRescanKeepsEveryId) {
  TempDir dir;
  Open(dir / "facefill.db");
  ASSERT_TRUE(ScanLibrary(SharedDir() / "images/group", catalog_.get()).ok());
  Backfill();
  const auto first = ReadRows(dir / "facefill.db");
  ASSERT_GT(first.size(), 30u);
  auto again = Backfill();
  EXPECT_EQ(again.progress.processed, 0);
  EXPECT_EQ(CountRows(dir / "facefill.db", "face_instances"), static_cast<int64_t>(first.size()));
  EXPECT_EQ(CountRows(dir / "facefill.db", "facefill_face_vectors"), static_cast<int64_t>(first.size()));
  // Scanning the unchanged library again changes nothing either.
  auto rescan_files = ScanLibrary(SharedDir() / "images/group", catalog_.get());
  ASSERT_TRUE(rescan_files.ok());
  EXPECT_EQ(rescan_files->counts.added + rescan_files->counts.refreshed, 0);
  BackfillOptions rescan;
  rescan.rescan = true;
  auto redone = Backfill(rescan);
  EXPECT_GT(redone.progress.processed, 0);
  const auto second = ReadRows(dir / "facefill.db");
  ASSERT_EQ(second.size(), first.size());
  for (const auto& [id, row] : first) EXPECT_TRUE(second.count(id)) << "face " << id << " lost its id on rescan";
}

TEST_F(BackfillTest, BatchSizeOneAndSixteenGiveTheSameFaces) {
  TempDir dir;
  std::map<std::string, StoredRow> runs[2];
  int i = 0;
  for (int batch : {1, 16}) {
    const fs::path db = dir / ("b" + std::to_string(batch) + ".db");
    Open(db);
    ASSERT_TRUE(ScanLibrary(SharedDir() / "images/group", catalog_.get()).ok());
    BackfillOptions options;
    options.faces_per_call = batch;
    Backfill(options);
    runs[i++] = ReadRows(db);
  }
  ASSERT_EQ(runs[0].size(), runs[1].size());
  for (const auto& [id, row] : runs[0]) {
    ASSERT_TRUE(runs[1].count(id)) << id;
    const auto& other = runs[1].at(id);
    EXPECT_EQ(std::tie(row.x, row.y, row.w, row.h), std::tie(other.x, other.y, other.w, other.h));
    ASSERT_EQ(row.embedding.size(), other.embedding.size());
    for (size_t k = 0; k < row.embedding.size(); ++k) EXPECT_NEAR(row.embedding[k], other.embedding[k], 1e-4);
  }
}

// Detection batched across images (a detector made batch-capable by `models batchify`) stores exactly the faces of
// one image per detector call, on every shared photo.
class BatchedDetectionBackfillTest : public BackfillTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(BatchedDetectionBackfillTest, OneAndEightImagesPerDetectCallGiveTheSameFaces) {
  TempDir dir;
  analyzer_ =
      testing::OpenDefaultAnalyzer(testing::BatchifiedCopy(SharedDir() / "models/scrfd" / (GetParam() + ".onnx"), dir));
  ASSERT_NE(analyzer_, nullptr);
  ASSERT_GT(analyzer_->detector().batch_limit(), 1) << analyzer_->detector().Describe();
  std::map<std::string, StoredRow> runs[2];
  BackfillReport reports[2];
  int i = 0;
  for (int images : {1, 8}) {
    const fs::path db = dir / ("i" + std::to_string(images) + ".db");
    Open(db);
    ASSERT_TRUE(ScanLibrary(SharedDir() / "images", catalog_.get()).ok());
    BackfillOptions options;
    options.images_per_detect_call = images;
    options.inference_threads = 1;  // decoding outpaces one inference thread, so images wait and calls fill
    reports[i] = Backfill(options);
    runs[i++] = ReadRows(db);
  }
  EXPECT_EQ(reports[0].detect_calls, reports[0].progress.processed - reports[0].progress.errors);
  EXPECT_LT(reports[1].detect_calls * 2, reports[1].progress.processed) << "calls held more than two images";
  EXPECT_EQ(reports[0].progress.faces, reports[1].progress.faces);
  ASSERT_GT(runs[0].size(), 200u);
  ASSERT_EQ(runs[0].size(), runs[1].size());
  for (const auto& [id, row] : runs[0]) {
    ASSERT_TRUE(runs[1].count(id)) << id;
    const auto& other = runs[1].at(id);
    EXPECT_EQ(std::tie(row.asset_id, row.x, row.y, row.w, row.h),
              std::tie(other.asset_id, other.x, other.y, other.w, other.h));
    ASSERT_EQ(row.embedding.size(), other.embedding.size());
    EXPECT_GT(CosineSimilarity(row.embedding, other.embedding), 0.9999f) << id;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, BatchedDetectionBackfillTest, ::testing::Values("det_500m", "det_2.5g"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           std::string name = param_info.param;
                           for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });

// The backfill runs the analyzer's own detect -> align -> embed: every stored vector is (to the rounding of a
// batched call) the one Analyze gives a face of the same decoded image.
TEST_F(BackfillTest, StoredVectorsAreTheOnesAnalyzeGives) {
  TempDir dir;
  const fs::path db = dir / "facefill.db";
  Open(db);
  ASSERT_TRUE(ScanLibrary(SharedDir() / "images/group", catalog_.get()).ok());
  Backfill();
  const auto paths = ReadAssetPaths(db);
  const auto rows = ReadRows(db);
  ASSERT_GT(rows.size(), 30u);
  std::map<int64_t, std::vector<AnalyzedFace>> analyzed;
  for (const auto& [id, row] : rows) {
    auto& faces = analyzed[row.asset_id];
    if (faces.empty()) {
      auto image = DecodeImageFile(paths.at(row.asset_id), BackfillOptions().decode);
      ASSERT_TRUE(image.ok()) << paths.at(row.asset_id);
      auto result = analyzer_->Analyze(image->bgr);
      ASSERT_TRUE(result.ok()) << result.status().ToString();
      faces = std::move(result).value();
    }
    float best = -1;
    for (const auto& f : faces) best = std::max(best, CosineSimilarity(f.embedding, row.embedding));
    EXPECT_GT(best, 0.9999f) << "face " << id << " of " << paths.at(row.asset_id);
  }
}

TEST_F(BackfillTest, SequentialBaselineStoresTheSameFaces) {
  TempDir dir;
  std::map<std::string, StoredRow> runs[2];
  for (int sequential : {0, 1}) {
    const fs::path db = dir / ("s" + std::to_string(sequential) + ".db");
    Open(db);
    ASSERT_TRUE(ScanLibrary(SharedDir() / "images/obama", catalog_.get()).ok());
    BackfillOptions options;
    options.sequential = sequential == 1;
    auto report = Backfill(options);
    EXPECT_EQ(report.progress.processed, 6);
    runs[sequential] = ReadRows(db);
  }
  ASSERT_EQ(runs[0].size(), runs[1].size());
  for (const auto& [id, row] : runs[0]) EXPECT_TRUE(runs[1].count(id)) << id;
}

TEST_F(BackfillTest, CheckFindsDamageAndFixRepairsItWithTheNextBackfill) {
  TempDir dir;
  const fs::path db_path = dir / "facefill.db";
  Open(db_path);
  ASSERT_TRUE(ScanLibrary(SharedDir() / "images/obama", catalog_.get()).ok());
  Backfill();
  const auto before = ReadRows(db_path);
  // Damage: a vector lost, a face row lost, an orphan vector added.
  sqlite3* db = nullptr;
  sqlite3_open(db_path.c_str(), &db);
  const std::string first = before.begin()->first, last = before.rbegin()->first;
  ASSERT_EQ(sqlite3_exec(db, ("DELETE FROM facefill_face_vectors WHERE face_id = '" + first + "'").c_str(), nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, ("DELETE FROM face_instances WHERE id = '" + last + "'").c_str(), nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  auto report = CheckConsistency(*catalog_, *vectors_, false);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->faces_without_vectors, std::vector<std::string>{first});
  EXPECT_EQ(report->vectors_without_faces, std::vector<std::string>{last});
  EXPECT_EQ(report->assets_missing_faces.size(), 1u);
  ASSERT_TRUE(CheckConsistency(*catalog_, *vectors_, true).ok());
  auto repaired = Backfill();
  EXPECT_EQ(repaired.progress.processed, 2) << "only the two damaged assets are redone";
  auto after = CheckConsistency(*catalog_, *vectors_, false);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->clean());
  EXPECT_EQ(ReadRows(db_path).size(), before.size());
}

TEST_F(BackfillTest, SymlinksOutOfTheLibraryAreRefusedAndRecorded) {
  TempDir dir;
  const fs::path library = dir / "library", outside = dir / "outside";
  fs::create_directories(library);
  fs::create_directories(outside);
  fs::copy_file(SharedDir() / "images/obama/obama.jpg", library / "obama.jpg");
  fs::copy_file(SharedDir() / "images/biden/biden.jpg", outside / "secret.jpg");
  fs::create_symlink(outside / "secret.jpg", library / "escape.jpg");
  fs::create_symlink(library / "obama.jpg", library / "alias.jpg");  // inside the root: allowed
  fs::create_directories(library / "sub");
  fs::create_symlink("../../outside/secret.jpg", library / "sub" / "dotdot.jpg");
  Open(dir / "facefill.db");
  ASSERT_TRUE(ScanLibrary(library, catalog_.get()).ok());
  auto report = Backfill();
  EXPECT_EQ(report.progress.processed, 4);
  EXPECT_EQ(report.progress.errors, 2);
  EXPECT_EQ(report.errors_by_reason["permission_denied"], 2);
  EXPECT_EQ(report.progress.faces, 2) << "obama.jpg and its in-library alias";
  auto stats = catalog_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->errors_by_reason["permission_denied"], 2);
}

// Runs `body` as an unprivileged user in a child process (root reads files whatever their mode); returns its exit.
int RunUnprivileged(const std::function<int()>& body) {
  return testing::WaitExit(testing::SpawnFunction([&] {
    if (setgid(65534) != 0 || setuid(65534) != 0) return 90;
    return body();
  }));
}

TEST_F(BackfillTest, BrokenFilesAreRecordedWithReasonsAndNothingElseIsLost) {
  TempDir dir;
  chmod(dir.path().c_str(), 0777);
  const fs::path library = dir / "library";
  fs::create_directories(library);
  for (const char* photo : {"obama/obama.jpg", "biden/biden.jpg", "group/insightface_t1.jpg"}) {
    fs::copy_file(SharedDir() / "images" / photo, library / fs::path(photo).filename());
  }
  const auto jpeg = testing::ReadBytes(SharedDir() / "images/obama/obama2.jpg");
  testing::WriteBytes(library / "truncated.jpg", std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + jpeg.size() / 2));
  testing::WriteBytes(library / "zero.jpg", {});
  std::string text = "just some notes\n";
  testing::WriteBytes(library / "notes.jpg", std::vector<uint8_t>(text.begin(), text.end()));
  fs::copy_file(SharedDir() / "images/obama/obama_32bit_rgba.png", library / "png_named.jpg");
  std::vector<uint8_t> bomb;  // a small baseline JPEG whose SOF0 header claims 60000 x 60000 pixels
  cv::imencode(".jpg", cv::Mat(64, 64, CV_8UC3, cv::Scalar::all(128)), bomb);
  for (size_t i = 2; i + 9 < bomb.size(); ++i) {
    if (bomb[i] == 0xFF && bomb[i + 1] == 0xC0) {
      bomb[i + 5] = 0xEA, bomb[i + 6] = 0x60, bomb[i + 7] = 0xEA, bomb[i + 8] = 0x60;
      break;
    }
  }
  testing::WriteBytes(library / "bomb.jpg", bomb);
  testing::WriteBytes(library / "deleted.jpg", jpeg);
  testing::WriteBytes(library / "locked.jpg", jpeg);
  chmod((library / "locked.jpg").c_str(), 0);
  for (const auto& entry : fs::directory_iterator(library)) chmod(entry.path().c_str(), 0644);
  chmod((library / "locked.jpg").c_str(), 0);
  chmod(library.c_str(), 0777);

  const fs::path db = dir / "facefill.db";
  Open(db);
  ASSERT_TRUE(ScanLibrary(library, catalog_.get()).ok());
  fs::remove(library / "deleted.jpg");
  catalog_.reset();
  vectors_.reset();
  chmod(db.c_str(), 0666);
  // The backfill runs as an unprivileged user so that the locked file really cannot be read.
  int exit_code = RunUnprivileged([&] {
    auto catalog = OpenCatalog("sqlite:" + db.string());
    auto vectors = OpenVectorStore("", "sqlite:" + db.string());
    if (!catalog.ok() || !vectors.ok()) return 10;
    auto report = RunBackfill(**catalog, **vectors, *analyzer_, {});
    return report.ok() ? 0 : 11;
  });
  ASSERT_EQ(exit_code, 0);
  Open(db);
  auto stats = catalog_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->assets, 10);
  EXPECT_EQ(stats->scanned, 4) << "the three photos and the PNG named .jpg";
  EXPECT_EQ(stats->errors, 6);
  const std::map<std::string, int64_t> expected_reasons = {{"corrupt_image", 1},      {"empty_file", 1},
                                                           {"unsupported_format", 1}, {"image_too_large", 1},
                                                           {"not_found", 1},          {"permission_denied", 1}};
  EXPECT_EQ(stats->errors_by_reason, expected_reasons);
  EXPECT_EQ(stats->faces, 1 + 1 + 6 + 1);
  auto check = CheckConsistency(*catalog_, *vectors_, false);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->clean());
  // Retrying errors after the file is restored picks it up; the rest stays as it was.
  testing::WriteBytes(library / "deleted.jpg", jpeg);
  BackfillOptions retry;
  retry.retry_errors = true;
  auto report = Backfill(retry);
  EXPECT_EQ(report.progress.processed, 6);
  EXPECT_EQ(report.progress.errors, 4) << "locked is readable by root here; the other four stay broken";
  EXPECT_EQ(CountRows(db, "face_instances"), 9 + 1 + 1);
}

}  // namespace
}  // namespace facefill
