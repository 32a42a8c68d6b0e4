// facefill on the image-search service's own database: a real PostgreSQL loaded with the service's schema at its
// Alembic head (../shared/service/schema.sql) and seeded as the service leaves it (faces with random ids and point
// ids, some labelled with a person or a cluster, each with its point in a loopback Qdrant that keeps state). `scan`,
// `backfill` and `backfill --rescan` through the CLI, as a user runs them: no labelled face deleted, no face with two
// points, no payload field of the service changed, the service's schema byte-for-byte the same, per-file errors for
// paths it cannot store; an empty database refused unless --standalone, which creates the service's tables exactly;
// the model guard.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <random>
#include <set>

#include "core/landmarks_json.h"
#include "facefill/align.h"
#include "facefill/image.h"
#include "facefill/stores.h"
#include "fake_qdrant.h"
#include "test_support.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::FakeQdrant;
using testing::SharedDir;
using testing::TempDir;

std::string SchemaFile() { return (SharedDir() / "service" / "schema.sql").string(); }

// Runs a shell command; its exit status and everything it printed.

using testing::ShellQuote;

// pg_dump --schema-only of `tables` (or of the whole "public" schema), without the lines that differ on every run.
std::string SchemaDump(const std::string& url, const std::vector<std::string>& tables = {}) {
  std::string command = "pg_dump --schema-only --no-owner --no-privileges";
  if (tables.empty()) command += " --schema=public";
  for (const auto& t : tables) command += " -t " + ShellQuote(t);
  auto [status, out] = testing::RunShell(command + " " + ShellQuote(url) + " 2>&1");
  EXPECT_EQ(status, 0) << out;
  std::string kept;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("\\restrict", 0) == 0 || line.rfind("\\unrestrict", 0) == 0) continue;  // a random key per dump
    if (line.rfind("-- Dumped", 0) == 0) continue;
    kept += line + "\n";
  }
  return kept;
}

int64_t QueryInt(pqxx::nontransaction& txn, const std::string& sql) { return txn.exec1(sql)[0].as<int64_t>(); }

// The CLI's exit status and what it printed.
testing::ChildResult Cli(const std::vector<std::string>& args) { return testing::RunQuoted(FACEFILL_CLI, args); }

std::string RandomUuid(std::mt19937& random) {
  std::uniform_int_distribution<int> hex(0, 15);
  std::string s = "xxxxxxxx-xxxx-4xxx-axxx-xxxxxxxxxxxx";
  for (auto& c : s) {
    if (c == 'x') c = "0123456789abcdef"[hex(random)];
  }
  return s;
}

// One seeded face as the service wrote it.
struct ServiceFace {
  std::string id, point_id;
  int64_t asset_id = 0;
  std::optional<std::string> person_id, cluster_id;
  bool phantom = false;  // a box where no face is: never re-detected
};

class ServiceDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos and the service's schema)");
    FACEFILL_REQUIRE_PATH(fs::path(SchemaFile()), "../shared/service/schema.sql");
    FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
    ASSERT_NE(testing::Services(), nullptr);
    url_ = testing::FreshServiceDatabase("service");
    public_schema_ = SchemaDump(url_);
  }

  // The service's settings file, pointing at this database (in its asyncpg form) and the loopback Qdrant.
  std::string ServiceEnv(const FakeQdrant& qdrant) {
    const std::string qdrant_url = qdrant.url("faces");  // qdrant://127.0.0.1:PORT/faces
    const std::string http = "http://" + qdrant_url.substr(9, qdrant_url.rfind('/') - 9);
    std::ofstream env(dir_ / "service.env");
    env << "# the service's .env\nDATABASE_URL=postgresql+asyncpg" << url_.substr(url_.find("://"))
        << "\nexport QDRANT_URL=\"" << http << "\"\nQDRANT_FACE_COLLECTION=faces  # its default\n";
    return (dir_ / "service.env").string();
  }

  // Copies photos into the library folder; returns their paths.
  std::vector<fs::path> AddPhotos(const std::string& folder) {
    std::vector<fs::path> paths;
    fs::create_directories(dir_ / "library");
    for (const auto& e : fs::directory_iterator(SharedDir() / "images" / folder)) {
      const fs::path to = dir_ / "library" / (folder + "_" + e.path().filename().string());
      fs::copy_file(e.path(), to);
      paths.push_back(fs::canonical(to));
    }
    std::sort(paths.begin(), paths.end());
    return paths;
  }

  // Seeds assets and faces as the service leaves them: for each photo, its detected faces (embedded with the given
  // analyzer, or random vectors for "another model"), random ids and point ids, the service's payload; every
  // other face labelled with a person, every third with a cluster; plus two phantom faces on the first photo, one
  // labelled and one not, and one face whose point the service lost.
  void SeedServiceFaces(const std::vector<fs::path>& photos, FakeQdrant& qdrant, bool random_vectors) {
    auto analyzer = testing::OpenDefaultAnalyzer();
    ASSERT_NE(analyzer, nullptr);
    std::mt19937 random(7);
    std::normal_distribution<float> normal;
    qdrant.CreateCollection("faces", 512);
    pqxx::connection conn(url_);
    pqxx::work txn(conn);
    const std::string person = RandomUuid(random);
    txn.exec_params("INSERT INTO persons(id, name) VALUES ($1, 'Barack')", person);
    int n = 0, phantoms = 0;
    for (const auto& path : photos) {
      DecodeOptions full;
      full.reduce = 1;
      auto image = DecodeImageFile(path, full);
      ASSERT_TRUE(image.ok()) << path;
      struct stat st {};
      ASSERT_EQ(stat(path.c_str(), &st), 0);
      // The service keeps fractions of a second; the file's size and time are what scan sees.
      const int64_t asset = txn.exec_params1(
                                   "INSERT INTO image_assets(path, width, height, file_size, mime_type, "
                                   "file_modified_at) VALUES ($1, $2, $3, $4, 'image/jpeg', to_timestamp($5 + 0.25)) "
                                   "RETURNING id",
                                   path.string(), image->width, image->height, static_cast<int64_t>(st.st_size),
                                   static_cast<int64_t>(st.st_mtime))[0]
                                .as<int64_t>();
      auto faces = analyzer->Analyze(image->bgr);
      ASSERT_TRUE(faces.ok());
      std::vector<std::tuple<BoxF, FiveLandmarks, float, Embedding, bool>> rows;
      for (const auto& f : *faces) {
        if (f.detection.score < 0.5f || f.detection.box.x2 - f.detection.box.x1 < 20) continue;
        rows.emplace_back(f.detection.box, f.detection.landmarks, f.detection.score, f.embedding, false);
      }
      if (n == 0) {
        FiveLandmarks none{};
        rows.emplace_back(BoxF{0, 0, 30, 30}, none, 0.7f, Embedding(512, 0.0442f), true);
        rows.emplace_back(BoxF{0, 40, 30, 70}, none, 0.6f, Embedding(512, 0.0442f), true);
      }
      for (auto& [box, landmarks, score, embedding, phantom] : rows) {
        ServiceFace face{RandomUuid(random), RandomUuid(random), asset, {}, {}, phantom};
        if (random_vectors) {
          float norm = 0;
          for (auto& v : embedding) {
            v = normal(random);
            norm += v * v;
          }
          for (auto& v : embedding) v /= std::sqrt(norm);
        }
        if (phantom) {
          if (phantoms++ == 0) face.person_id = person;  // the first labelled, the second not
        } else {
          if (n % 2 == 0) face.person_id = person;
          if (n % 3 == 0) face.cluster_id = "cluster_" + std::to_string(n);
        }
        const int x = static_cast<int>(box.x1), y = static_cast<int>(box.y1);
        const int w = static_cast<int>(box.x2) - x, h = static_cast<int>(box.y2) - y;
        txn.exec_params(
            "INSERT INTO face_instances(id, asset_id, bbox_x, bbox_y, bbox_w, bbox_h, landmarks, "
            "detection_confidence, quality_score, qdrant_point_id, cluster_id, person_id) VALUES ($1, $2, $3, $4, "
            "$5, $6, $7::jsonb, $8, 0.5, $9, $10, $11)",
            face.id, asset, x, y, w, h, phantom ? std::optional<std::string>() : LandmarksJson(landmarks).dump(), score,
            face.point_id, face.cluster_id, face.person_id);
        json payload = {{"asset_id", std::to_string(asset)},
                        {"face_instance_id", face.id},
                        {"detection_confidence", score},
                        {"quality_score", 0.5},
                        {"bbox", {{"x", x}, {"y", y}, {"w", w}, {"h", h}}},
                        {"is_prototype", n == 0},
                        {"is_assigned", face.person_id.has_value()},
                        {"taken_at", "2024-05-01T10:20:30.250000+00:00"}};
        if (face.person_id) payload["person_id"] = *face.person_id;
        if (face.cluster_id) payload["cluster_id"] = *face.cluster_id;
        if (lost_point_.empty() && !phantom && path != photos.front()) {
          lost_point_ = face.point_id;  // the service lost this one
        } else {
          qdrant.PutPoint("faces", face.point_id, embedding, payload);
        }
        seeded_.push_back(face);
        ++n;
      }
    }
    txn.commit();
  }

  // Point ids of face rows, and whether each face has exactly one point (no point under another id).
  void ExpectOnePointPerFace(FakeQdrant& qdrant) {
    pqxx::connection conn(url_);
    pqxx::nontransaction txn(conn);
    std::set<std::string> point_ids;
    for (const auto& r : txn.exec("SELECT id::text, qdrant_point_id::text FROM face_instances")) {
      point_ids.insert(r[1].as<std::string>());
      const json payload = qdrant.Payload("faces", r[1].as<std::string>());
      ASSERT_FALSE(payload.is_null()) << "face " << r[0].as<std::string>() << " has no point";
      EXPECT_EQ(payload["face_instance_id"], r[0].as<std::string>());
    }
    const auto ids = qdrant.PointIds("faces");
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), point_ids) << "every point belongs to one face row";
  }

  std::string url_;
  std::string public_schema_;
  TempDir dir_;
  std::vector<ServiceFace> seeded_;
  std::string lost_point_;
};

