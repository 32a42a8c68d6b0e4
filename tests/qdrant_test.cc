// The Qdrant vector store against a loopback server that answers as Qdrant does: collection and payload indexes,
// batched upserts, search, scroll, count; 5xx retried, 4xx reported, timeouts and dropped connections retried; the
// API key sent and never shown. Every request body the client sent is then type-checked against Qdrant's OpenAPI
// types with the TypeScript compiler (the contract test), and a wrong body is shown to fail that check.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <regex>

#include "facefill/backfill.h"
#include "facefill/image.h"
#include "facefill/library_scan.h"
#include "facefill/search.h"
#include "fake_qdrant.h"
#include "test_support.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using testing::FakeQdrant;
using testing::Fault;
using testing::TempDir;

// Faces with random unit vectors and UUID-shaped ids.
std::vector<FaceRecord> MakeFaces(int n, int dimension = 512, uint32_t seed = 1) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal;
  std::vector<FaceRecord> faces(n);
  for (int i = 0; i < n; ++i) {
    auto& f = faces[i];
    f.id = FaceId(1000 + i, i, i, 10, 10, "test");
    f.point_id = f.id;
    f.asset_id = 1000 + i;
    f.bbox_x = i, f.bbox_y = i, f.bbox_w = 10, f.bbox_h = 10;
    f.detection_confidence = 0.9f;
    f.quality_score = 0.5f;
    f.embedding.resize(dimension);
    float norm = 0;
    for (auto& v : f.embedding) {
      v = normal(random);
      norm += v * v;
    }
    for (auto& v : f.embedding) v /= std::sqrt(norm);
  }
  return faces;
}

std::vector<const FaceRecord*> Pointers(const std::vector<FaceRecord>& faces) {
  std::vector<const FaceRecord*> out;
  for (const auto& f : faces) out.push_back(&f);
  return out;
}

std::unique_ptr<VectorStore> OpenStore(const std::string& url) {
  auto store = OpenVectorStore(url, "sqlite:unused.db");
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

// Every body the tests below sent, for the contract test at the end of this file.
std::vector<testing::RecordedRequest>& SentBodies() {
  static std::vector<testing::RecordedRequest> sent;
  return sent;
}
void KeepBodies(FakeQdrant& server) {
  for (auto& r : server.requests()) {
    if (!r.body.empty()) SentBodies().push_back(r);
  }
}

TEST(QdrantStoreTest, CreatesTheCollectionWithTheServicePayloadIndexes) {
  FakeQdrant server;
  auto store = OpenStore(server.url("faces"));
  ASSERT_NE(store, nullptr);
  auto faces = MakeFaces(3);
  ASSERT_TRUE(store->Upsert(Pointers(faces)).ok());
  auto requests = server.requests();
  ASSERT_GE(requests.size(), 9u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/collections/faces");
  EXPECT_EQ(requests[1].method, "PUT");
  EXPECT_EQ(nlohmann::json::parse(requests[1].body),
            nlohmann::json::parse(R"({"vectors":{"size":512,"distance":"Cosine"}})"));
  std::map<std::string, std::string> indexes;
  for (const auto& r : requests) {
    if (r.target.rfind("/collections/faces/index", 0) == 0) {
      auto body = nlohmann::json::parse(r.body);
      indexes[body["field_name"]] = body["field_schema"];
    }
  }
  EXPECT_EQ(indexes, (std::map<std::string, std::string>{{"asset_id", "keyword"},
                                                         {"cluster_id", "keyword"},
                                                         {"face_instance_id", "keyword"},
                                                         {"person_id", "keyword"},
                                                         {"is_prototype", "bool"},
                                                         {"is_assigned", "bool"}}));
  const auto& upsert = requests.back();
  EXPECT_EQ(upsert.target, "/collections/faces/points?wait=true") << "durable before the catalog commits";
  auto point = nlohmann::json::parse(upsert.body)["points"][0];
  EXPECT_EQ(point["id"], faces[0].id);
  EXPECT_EQ(point["payload"]["asset_id"], "1000") << "the service stores asset ids as strings";
  EXPECT_EQ(point["payload"]["face_instance_id"], faces[0].id);
  EXPECT_EQ(point["payload"]["bbox"], nlohmann::json::parse(R"({"x":0,"y":0,"w":10,"h":10})"));
  EXPECT_EQ(point["payload"]["is_prototype"], false);
  EXPECT_EQ(point["payload"]["is_assigned"], false);
  // A second upsert does not look the collection up again.
  ASSERT_TRUE(store->Upsert(Pointers(faces)).ok());
  EXPECT_EQ(server.CountRequests("/collections/faces/index"), 6);
  EXPECT_EQ(server.requests().size(), requests.size() + 1);
  KeepBodies(server);
}

TEST(QdrantStoreTest, BatchesUpsertsAndSearchesScrollsAndCounts) {
  FakeQdrant server;
  auto store = OpenStore(server.url("faces", "batch=128&in_flight=3"));
  ASSERT_NE(store, nullptr);
  auto faces = MakeFaces(300);
  ASSERT_TRUE(store->Upsert(Pointers(faces)).ok());
  EXPECT_EQ(server.CountRequests("/points?wait=true"), 3) << "300 points in batches of 128";
  auto count = store->Count();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 300);
  auto ids = store->AllIds();  // scrolls 1,000 at a time: one page plus none
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->size(), 300u);
  auto found = store->Search(faces[42].embedding, 5, 0.0f);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_FALSE(found->empty());
  EXPECT_EQ(found->front().point_id, faces[42].id);
  EXPECT_EQ(found->front().asset_id, 1042);
  EXPECT_NEAR(found->front().similarity, 1.0f, 1e-4f);
  std::vector<std::string> gone = {faces[0].id, faces[1].id};
  ASSERT_TRUE(store->Delete(gone).ok());
  EXPECT_EQ(server.PointCount("faces"), 298u);
  KeepBodies(server);
}

