// The PostgreSQL catalog and pgvector on a real PostgreSQL 15 (started by the CTest fixture), on a database of
// facefill's own (--standalone): the same faces as the SQLite backend, the service's tables left as created,
// facefill's objects only in its own schema, pgvector search equal to exact search, leases that never hand one asset
// to two workers, and reconnecting after the server drops the connection. The image-search service's own database
// is service_db_test's.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "facefill/backfill.h"
#include "facefill/library_scan.h"
#include "facefill/search.h"
#include "facefill/stores.h"
#include "facefill/url.h"
#include "test_support.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using testing::DefaultPackDir;
using testing::FreshPostgresDatabase;
using testing::SharedDir;
using testing::TempDir;

// Everything that defines the service's two tables: columns, constraints, indexes, user triggers.
std::vector<std::string> ServiceSchema(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  std::vector<std::string> lines;
  for (const auto& r :
       txn.exec("SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || "
                "COALESCE(column_default, '') FROM information_schema.columns WHERE table_name IN ('image_assets', "
                "'face_instances') ORDER BY 1")) {
    lines.push_back(r[0].as<std::string>());
  }
  for (const auto& r :
       txn.exec("SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM "
                "pg_constraint WHERE conrelid IN ('image_assets'::regclass, 'face_instances'::regclass) ORDER BY 1")) {
    lines.push_back(r[0].as<std::string>());
  }
  for (const auto& r :
       txn.exec("SELECT indexdef FROM pg_indexes WHERE tablename IN ('image_assets', 'face_instances') ORDER BY 1")) {
    lines.push_back(r[0].as<std::string>());
  }
  // User triggers only: foreign keys add PostgreSQL's internal referential triggers, which are not part of the
  // table's definition.
  for (const auto& r :
       txn.exec("SELECT tgname FROM pg_trigger WHERE tgrelid IN ('image_assets'::regclass, 'face_instances'::regclass) "
                "AND NOT tgisinternal ORDER BY 1")) {
    lines.push_back(r[0].as<std::string>());
  }
  return lines;
}

struct StoredFaceRow {
  int64_t asset_id;
  int x, y, w, h;
  std::vector<float> embedding;
};

// face id -> row, read from the backend's tables directly.
std::map<std::string, StoredFaceRow> PostgresFaces(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  std::map<std::string, StoredFaceRow> faces;
  for (const auto& r :
       txn.exec("SELECT f.id::text, f.asset_id, f.bbox_x, f.bbox_y, f.bbox_w, f.bbox_h, v.embedding::text FROM "
                "face_instances f JOIN facefill.face_vectors v ON v.face_id = f.qdrant_point_id")) {
    auto e = nlohmann::json::parse(r[6].as<std::string>()).get<std::vector<float>>();
    faces[r[0].as<std::string>()] = {r[1].as<int64_t>(), r[2].as<int>(), r[3].as<int>(),
                                     r[4].as<int>(),     r[5].as<int>(), std::move(e)};
  }
  return faces;
}

class PostgresBackendTest : public ::testing::Test {
 protected:
  // One backfill of ../shared/images into SQLite and into PostgreSQL (on the service's own schema), for every test.
  static void SetUpTestSuite() {
    if (SharedDir().empty() || DefaultPackDir().empty() || testing::Services() == nullptr) return;
    sqlite_dir_ = new TempDir;
    pg_url_ = new std::string(FreshPostgresDatabase("backend"));
    {
      // --standalone creates the service's tables; they must stay exactly as created.
      auto created = OpenStores(*pg_url_, "", {.standalone = true});
      if (!created.ok()) {
        setup_error_ = new std::string(created.status().ToString());
        return;
      }
    }
    schema_before_ = new std::vector<std::string>(ServiceSchema(*pg_url_));
    auto analyzer = testing::OpenDefaultAnalyzer();
    for (const std::string& db : {"sqlite:" + (*sqlite_dir_ / "facefill.db").string(), *pg_url_}) {
      auto stores = OpenStores(db, "");
      if (!stores.ok()) {
        setup_error_ = new std::string(stores.status().ToString());
        return;
      }
      auto scanned = ScanLibrary(SharedDir() / "images", stores->catalog.get());
      auto report = RunBackfill(*stores->catalog, *stores->vectors, *analyzer, BackfillOptions{});
      if (!scanned.ok() || !report.ok()) {
        setup_error_ = new std::string(scanned.ok() ? report.status().ToString() : scanned.status().ToString());
        return;
      }
    }
  }