TEST_F(ServiceDatabaseTest, ScanBackfillAndRescanKeepTheServicesDataAndItsSchema) {
  FakeQdrant qdrant;
  const auto done = AddPhotos("obama");     // the service found these faces
  const auto pending = AddPhotos("biden");  // the service has these assets, without faces yet
  AddPhotos("celeb");                       // new files, for `scan`
  SeedServiceFaces(done, qdrant, /*random_vectors=*/false);
  {
    pqxx::connection conn(url_);
    pqxx::nontransaction txn(conn);
    for (const auto& p : pending) {
      txn.exec_params("INSERT INTO image_assets(path, file_size, file_modified_at) VALUES ($1, 1, now())", p.string());
    }
  }
  std::map<std::string, json> payload_before;
  for (const auto& f : seeded_) payload_before[f.point_id] = qdrant.Payload("faces", f.point_id);
  pqxx::connection conn(url_);
  pqxx::nontransaction txn(conn);
  const std::string assets_before =
      txn.exec1("SELECT json_agg(a ORDER BY id)::text FROM image_assets a")[0].as<std::string>();
  const std::string env = ServiceEnv(qdrant);

  // scan: new files added; the service's rows (fractional mtimes, its sizes) left exactly as they were.
  auto [scan_status, scan_out] = Cli({"scan", (dir_ / "library").string(), "--service-env", env});
  ASSERT_EQ(scan_status, 0) << scan_out;
  const int64_t celeb = static_cast<int64_t>(std::distance(fs::directory_iterator(SharedDir() / "images/celeb"), {}));
  EXPECT_NE(scan_out.find(std::to_string(celeb) + " added"), std::string::npos) << scan_out;
  const std::string assets_after_scan =
      txn.exec1("SELECT json_agg(a ORDER BY id)::text FROM image_assets a WHERE id <= " +
                std::to_string(done.size() + pending.size()))[0]
          .as<std::string>();
  EXPECT_EQ(assets_after_scan, assets_before) << "scan rewrote a column of the service's assets";

  // backfill: only assets without face rows; the vectors go to the service's collection.
  auto [fill_status, fill_out] = Cli({"backfill", "-q", "--json", "--service-env", env});
  ASSERT_EQ(fill_status, 0) << fill_out;
  const json report = json::parse(fill_out.substr(fill_out.find('{')));
  EXPECT_EQ(report["processed"].get<int64_t>(), static_cast<int64_t>(pending.size()) + celeb);
  EXPECT_GT(report["model_guard"]["compared"].get<int>(), 0) << "the collection was checked by re-embedding";
  EXPECT_GT(report["model_guard"]["median_similarity"].get<float>(), 0.9f);
  for (const auto& f : seeded_) {
    EXPECT_EQ(qdrant.Payload("faces", f.point_id), payload_before[f.point_id]) << "payload of " << f.point_id;
    EXPECT_EQ(QueryInt(txn, "SELECT COUNT(*) FROM face_instances WHERE id = '" + f.id + "' AND qdrant_point_id = '" +
                                f.point_id + "'"),
              1);
  }
  // New faces: one point each, under its qdrant_point_id, with the service's payload.
  for (const auto& r : txn.exec("SELECT f.id::text, f.qdrant_point_id::text, f.asset_id FROM face_instances f "
                                "JOIN image_assets a ON a.id = f.asset_id WHERE a.path LIKE '%biden%'")) {
    const json p = qdrant.Payload("faces", r[1].as<std::string>());
    ASSERT_FALSE(p.is_null());
    EXPECT_EQ(p["asset_id"], std::to_string(r[2].as<int64_t>()));
    EXPECT_EQ(p["is_assigned"], false);
    EXPECT_EQ(p["is_prototype"], false);
    EXPECT_TRUE(p.contains("taken_at"));
  }
  EXPECT_GT(QueryInt(txn,
                     "SELECT COUNT(*) FROM face_instances f JOIN image_assets a ON a.id = f.asset_id WHERE "
                     "a.path LIKE '%biden%'"),
            0);
  // One point per face, under its qdrant_point_id, except the seeded face whose point the service lost: without
  // --rescan facefill does not touch the service's faces.
  {
    std::set<std::string> rows;
    for (const auto& r : txn.exec("SELECT qdrant_point_id::text FROM face_instances"))
      rows.insert(r[0].as<std::string>());
    ASSERT_FALSE(lost_point_.empty());
    rows.erase(lost_point_);
    const auto ids = qdrant.PointIds("faces");
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), rows);
  }

  // backfill --rescan: labelled faces survive, matched faces keep ids and point ids and the service's payload.
  auto [rescan_status, rescan_out] = Cli({"backfill", "--rescan", "--service-env", env});
  ASSERT_EQ(rescan_status, 0) << rescan_out;
  EXPECT_NE(rescan_out.find("kept, not re-detected"), std::string::npos) << rescan_out;
  for (const auto& f : seeded_) {
    const int64_t rows = QueryInt(txn, "SELECT COUNT(*) FROM face_instances WHERE id = '" + f.id +
                                           "' AND qdrant_point_id = '" + f.point_id + "'");
    const json payload = qdrant.Payload("faces", f.point_id);
    if (f.phantom && !f.person_id && !f.cluster_id) {
      EXPECT_EQ(rows, 0) << "an unlabelled face no longer found is deleted";
      EXPECT_TRUE(payload.is_null()) << "with its point";
      continue;
    }
    EXPECT_EQ(rows, 1) << "face " << f.id << (f.phantom ? " (labelled, not re-detected)" : "") << " was lost";
    ASSERT_FALSE(payload.is_null()) << "face " << f.id << " has no point";
    for (const char* key : {"person_id", "cluster_id", "is_prototype", "is_assigned", "taken_at"}) {
      if (payload_before[f.point_id].is_null()) continue;  // the lost point: rewritten whole below
      EXPECT_EQ(payload.value(key, json()), payload_before[f.point_id].value(key, json())) << key << " of " << f.id;
    }
    EXPECT_EQ(payload.value("person_id", json()), f.person_id ? json(*f.person_id) : json()) << f.id;
  }
  EXPECT_EQ(QueryInt(txn, "SELECT COUNT(*) FROM face_instances WHERE person_id IS NOT NULL"),
            static_cast<int64_t>(std::count_if(seeded_.begin(), seeded_.end(),
                                               [](const ServiceFace& f) { return f.person_id.has_value(); })));
  ExpectOnePointPerFace(qdrant);
  auto [check_status, check_out] = Cli({"check", "--service-env", env});
  EXPECT_EQ(check_status, 0) << check_out;

  // The service's schema is exactly as its migrations left it; facefill's objects are in their own schema.
  EXPECT_EQ(SchemaDump(url_), public_schema_);
  EXPECT_EQ(QueryInt(txn,
                     "SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE "
                     "'facefill%'"),
            0);
  EXPECT_GT(QueryInt(txn, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'facefill'"), 0);
  EXPECT_EQ(QueryInt(txn, "SELECT COUNT(*) FROM pg_extension WHERE extname = 'vector'"), 0)
      << "pgvector only when asked for";
}

// The catalog, opened once, decides where the default vectors go: on the service's database its Qdrant collection
// (the catalog writes none), pgvector only when asked for by name.
TEST_F(ServiceDatabaseTest, TheDefaultVectorsOfTheServicesDatabaseAreItsCollection) {
  auto stores = OpenStores(url_, "");
  ASSERT_TRUE(stores.ok()) << stores.status().ToString();
  EXPECT_TRUE(stores->catalog->IsServiceDatabase());
  EXPECT_FALSE(stores->catalog->WritesVectors());
  EXPECT_FALSE(stores->vectors->WrittenByCatalog());
  EXPECT_NE(stores->vectors->Describe().find("Qdrant collection 'faces'"), std::string::npos)
      << stores->vectors->Describe();
  auto pgvector = OpenStores(url_, "pgvector");
  ASSERT_TRUE(pgvector.ok()) << pgvector.status().ToString();
  EXPECT_TRUE(pgvector->catalog->WritesVectors());
  EXPECT_TRUE(pgvector->vectors->WrittenByCatalog());
}

TEST_F(ServiceDatabaseTest, TheModelGuardRefusesAnotherModelsCollectionBeforeReadingAnImage) {
  FakeQdrant qdrant;
  SeedServiceFaces(AddPhotos("obama"), qdrant, /*random_vectors=*/true);
  AddPhotos("biden");
  const std::string env = ServiceEnv(qdrant);
  ASSERT_EQ(Cli({"scan", (dir_ / "library").string(), "--service-env", env}).exit_code, 0);
  auto [status, out] = Cli({"backfill", "-q", "--service-env", env});
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find("holds vectors of another model"), std::string::npos) << out;
  pqxx::connection conn(url_);
  pqxx::nontransaction txn(conn);
  EXPECT_EQ(QueryInt(txn, "SELECT COUNT(*) FROM facefill.scan_status WHERE status <> 'pending'"), 0);
  // Forced by name, it writes.
  auto [forced, forced_out] = Cli({"backfill", "-q", "--force-model", "--service-env", env});
  EXPECT_EQ(forced, 0) << forced_out;
  EXPECT_GT(QueryInt(txn, "SELECT COUNT(*) FROM facefill.scan_status WHERE status = 'done'"), 0);

  // A collection of another dimension is refused before any image is read.
  FakeQdrant small;
  small.CreateCollection("faces", 128);
  AddPhotos("celeb");  // new work for it
  ASSERT_EQ(Cli({"scan", (dir_ / "library").string(), "--db", url_, "--vectors", small.url("faces")}).exit_code, 0);
  const int64_t scanned_before = QueryInt(txn, "SELECT COUNT(*) FROM facefill.scan_status WHERE status <> 'pending'");
  auto [dim_status, dim_out] = Cli({"backfill", "-q", "--db", url_, "--vectors", small.url("faces")});
  EXPECT_NE(dim_status, 0);
  EXPECT_NE(dim_out.find("holds 128-d vectors but the model gives 512-d"), std::string::npos) << dim_out;
  EXPECT_EQ(small.CountRequests("/points?wait"), 0) << "nothing written";
  EXPECT_EQ(QueryInt(txn, "SELECT COUNT(*) FROM facefill.scan_status WHERE status <> 'pending'"), scanned_before)
      << "no image was read";
}