// A kept face's point gets its new vector and detection fields; person, cluster, prototype and assigned stay as
// the service set them. A point the service lost is written whole, with the labels of its row.
TEST(QdrantStoreTest, UpdateVectorsKeepsThePayloadTheServiceOwns) {
  FakeQdrant server;
  auto store = OpenStore(server.url("faces"));
  auto faces = MakeFaces(3);
  ASSERT_TRUE(store->Upsert(Pointers(faces)).ok());
  nlohmann::json labels = {{"person_id", "0b5a3c52-6a35-4c3e-8a53-0c1a4f0b9a11"},
                           {"cluster_id", "c-12"},
                           {"is_prototype", true},
                           {"is_assigned", true}};
  nlohmann::json seeded = server.Payload("faces", faces[0].id);
  seeded.update(labels);
  server.PutPoint("faces", faces[0].id, faces[0].embedding, seeded);
  server.PutPoint("faces", faces[1].id, faces[1].embedding, seeded);
  ASSERT_TRUE(store->Delete({faces[2].id}).ok());  // lost by the service

  auto moved = MakeFaces(3, 512, /*seed=*/9);  // new vectors, same ids, new boxes
  for (int i = 0; i < 3; ++i) {
    moved[i].id = moved[i].point_id = faces[i].id;
    moved[i].stored = true;
    moved[i].bbox_w = 77;
  }
  moved[2].person_id = "0b5a3c52-6a35-4c3e-8a53-0c1a4f0b9a11";
  ASSERT_TRUE(store->UpdateVectors(Pointers(moved)).ok());
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(server.Vector("faces", faces[i].id), moved[i].embedding);
    nlohmann::json payload = server.Payload("faces", faces[i].id);
    for (const auto& [key, value] : labels.items()) EXPECT_EQ(payload[key], value) << key;
    EXPECT_EQ(payload["bbox"]["w"], 77);
  }
  nlohmann::json rewritten = server.Payload("faces", faces[2].id);
  EXPECT_EQ(rewritten["person_id"], "0b5a3c52-6a35-4c3e-8a53-0c1a4f0b9a11");
  EXPECT_EQ(rewritten["is_assigned"], true);
  EXPECT_EQ(server.PointCount("faces"), 3u);
  EXPECT_EQ(server.CountRequests("/points?wait=true"), 2) << "one whole-point upsert at the start, one for the lost";
  auto fetched = store->Fetch({faces[0].id, "00000000-0000-0000-0000-000000000000"});
  ASSERT_TRUE(fetched.ok());
  ASSERT_EQ(fetched->size(), 1u);
  EXPECT_EQ(fetched->at(faces[0].id), moved[0].embedding);
  KeepBodies(server);
}

TEST(QdrantStoreTest, ScrollsPageByPage) {
  FakeQdrant server;
  auto store = OpenStore(server.url("faces"));
  auto faces = MakeFaces(2500, 8);
  ASSERT_TRUE(store->Upsert(Pointers(faces)).ok());
  auto ids = store->AllIds();
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->size(), 2500u);
  EXPECT_EQ(server.CountRequests("/points/scroll"), 3);
  KeepBodies(server);
}