  // The suite's SQLite folder is removed (it used to be left in the temporary directory after every run).
  static void TearDownTestSuite() {
    delete sqlite_dir_;
    delete pg_url_;
    delete schema_before_;
    delete setup_error_;
    sqlite_dir_ = nullptr;
    pg_url_ = nullptr;
    schema_before_ = nullptr;
    setup_error_ = nullptr;
  }

  void SetUp() override {
    FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
    FACEFILL_REQUIRE_PATH(DefaultPackDir(), "the default model pack (scripts/setup.sh)");
    ASSERT_NE(testing::Services(), nullptr);
    ASSERT_EQ(setup_error_, nullptr) << *setup_error_;
    ASSERT_NE(pg_url_, nullptr);
  }

  static Stores Open(const std::string& db) {
    auto stores = OpenStores(db, "");
    EXPECT_TRUE(stores.ok()) << stores.status().ToString();
    return stores.ok() ? std::move(stores).value() : Stores{};
  }
  static std::string SqliteUrl() { return "sqlite:" + (*sqlite_dir_ / "facefill.db").string(); }

  static inline TempDir* sqlite_dir_ = nullptr;
  static inline std::string* pg_url_ = nullptr;
  static inline std::vector<std::string>* schema_before_ = nullptr;
  static inline std::string* setup_error_ = nullptr;
};

TEST_F(PostgresBackendTest, WritesTheSameFacesAsSqlite) {
  // SQLite: face rows and their vectors, by id.
  Stores sqlite = Open(SqliteUrl());
  auto ids = sqlite.catalog->AllPointIds();
  ASSERT_TRUE(ids.ok());
  ASSERT_GT(ids->size(), 200u);
  auto pg = PostgresFaces(*pg_url_);
  ASSERT_EQ(pg.size(), ids->size());
  auto rows = sqlite.catalog->FacesByPointIds(*ids);
  ASSERT_TRUE(rows.ok());
  for (const auto& f : *rows) {
    auto it = pg.find(f.id);
    ASSERT_NE(it, pg.end()) << "face " << f.id << " is missing in PostgreSQL";
    EXPECT_EQ(it->second.asset_id, f.asset_id);
    EXPECT_EQ(std::make_tuple(it->second.x, it->second.y, it->second.w, it->second.h),
              std::make_tuple(f.bbox_x, f.bbox_y, f.bbox_w, f.bbox_h));
  }
  // Embeddings: the SQLite store's exact search for each face's own PostgreSQL vector finds that face at ~1, and
  // the vectors agree element-wise within 1e-5.
  int compared = 0;
  for (const auto& [id, row] : pg) {
    ASSERT_EQ(row.embedding.size(), 512u);
    auto match = sqlite.vectors->Search(row.embedding, 1, -1.0f);
    ASSERT_TRUE(match.ok());
    ASSERT_EQ(match->size(), 1u);
    EXPECT_EQ(match->front().point_id, id);
    EXPECT_NEAR(match->front().similarity, 1.0f, 1e-5f);
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int>(ids->size()));

  // The rows read as the service reads them: landmarks by name, the Qdrant point id equal to the face id.
  pqxx::connection conn(*pg_url_);
  pqxx::nontransaction txn(conn);
  auto r = txn.exec1(
      "SELECT COUNT(*) FILTER (WHERE qdrant_point_id <> id), COUNT(*) FILTER (WHERE landmarks ? 'left_eye' AND "
      "landmarks ? 'mouth_right'), COUNT(*) FROM face_instances");
  EXPECT_EQ(r[0].as<int64_t>(), 0);
  EXPECT_EQ(r[1].as<int64_t>(), r[2].as<int64_t>());
}

TEST_F(PostgresBackendTest, ElementwiseEmbeddingsMatchWithin1e5) {
  auto pg = PostgresFaces(*pg_url_);
  ASSERT_FALSE(pg.empty());
  float worst = 0;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((*sqlite_dir_ / "facefill.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT face_id, embedding FROM facefill_face_vectors", -1, &stmt, nullptr),
            SQLITE_OK);
  int rows = 0;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    const std::string id = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    const auto* v = static_cast<const float*>(sqlite3_column_blob(stmt, 1));
    const int n = sqlite3_column_bytes(stmt, 1) / static_cast<int>(sizeof(float));
    ASSERT_TRUE(pg.count(id)) << id;
    ASSERT_EQ(n, static_cast<int>(pg[id].embedding.size()));
    for (int i = 0; i < n; ++i) worst = std::max(worst, std::abs(v[i] - pg[id].embedding[i]));
    ++rows;
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  EXPECT_EQ(rows, static_cast<int>(pg.size()));
  EXPECT_LE(worst, 1e-5f);
}