TEST_F(ServiceDatabaseTest, APathTooLongForTheServiceIsThatFilesErrorAlone) {
  FakeQdrant qdrant;
  fs::create_directories(dir_ / "library");
  const fs::path photo = SharedDir() / "images/obama/obama.jpg";
  for (int i = 0; i < 50; ++i) fs::copy_file(photo, dir_ / "library" / ("p" + std::to_string(i) + ".jpg"));
  fs::path deep = dir_ / "library";
  while (deep.string().size() < 600) deep /= std::string(100, 'd');
  fs::create_directories(deep);
  fs::copy_file(photo, deep / "long.jpg");
  auto [status, out] = Cli({"scan", (dir_ / "library").string(), "--service-env", ServiceEnv(qdrant), "--json"});
  EXPECT_EQ(status, 1) << "partial: one file could not be added\n" << out;
  const json report = json::parse(out.substr(out.find('{')));
  EXPECT_EQ(report["added"], 50);
  ASSERT_EQ(report["rejected"].size(), 1u);
  EXPECT_EQ(report["rejected"][0]["reason"], "path_too_long");
  pqxx::connection conn(url_);
  pqxx::nontransaction txn(conn);
  EXPECT_EQ(QueryInt(txn, "SELECT COUNT(*) FROM image_assets"), 50);
  auto [stats_status, stats_out] = Cli({"stats", "--service-env", ServiceEnv(qdrant)});
  EXPECT_NE(stats_out.find("path_too_long"), std::string::npos) << stats_out;
}