TEST(QdrantStoreTest, ServerErrorsAreRetriedWithBackoff) {
  FakeQdrant server;
  auto store = OpenStore(server.url("faces"));
  auto faces = MakeFaces(2);
  server.AddFault({Fault::Kind::kStatus, "/points?wait", 503});
  server.AddFault({Fault::Kind::kStatus, "/points?wait", 500});
  ASSERT_TRUE(store->Upsert(Pointers(faces)).ok());
  EXPECT_EQ(server.CountRequests("/points?wait=true"), 3);
  EXPECT_EQ(server.PointCount("faces"), 2u);
}

TEST(QdrantStoreTest, PersistentServerErrorsEndInAClearErrorAfterTheRetries) {
  FakeQdrant server;
  auto store = OpenStore(server.url("faces", "retries=2"));
  auto faces = MakeFaces(2);
  for (int i = 0; i < 5; ++i) server.AddFault({Fault::Kind::kStatus, "/points?wait", 503});
  Status status = store->Upsert(Pointers(faces));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("HTTP 503"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("after 3 tries"), std::string::npos) << status.message();
  EXPECT_EQ(server.CountRequests("/points?wait=true"), 3);
}

TEST(QdrantStoreTest, ClientErrorsAreReportedAtOnceWithQdrantsMessage) {
  FakeQdrant server;
  server.CreateCollection("faces", 128);
  auto store = OpenStore(server.url("faces"));
  auto faces = MakeFaces(2);
  Status wrong_dimension = store->Upsert(Pointers(faces));
  ASSERT_FALSE(wrong_dimension.ok());
  EXPECT_EQ(wrong_dimension.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong_dimension.message().find("holds 128-d vectors but the model gives 512-d"), std::string::npos)
      << wrong_dimension.message();

  FakeQdrant other;
  auto store2 = OpenStore(other.url("faces"));
  other.AddFault({Fault::Kind::kStatus, "/points?wait", 400});
  Status bad = store2->Upsert(Pointers(faces));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), StatusCode::kVectorStoreError);
  EXPECT_NE(bad.message().find("HTTP 400: injected failure"), std::string::npos) << bad.message();
  EXPECT_EQ(other.CountRequests("/points?wait=true"), 1) << "a 4xx is not retried";

  auto missing = OpenStore(other.url("nothing"))->Search(faces[0].embedding, 3, 0);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("doesn't exist"), std::string::npos) << missing.status().message();
}

TEST(QdrantStoreTest, SlowAnswersTimeOutAndAreRetried) {
  FakeQdrant server;
  auto store = OpenStore(server.url("faces", "timeout_ms=300"));
  auto faces = MakeFaces(2);
  server.AddFault({Fault::Kind::kDelay, "/points?wait", 0, 1500});
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(store->Upsert(Pointers(faces)).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1400)) << "did not wait it out";
  EXPECT_EQ(server.CountRequests("/points?wait=true"), 2);
  EXPECT_EQ(server.PointCount("faces"), 2u);
}

TEST(QdrantStoreTest, DroppedConnectionsAreRetried) {
  FakeQdrant server;
  auto store = OpenStore(server.url("faces"));
  auto faces = MakeFaces(2);
  server.AddFault({Fault::Kind::kDrop, "/points?wait"});
  server.AddFault({Fault::Kind::kDrop, "/points/count"});
  ASSERT_TRUE(store->Upsert(Pointers(faces)).ok());
  auto count = store->Count();
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(*count, 2);
  EXPECT_EQ(server.CountRequests("/points?wait=true"), 2);
}

TEST(QdrantStoreTest, TheApiKeyIsSentAndNeverShown) {
  FakeQdrant server("s3cret-key");
  TempDir dir;
  // From a file (FACEFILL_QDRANT_API_KEY_FILE), as a secret mount would provide it.
  std::ofstream(dir / "key") << "s3cret-key\n";
  setenv("FACEFILL_QDRANT_API_KEY_FILE", (dir / "key").c_str(), 1);
  auto store = OpenStore(server.url("faces"));
  unsetenv("FACEFILL_QDRANT_API_KEY_FILE");
  ASSERT_NE(store, nullptr);
  auto faces = MakeFaces(2);
  ASSERT_TRUE(store->Upsert(Pointers(faces)).ok());
  for (const auto& r : server.requests()) EXPECT_EQ(r.headers.at("api-key"), "s3cret-key") << r.target;
  EXPECT_EQ(store->Describe().find("s3cret"), std::string::npos);

  // A wrong key: a clear 401, without the key in it.
  setenv("FACEFILL_QDRANT_API_KEY", "wrong-key-value", 1);
  auto wrong = OpenStore(server.url("faces"));
  unsetenv("FACEFILL_QDRANT_API_KEY");
  Status denied = wrong->Upsert(Pointers(faces));
  ASSERT_FALSE(denied.ok());
  EXPECT_NE(denied.message().find("HTTP 401"), std::string::npos) << denied.message();
  EXPECT_EQ(denied.message().find("wrong-key-value"), std::string::npos);
  // Credentials in the URL are refused rather than risk them in logs.
  auto in_url = OpenVectorStore("qdrant://user:pw@127.0.0.1:6333/faces", "");
  ASSERT_FALSE(in_url.ok());
  EXPECT_EQ(in_url.status().message().find("pw@"), std::string::npos);
}