TEST_F(PostgresBackendTest, LeavesTheServiceSchemaUntouched) {
  EXPECT_EQ(ServiceSchema(*pg_url_), *schema_before_);
  // "public" holds the service's three tables and nothing else; facefill's objects are in its own schema.
  pqxx::connection conn(*pg_url_);
  pqxx::nontransaction txn(conn);
  std::set<std::string> public_tables, own_tables;
  for (const auto& r : txn.exec("SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ('public', "
                                "'facefill')")) {
    (r[0].as<std::string>() == "public" ? public_tables : own_tables).insert(r[1].as<std::string>());
  }
  EXPECT_EQ(public_tables, (std::set<std::string>{"face_instances", "image_assets", "persons"}));
  EXPECT_TRUE(own_tables.count("scan_status"));
  EXPECT_TRUE(own_tables.count("face_vectors"));
}

TEST_F(PostgresBackendTest, PgvectorTop5EqualsExactSearch) {
  Stores pg = Open(*pg_url_);
  Stores sqlite = Open(SqliteUrl());
  auto faces = PostgresFaces(*pg_url_);
  int queries = 0;
  for (const auto& [id, row] : faces) {
    auto approx = pg.vectors->Search(row.embedding, 5, -1.0f);
    auto exact = sqlite.vectors->Search(row.embedding, 5, -1.0f);
    ASSERT_TRUE(approx.ok()) << approx.status().ToString();
    ASSERT_TRUE(exact.ok());
    ASSERT_EQ(approx->size(), 5u);
    ASSERT_EQ(exact->size(), 5u);
    for (size_t i = 0; i < 5; ++i) {
      // Equal ranks, or a tie in similarity that either order satisfies.
      if ((*approx)[i].point_id != (*exact)[i].point_id) {
        EXPECT_NEAR((*approx)[i].similarity, (*exact)[i].similarity, 1e-5f) << "query " << id << " rank " << i;
      }
      EXPECT_NEAR((*approx)[i].similarity, (*exact)[i].similarity, 1e-4f);
    }
    ++queries;
  }
  EXPECT_EQ(queries, static_cast<int>(faces.size()));
}

// pgvector's column takes the model's dimension when it is created; another dimension is then refused clearly.
TEST_F(PostgresBackendTest, PgvectorTakesTheModelsDimensionAndRefusesAnother) {
  Stores pg = Open(*pg_url_);
  ASSERT_TRUE(pg.vectors->WrittenByCatalog());
  ASSERT_TRUE(pg.catalog->WritesVectors()) << "the default vectors of facefill's own database are pgvector";
  EXPECT_TRUE(pg.vectors->Prepare(512).ok());
  Status other = pg.vectors->Prepare(128);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other.message().find("holds 512-d vectors but the model gives 128-d"), std::string::npos)
      << other.message();
  std::vector<FaceRecord> one(1);
  EXPECT_FALSE(pg.vectors->Upsert({&one[0]}).ok()) << "its vectors are written by the catalog's commit";
}

// `check` pages through the PostgreSQL catalog and pgvector: with three ids a page it still finds a face whose
// vector was moved to another id, and the two vectors that have no face.
TEST_F(PostgresBackendTest, CheckPagesThroughPgvectorAndFindsPlantedDifferences) {
  Stores pg = Open(*pg_url_);
  pqxx::connection conn(*pg_url_);
  pqxx::nontransaction txn(conn);
  ASSERT_GT(txn.exec1("SELECT COUNT(*) FROM facefill.face_vectors")[0].as<int64_t>(), 6);
  const std::string face =
      txn.exec1("SELECT face_id::text FROM facefill.face_vectors ORDER BY face_id OFFSET 4 LIMIT 1")[0]
          .as<std::string>();
  const std::string moved = "00000000-0000-4000-8000-000000000001";
  const std::string orphan = "ffffffff-0000-4000-8000-000000000002";
  txn.exec_params(
      "INSERT INTO facefill.face_vectors(face_id, asset_id, embedding) SELECT $2::uuid, asset_id, embedding FROM "
      "facefill.face_vectors WHERE face_id = $1::uuid",
      face, orphan);
  txn.exec_params("UPDATE facefill.face_vectors SET face_id = $2::uuid WHERE face_id = $1::uuid", face, moved);
  auto report = CheckConsistency(*pg.catalog, *pg.vectors, {.page_size = 3});
  // Put the suite's database back before asserting: the other cases read it.
  txn.exec_params("UPDATE facefill.face_vectors SET face_id = $1::uuid WHERE face_id = $2::uuid", face, moved);
  txn.exec_params("DELETE FROM facefill.face_vectors WHERE face_id = $1::uuid", orphan);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->faces_without_vectors, std::vector<std::string>{face});
  EXPECT_EQ(report->vectors_without_faces, (std::vector<std::string>{moved, orphan}));
}