TEST(StandaloneDatabaseTest, AnEmptyDatabaseIsRefusedUnlessStandaloneWhichCreatesTheServicesTablesExactly) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (the service's schema)");
  ASSERT_NE(testing::Services(), nullptr);
  TempDir dir;
  fs::create_directories(dir / "empty");
  const std::string empty = testing::FreshPostgresDatabase("empty", /*standalone=*/false);
  auto [refused, refused_out] = Cli({"scan", (dir / "empty").string(), "--db", empty});
  EXPECT_NE(refused, 0);
  EXPECT_NE(refused_out.find("run the service's migrations first"), std::string::npos) << refused_out;
  EXPECT_NE(refused_out.find("--standalone"), std::string::npos) << refused_out;
  {
    pqxx::connection conn(empty);
    pqxx::nontransaction txn(conn);
    EXPECT_EQ(QueryInt(txn, "SELECT COUNT(*) FROM pg_tables WHERE schemaname IN ('public', 'facefill')"), 0)
        << "a refused database is left as it was";
  }
  auto [created, created_out] = Cli({"scan", (dir / "empty").string(), "--db", empty, "--standalone"});
  ASSERT_EQ(created, 0) << created_out;

  const std::string reference = testing::FreshPostgresDatabase("reference", /*standalone=*/false);
  auto [loaded, loaded_out] =
      testing::RunQuoted("psql", {"-q", "-v", "ON_ERROR_STOP=1", "-f", SchemaFile(), reference});
  ASSERT_EQ(loaded, 0) << loaded_out;
  const std::vector<std::string> tables = {"public.image_assets", "public.image_assets_id_seq", "public.face_instances",
                                           "public.persons"};
  const std::string expected = SchemaDump(reference, tables);
  EXPECT_NE(expected.find("CREATE TABLE public.face_instances"), std::string::npos);
  EXPECT_EQ(SchemaDump(empty, tables), expected);
}

}  // namespace
}  // namespace facefill