TEST(QdrantStoreTest, BadUrlsAreClearErrors) {
  for (const std::string url : {"qdrant://", "qdrant://host:99999/faces", "qdrant://host/faces?batch=0",
                                "qdrant://host/faces?timeout_ms=abc", "qdrant://host/a%2Fb"}) {
    auto store = OpenVectorStore(url, "");
    EXPECT_FALSE(store.ok()) << url;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << url;
  }
}

// The whole backfill with Qdrant for vectors: the catalog and the collection agree, and search goes through Qdrant.
TEST(QdrantStoreTest, BackfillWritesEveryFaceToQdrantAndCheckAgrees) {
  FACEFILL_REQUIRE_PATH(testing::SharedDir(), "../shared (photos)");
  FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  FakeQdrant server;
  TempDir dir;
  const std::string db = "sqlite:" + (dir / "facefill.db").string();
  auto catalog = OpenCatalog(db);
  ASSERT_TRUE(catalog.ok());
  auto vectors = OpenStore(server.url("faces"));
  auto analyzer = testing::OpenDefaultAnalyzer();
  ASSERT_TRUE(ScanLibrary(testing::SharedDir() / "images" / "obama", catalog->get()).ok());
  auto report = RunBackfill(**catalog, *vectors, *analyzer, BackfillOptions{});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GT(report->progress.faces, 0);
  EXPECT_EQ(static_cast<int64_t>(server.PointCount("faces")), report->progress.faces);
  auto check = CheckConsistency(**catalog, *vectors, false);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->clean());
  auto query = DecodeImageFile((testing::SharedDir() / "images/obama/obama2.jpg").string());
  ASSERT_TRUE(query.ok());
  auto matches = SearchByImage(*analyzer, **catalog, *vectors, query->bgr);
  ASSERT_TRUE(matches.ok()) << matches.status().ToString();
  ASSERT_FALSE(matches->empty());
  ASSERT_FALSE(matches->front().hits.empty());
  EXPECT_NE(matches->front().hits.front().face.asset_path.find("obama2.jpg"), std::string::npos)
      << "searching with a photo finds that photo's face first, through Qdrant";
  KeepBodies(server);
}

// Writes `bodies` as TypeScript values that must satisfy Qdrant's schema types; returns tsc's exit status.
int TypeCheck(const fs::path& dir, const std::vector<std::pair<std::string, std::string>>& bodies) {
  const fs::path deps = fs::path(FACEFILL_SOURCE_DIR) / ".deps";
  std::ofstream ts(dir / "bodies.ts");
  ts << "import type { components } from " << nlohmann::json((deps / "qdrant-openapi/generated_schema").string())
     << ";\ntype Schemas = components['schemas'];\n";
  for (size_t i = 0; i < bodies.size(); ++i) {
    ts << "export const body" << i << " = " << bodies[i].second << " satisfies Schemas['" << bodies[i].first << "'];\n";
  }
  ts.close();
  const std::string command = "node " + (deps / "typescript/bin/tsc").string() +
                              " --noEmit --strict --target es2020 --module commonjs " + (dir / "bodies.ts").string() +
                              " > " + (dir / "tsc.log").string() + " 2>&1";
  return testing::RunShell(command).exit_code;
}