TEST_F(PostgresBackendTest, CheckIsCleanAndASecondRunAddsNothing) {
  Stores pg = Open(*pg_url_);
  auto check = CheckConsistency(*pg.catalog, *pg.vectors, false);
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_TRUE(check->clean());
  auto analyzer = testing::OpenDefaultAnalyzer();
  auto again = RunBackfill(*pg.catalog, *pg.vectors, *analyzer, BackfillOptions{});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->progress.processed, 0);
}

// Leases, without models: assets with made-up paths, committed as "no faces".
class PostgresClaimsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(testing::Services(), nullptr);
    url_ = FreshPostgresDatabase("claims");
    auto catalog = OpenCatalog(url_);
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    std::vector<AssetRecord> assets(kAssets);
    for (int i = 0; i < kAssets; ++i) assets[i].path = "/library/photo_" + std::to_string(i) + ".jpg";
    ScanCounts counts;
    ASSERT_TRUE((*catalog)->UpsertAssets(assets, &counts).ok());
    ASSERT_EQ(counts.added, kAssets);
  }

  static std::vector<ScanOutcome> NoFaces(const std::vector<AssetRecord>& assets) {
    std::vector<ScanOutcome> out;
    for (const auto& a : assets) {
      ScanOutcome o;
      o.asset = a;
      o.state = ScanState::kNoFaces;
      out.push_back(std::move(o));
    }
    return out;
  }

  static constexpr int kAssets = 300;
  std::string url_;
};

TEST_F(PostgresClaimsTest, ConcurrentWorkersNeverShareAnAsset) {
  std::mutex mutex;
  std::map<int64_t, int> claimed_by;  // asset -> how many times it was handed out
  std::vector<std::thread> workers;
  std::atomic<int> failures{0};
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      auto catalog = OpenCatalog(url_);
      if (!catalog.ok()) return void(++failures);
      ClaimRequest request{"worker-" + std::to_string(w), 7, 60, 0};
      while (true) {
        auto batch = (*catalog)->Claim(request);
        if (!batch.ok()) return void(++failures);
        if (batch->empty()) break;
        {
          std::lock_guard lock(mutex);
          for (const auto& a : *batch) ++claimed_by[a.id];
        }
        if (!(*catalog)->CommitScans(NoFaces(*batch), "test", request.owner, nullptr).ok()) return void(++failures);
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(static_cast<int>(claimed_by.size()), kAssets);
  for (const auto& [id, times] : claimed_by) EXPECT_EQ(times, 1) << "asset " << id;
  pqxx::connection conn(url_);
  pqxx::nontransaction txn(conn);
  auto r = txn.exec1(
      "SELECT COUNT(*), MIN(scan_count), MAX(scan_count), COUNT(lease_owner) FROM facefill.scan_status WHERE "
      "status = 'no_faces'");
  EXPECT_EQ(r[0].as<int>(), kAssets);
  EXPECT_EQ(r[1].as<int>(), 1);
  EXPECT_EQ(r[2].as<int>(), 1);
  EXPECT_EQ(r[3].as<int>(), 0) << "every lease is released at commit";
}

TEST_F(PostgresClaimsTest, AnExpiredLeaseIsTakenOverAndTheLateCommitIsLeftToTheNewOwner) {
  auto a = OpenCatalog(url_);
  auto b = OpenCatalog(url_);
  ASSERT_TRUE(a.ok() && b.ok());
  auto first = (*a)->Claim(ClaimRequest{"a", 5, 1, 0});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 5u);
  auto other = (*b)->Claim(ClaimRequest{"b", 5, 60, 0});
  ASSERT_TRUE(other.ok());
  for (const auto& x : *other) {
    for (const auto& y : *first) EXPECT_NE(x.id, y.id) << "a live lease is not handed out again";
  }
  auto live = (*b)->CountLiveLeases();
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(*live, 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));  // a's lease (1 s) expires
  auto taken = (*b)->Claim(ClaimRequest{"b", 5, 60, 0});
  ASSERT_TRUE(taken.ok());
  ASSERT_EQ(taken->size(), 5u);
  EXPECT_EQ(taken->front().id, first->front().id) << "the expired lease goes to the next claimant";
  // a comes back late: its commit leaves the assets to b.
  ASSERT_TRUE((*a)->CommitScans(NoFaces(*first), "test", "a", nullptr).ok());
  auto stats = (*a)->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->scanned, 0);
  ASSERT_TRUE((*b)->CommitScans(NoFaces(*taken), "test", "b", nullptr).ok());
  stats = (*a)->Stats();
  EXPECT_EQ(stats->scanned, 5);
  // a, later still, after b has committed: still left alone, so every asset is committed once.
  ASSERT_TRUE((*a)->CommitScans(NoFaces(*first), "test", "a", nullptr).ok());
  pqxx::connection conn(url_);
  pqxx::nontransaction txn(conn);
  EXPECT_EQ(txn.exec1("SELECT MAX(scan_count) FROM facefill.scan_status")[0].as<int>(), 1);
  // Releasing gives b's other leases back at once.
  ASSERT_TRUE((*b)->ReleaseLeases("b").ok());
  live = (*b)->CountLiveLeases();
  EXPECT_EQ(*live, 0);
}