// The schema each endpoint's body must satisfy.
std::string SchemaFor(const testing::RecordedRequest& r) {
  static const std::vector<std::pair<std::regex, std::string>> kRoutes = {
      {std::regex(R"(^PUT /collections/[^/?]+$)"), "CreateCollection"},
      {std::regex(R"(^PUT /collections/[^/]+/index(\?.*)?$)"), "CreateFieldIndex"},
      {std::regex(R"(^PUT /collections/[^/]+/points(\?.*)?$)"), "PointInsertOperations"},
      {std::regex(R"(^POST /collections/[^/]+/points/delete(\?.*)?$)"), "PointsSelector"},
      {std::regex(R"(^POST /collections/[^/]+/points/query(\?.*)?$)"), "QueryRequest"},
      {std::regex(R"(^POST /collections/[^/]+/points/scroll(\?.*)?$)"), "ScrollRequest"},
      {std::regex(R"(^POST /collections/[^/]+/points/count(\?.*)?$)"), "CountRequest"},
      {std::regex(R"(^POST /collections/[^/]+/points(\?.*)?$)"), "PointRequest"},
      {std::regex(R"(^POST /collections/[^/]+/points/batch(\?.*)?$)"), "UpdateOperations"},
      {std::regex(R"(^POST /collections/[^/]+/points/payload(\?.*)?$)"), "SetPayload"},
  };
  const std::string route = r.method + " " + r.target;
  for (const auto& [pattern, schema] : kRoutes) {
    if (std::regex_match(route, pattern)) return schema;
  }
  return "";
}

// Runs last in this file (gtest keeps definition order within a binary run; under CTest each case runs alone, so
// it also makes its own requests).
TEST(QdrantContractTest, EveryRequestBodyMatchesQdrantsOpenApiTypes) {
  const fs::path deps = fs::path(FACEFILL_SOURCE_DIR) / ".deps";
  FACEFILL_REQUIRE_PATH(deps / "typescript/bin/tsc", "TypeScript (scripts/setup.sh)");
  FACEFILL_REQUIRE_PATH(deps / "qdrant-openapi/generated_schema.d.ts", "Qdrant's OpenAPI types (scripts/setup.sh)");
  {
    // Every operation the client has, with small vectors so the file stays small.
    FakeQdrant server;
    auto store = OpenStore(server.url("faces", "batch=2"));
    auto faces = MakeFaces(5, 4);
    ASSERT_TRUE(store->Upsert(Pointers(faces)).ok());
    ASSERT_TRUE(store->Search(faces[0].embedding, 3, 0.2f).ok());
    ASSERT_TRUE(store->Count().ok());
    ASSERT_TRUE(store->AllIds().ok());
    ASSERT_TRUE(store->Delete({faces[0].id}).ok());
    // A re-scan's update of kept points: retrieve, then update-vectors + set-payload in one batch; a point that
    // went missing is written whole, with its person and cluster.
    faces[1].person_id = "4b1c0f6e-8f0a-4d43-9a59-6f0d3c1d2e3f";
    faces[1].cluster_id = "cluster-7";
    ASSERT_TRUE(store->UpdateVectors(Pointers(faces)).ok());
    ASSERT_TRUE(store->Fetch({faces[1].id, faces[2].id}).ok());
    KeepBodies(server);
  }
  std::map<std::string, std::vector<std::string>> by_schema;
  for (const auto& r : SentBodies()) {
    const std::string schema = SchemaFor(r);
    ASSERT_FALSE(schema.empty()) << "no schema known for " << r.method << " " << r.target;
    auto& list = by_schema[schema];
    // Large upserts add nothing to the type check beyond their first point; keep the file small.
    if (list.size() < 3 && r.body.size() < 200000) list.push_back(r.body);
  }
  for (const char* schema : {"CreateCollection", "CreateFieldIndex", "PointInsertOperations", "PointsSelector",
                             "QueryRequest", "ScrollRequest", "CountRequest", "PointRequest", "UpdateOperations"}) {
    EXPECT_TRUE(by_schema.count(schema)) << "no " << schema << " body was sent";
  }
  std::vector<std::pair<std::string, std::string>> bodies;
  for (const auto& [schema, list] : by_schema) {
    for (const auto& b : list) bodies.emplace_back(schema, b);
  }
  TempDir dir;
  EXPECT_EQ(TypeCheck(dir.path(), bodies), 0) << std::ifstream(dir / "tsc.log").rdbuf();

  // The check can fail: a misspelt field (TS2353) and a wrong type are rejected.
  TempDir bad;
  EXPECT_NE(
      TypeCheck(bad.path(), {{"CreateCollection", R"({"vectors":{"size":4,"distance":"Cosine"},"shard_numbr":1})"}}),
      0);
  std::ifstream log(bad / "tsc.log");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find("TS2353"), std::string::npos) << text;
  EXPECT_NE(TypeCheck(bad.path(), {{"CountRequest", R"({"exact":"yes"})"}}), 0);
}

}  // namespace
}  // namespace facefill