TEST_F(PostgresClaimsTest, ReconnectsWhenTheServerDropsTheConnection) {
  auto catalog = OpenCatalog(url_);
  ASSERT_TRUE(catalog.ok());
  ASSERT_TRUE((*catalog)->Stats().ok());
  {
    // What a server restart or a failover does to open connections.
    pqxx::connection admin(testing::Services()->pg_admin);
    pqxx::nontransaction txn(admin);
    auto killed = txn.exec1(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'facefill' AND "
        "datname = " +
        txn.quote(url_.substr(url_.rfind('/') + 1)));
    EXPECT_GE(killed[0].as<int>(), 1);
  }
  auto stats = (*catalog)->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->assets, kAssets);
}

// `facefill errors` on PostgreSQL: failed assets with their reason and message (the path in front removed); pruning
// is refused on a shared catalog.
TEST_F(PostgresClaimsTest, FailedAssetsAreListedAndPruningIsRefused) {
  auto catalog = OpenCatalog(url_);
  ASSERT_TRUE(catalog.ok());
  auto claimed = (*catalog)->Claim(ClaimRequest{"w", 3, 60, 0});
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 3u);
  std::vector<ScanOutcome> failed;
  for (const auto& a : *claimed) {
    ScanOutcome o;
    o.asset = a;
    o.state = ScanState::kError;
    o.error = Status(StatusCode::kCorruptImage, a.path + ": truncated");
    failed.push_back(std::move(o));
  }
  ASSERT_TRUE((*catalog)->CommitScans(failed, "model", "w", nullptr).ok());
  auto listed = (*catalog)->ListErrors(0);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 3u);
  for (const auto& f : *listed) {
    EXPECT_EQ(f.reason, "corrupt_image");
    EXPECT_EQ(f.message, "truncated");
    EXPECT_EQ(f.path.rfind("/library/photo_", 0), 0u) << f.path;
    EXPECT_FALSE(f.scanned_at.empty());
  }
  auto limited = (*catalog)->ListErrors(2);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->size(), 2u);
  auto under = (*catalog)->AssetsUnder("/library");
  EXPECT_EQ(under.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*catalog)->RemoveAssets({claimed->front().id}).status().code(), StatusCode::kInvalidArgument);
}

TEST(PostgresErrorsTest, AnUnreachableServerIsAClearErrorWithoutThePassword) {
  // Nothing listens on port 1.
  auto catalog = OpenCatalog("postgresql://facefill:hunter2@127.0.0.1:1/library?connect_timeout=1");
  ASSERT_FALSE(catalog.ok());
  EXPECT_EQ(catalog.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(catalog.status().message().find("cannot connect"), std::string::npos) << catalog.status().message();
  EXPECT_NE(catalog.status().message().find("PostgreSQL at postgresql://facefill:***@127.0.0.1:1/library"),
            std::string::npos)
      << catalog.status().message();
  EXPECT_EQ(catalog.status().message().find('\n'), std::string::npos) << "one line: " << catalog.status().message();
  EXPECT_EQ(catalog.status().message().find("hunter2"), std::string::npos) << catalog.status().message();
  EXPECT_EQ(RedactUrl("postgresql://facefill:hunter2@db:5432/x"), "postgresql://facefill:***@db:5432/x");
}

}  // namespace
}  // namespace facefill
