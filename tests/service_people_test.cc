// `facefill cluster` and `facefill people` on the image-search service's own database (../shared/service/schema.sql
// in a real PostgreSQL) with its Qdrant collection on the loopback server, after a real backfill of shared photos:
// the same grouping as the embedded catalog's run on the same photos, ids kept by a second run, new photos assigned
// incrementally, labelled faces keeping their person and two named persons kept apart, and in Qdrant only the
// `cluster_id` payload changing, through set-payload. Also on a database of facefill's own with pgvector.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>

#include "fake_qdrant.h"
#include "test_support.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::FakeQdrant;
using testing::SharedDir;
using testing::TempDir;

using testing::ShellQuote;

struct CliRun {
  int exit_code = -1;
  std::string output;
  json last_json;  // the last output line that parses as JSON
};

CliRun Cli(const std::vector<std::string>& args) {
  CliRun run;
  auto result = testing::RunQuoted(FACEFILL_CLI, args);
  run.exit_code = result.exit_code;
  run.output = std::move(result.out);
  run.last_json = testing::LastJsonLine(run.output);
  return run;
}

// One stored face: where it is (photo and box, the same in both catalogs), its ids and labels.
struct Face {
  std::string key;  // photo file name and box
  std::string id, point_id, cluster, person;
};

std::string FaceKey(const std::string& path, int x, int y, int w, int h) {
  return fs::path(path).filename().string() + " " + std::to_string(x) + "," + std::to_string(y) + "," +
         std::to_string(w) + "," + std::to_string(h);
}

// The identity shown in a shared photo of images/celeb, obama or biden (each shows one face: ../shared/MANIFEST.tsv).
std::string Identity(const std::string& key) {
  static const std::vector<std::pair<std::string, std::string>> kPrefixes = {{"alex_lacamoire", "alex_lacamoire"},
                                                                             {"kit_harington", "kit_harington"},
                                                                             {"rose_leslie", "rose_leslie"},
                                                                             {"rdj_", "robert_downey_jr"},
                                                                             {"rob_lowe", "rob_lowe"},
                                                                             {"kun.", "cai_xukun"},
                                                                             {"jntm.", "cai_xukun"},
                                                                             {"yifei", "liu_yifei"},
                                                                             {"tom_cruise", "tom_cruise"},
                                                                             {"obama", "obama"},
                                                                             {"biden", "biden"}};
  for (const auto& [prefix, identity] : kPrefixes) {
    if (key.rfind(prefix, 0) == 0) return identity;
  }
  return key;
}

// Clusters as sets of face keys, and the faces in none: a grouping that does not depend on the ids.
std::pair<std::set<std::set<std::string>>, std::set<std::string>> Grouping(const std::vector<Face>& faces) {
  std::map<std::string, std::set<std::string>> clusters;
  std::set<std::string> noise;
  for (const auto& f : faces) (f.cluster.empty() ? noise : clusters[f.cluster]).insert(f.key);
  std::set<std::set<std::string>> groups;
  for (auto& [id, keys] : clusters) groups.insert(keys);
  return {groups, noise};
}

class ServicePeopleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos and the service's schema)");
    FACEFILL_REQUIRE_PATH(SharedDir() / "service" / "schema.sql", "../shared/service/schema.sql");
    FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
    ASSERT_NE(testing::Services(), nullptr);
  }

  // A database as the service's migrations leave it.
  void CreateServiceDatabase() { url_ = testing::FreshServiceDatabase("people"); }

  // The service's settings file: this database and the loopback Qdrant's `faces` collection.
  std::string ServiceEnv(const FakeQdrant& qdrant) {
    return testing::WriteServiceEnv(dir_ / "service.env", url_, qdrant.url("faces"));
  }

  // Copies the photos of these folders under images/ (less `except`) into the library.
  void CopyPhotos(const std::vector<std::string>& folders, const std::set<std::string>& except = {}) {
    fs::create_directories(library());
    for (const auto& folder : folders) {
      for (const auto& e : fs::directory_iterator(SharedDir() / "images" / folder)) {
        if (except.count(e.path().filename().string())) continue;
        fs::copy_file(e.path(), library() / e.path().filename(), fs::copy_options::overwrite_existing);
      }
    }
  }

  void ScanAndBackfill(const std::vector<std::string>& stores) {
    std::vector<std::string> scan = {"scan", library().string()}, backfill = {"backfill", "-q"};
    scan.insert(scan.end(), stores.begin(), stores.end());
    backfill.insert(backfill.end(), stores.begin(), stores.end());
    auto scanned = Cli(scan);
    ASSERT_EQ(scanned.exit_code, 0) << scanned.output;
    auto filled = Cli(backfill);
    ASSERT_EQ(filled.exit_code, 0) << filled.output;
  }

  std::vector<Face> PostgresFaces() {
    pqxx::connection conn(url_);
    pqxx::nontransaction txn(conn);
    std::vector<Face> out;
    for (const auto& r :
         txn.exec("SELECT a.path, f.bbox_x, f.bbox_y, f.bbox_w, f.bbox_h, f.id::text, "
                  "f.qdrant_point_id::text, COALESCE(f.cluster_id, ''), COALESCE(f.person_id::text, '') "
                  "FROM face_instances f JOIN image_assets a ON a.id = f.asset_id")) {
      out.push_back({FaceKey(r[0].as<std::string>(), r[1].as<int>(), r[2].as<int>(), r[3].as<int>(), r[4].as<int>()),
                     r[5].as<std::string>(), r[6].as<std::string>(), r[7].as<std::string>(), r[8].as<std::string>()});
    }
    return out;
  }

  std::vector<Face> SqliteFaces(const fs::path& file) {
    std::vector<Face> out;
    sqlite3* db = nullptr;
    sqlite3_open(file.c_str(), &db);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db,
                       "SELECT a.path, f.bbox_x, f.bbox_y, f.bbox_w, f.bbox_h, f.id, f.qdrant_point_id, "
                       "COALESCE(f.cluster_id, ''), COALESCE(f.person_id, '') FROM face_instances f JOIN image_assets "
                       "a ON a.id = f.asset_id",
                       -1, &stmt, nullptr);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      auto text = [&](int c) { return std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, c))); };
      out.push_back({FaceKey(text(0), sqlite3_column_int(stmt, 1), sqlite3_column_int(stmt, 2),
                             sqlite3_column_int(stmt, 3), sqlite3_column_int(stmt, 4)),
                     text(5), text(6), text(7), text(8)});
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return out;
  }

  // Every point's payload in the collection.
  static std::map<std::string, json> Payloads(FakeQdrant& qdrant) {
    std::map<std::string, json> out;
    for (const auto& id : qdrant.PointIds("faces")) out[id] = qdrant.Payload("faces", id);
    return out;
  }

  // What a clustering run may have sent Qdrant, from request `from` on: only retrieves, searches and set-payload
  // requests whose payload is the cluster_id alone. Returns the set-payload requests.
  static std::vector<json> ExpectOnlyClusterIdSetPayload(FakeQdrant& qdrant, size_t from) {
    std::vector<json> set_payloads;
    const auto requests = qdrant.requests();
    for (size_t i = from; i < requests.size(); ++i) {
      const auto& r = requests[i];
      const std::string path = r.target.substr(0, r.target.find('?'));
      if (r.method == "POST" && path == "/collections/faces/points/payload") {
        const json body = json::parse(r.body);
        EXPECT_EQ(body["payload"].size(), 1u) << r.body;
        EXPECT_TRUE(body["payload"].contains("cluster_id")) << r.body;
        EXPECT_TRUE(body["points"].is_array() && !body["points"].empty()) << r.body;
        set_payloads.push_back(body);
        continue;
      }
      const bool read = r.method == "POST" && (path == "/collections/faces/points" ||  // retrieve
                                               path == "/collections/faces/points/query");
      EXPECT_TRUE(read) << "a clustering run sent " << r.method << " " << r.target << " " << r.body.substr(0, 200);
      if (read && path == "/collections/faces/points") {
        EXPECT_FALSE(json::parse(r.body).contains("points")) << "a retrieve, not an upsert: " << r.body.substr(0, 200);
      }
    }
    return set_payloads;
  }

  // Every point's payload as before except its cluster_id, which is its face row's (null or absent for none).
  void ExpectPayloadsMatchRowsAndOnlyClusterIdChanged(FakeQdrant& qdrant, const std::map<std::string, json>& before) {
    const auto after = Payloads(qdrant);
    ASSERT_EQ(after.size(), before.size());
    std::map<std::string, std::string> cluster_of_point;
    for (const auto& f : PostgresFaces()) cluster_of_point[f.point_id] = f.cluster;
    for (const auto& [id, payload] : after) {
      ASSERT_TRUE(before.count(id)) << id;
      json a = payload, b = before.at(id);
      const json cluster = a.value("cluster_id", json());
      ASSERT_TRUE(cluster_of_point.count(id)) << "point " << id << " has no face";
      EXPECT_EQ(cluster.is_null() ? "" : cluster.get<std::string>(), cluster_of_point[id]) << "point " << id;
      a.erase("cluster_id");
      b.erase("cluster_id");
      EXPECT_EQ(a, b) << "payload of " << id << " changed beyond cluster_id";
      EXPECT_EQ(qdrant.Vector("faces", id).size(), 512u);
    }
  }

  fs::path library() const { return dir_ / "library"; }

  TempDir dir_;
  std::string url_;
};

TEST_F(ServicePeopleTest, ClusterOnTheServicesDatabaseGroupsAsTheEmbeddedRunAndOnlySetsTheClusterIdPayload) {
  CreateServiceDatabase();
  FakeQdrant qdrant;
  const std::string env = ServiceEnv(qdrant);
  const std::set<std::string> later = {"obama2.jpg", "obama3.jpg"};  // for the incremental step
  CopyPhotos({"celeb", "obama", "biden"}, later);
  const std::string sqlite = "sqlite:" + (dir_ / "facefill.db").string();
  ScanAndBackfill({"--service-env", env});
  ScanAndBackfill({"--db", sqlite});
  ASSERT_GT(qdrant.PointCount("faces"), 20u);

  // The first run, on both catalogs with the same options: the same grouping.
  const std::map<std::string, json> backfilled = Payloads(qdrant);
  size_t from = qdrant.requests().size();
  auto pg_run = Cli({"cluster", "--min-cluster-size", "3", "--json", "--service-env", env});
  ASSERT_EQ(pg_run.exit_code, 0) << pg_run.output;
  auto sqlite_run = Cli({"cluster", "--min-cluster-size", "3", "--json", "--db", sqlite});
  ASSERT_EQ(sqlite_run.exit_code, 0) << sqlite_run.output;
  EXPECT_GE(pg_run.last_json.value("clusters", 0), 4) << pg_run.output;  // obama, rdj, kit, alex, yifei
  for (const char* key : {"faces", "clusters", "noise", "below_gate"}) {
    EXPECT_EQ(pg_run.last_json[key], sqlite_run.last_json[key]) << key;
  }
  const auto pg_faces = PostgresFaces();
  const auto [pg_groups, pg_noise] = Grouping(pg_faces);

  const auto [sqlite_groups, sqlite_noise] = Grouping(SqliteFaces(dir_ / "facefill.db"));
  EXPECT_EQ(pg_groups, sqlite_groups);
  EXPECT_EQ(pg_noise, sqlite_noise);
  // Qdrant: only set-payload of cluster_id, one id per request, covering exactly the faces that got one.
  auto set_payloads = ExpectOnlyClusterIdSetPayload(qdrant, from);
  std::set<std::string> set_points;
  for (const auto& body : set_payloads) {
    for (const auto& p : body["points"]) set_points.insert(p.get<std::string>());
  }
  std::set<std::string> clustered_points;
  for (const auto& f : pg_faces) {
    if (!f.cluster.empty()) clustered_points.insert(f.point_id);
  }
  EXPECT_EQ(set_points, clustered_points);
  ExpectPayloadsMatchRowsAndOnlyClusterIdChanged(qdrant, backfilled);

  // A second run keeps every id and writes nothing.
  from = qdrant.requests().size();
  auto again = Cli({"cluster", "--min-cluster-size", "3", "--json", "--service-env", env});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.last_json["kept_ids"], pg_run.last_json["clusters"]) << again.output;
  EXPECT_EQ(again.last_json["new_ids"], 0) << again.output;
  EXPECT_EQ(again.last_json["changed_faces"], 0) << again.output;
  std::map<std::string, std::string> first_ids;
  for (const auto& f : pg_faces) first_ids[f.id] = f.cluster;
  for (const auto& f : PostgresFaces()) EXPECT_EQ(f.cluster, first_ids[f.id]) << "face " << f.id;
  EXPECT_TRUE(ExpectOnlyClusterIdSetPayload(qdrant, from).empty()) << "nothing changed, nothing sent";
  {
    pqxx::connection conn(url_);
    pqxx::nontransaction txn(conn);
    EXPECT_GT(
        txn.exec1("SELECT value FROM facefill.people_state WHERE key = 'clustered_through_face_row'")[0].as<int64_t>(),
        0)
        << "the clustering state is in facefill's schema";
    EXPECT_EQ(txn.exec1("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE '%people%'")[0]
                  .as<int>(),
              0);
  }

  // New photos of a known identity, backfilled, then the incremental step: they join obama's cluster.
  std::map<std::string, std::set<std::string>> identities_in;
  std::string obama_cluster;
  for (const auto& f : pg_faces) {
    if (f.cluster.empty()) continue;
    identities_in[f.cluster].insert(Identity(f.key));
    if (Identity(f.key) == "obama") obama_cluster = f.cluster;
  }
  for (const auto& [cluster, identities] : identities_in) {
    EXPECT_EQ(identities.size(), 1u) << "cluster " << cluster << " mixes " << *identities.begin() << " and "
                                     << *identities.rbegin();
  }
  ASSERT_FALSE(obama_cluster.empty());
  CopyPhotos({"obama"});
  ScanAndBackfill({"--service-env", env});
  const std::map<std::string, json> before_assign = Payloads(qdrant);
  from = qdrant.requests().size();
  auto assign = Cli({"cluster", "--incremental", "--min-cluster-size", "3", "--json", "--service-env", env});
  ASSERT_EQ(assign.exit_code, 0) << assign.output;
  EXPECT_FALSE(assign.last_json.value("ran_full", true)) << assign.output;
  EXPECT_GE(assign.last_json.value("assigned", 0), 2) << assign.output;
  int joined = 0;
  for (const auto& f : PostgresFaces()) {
    if (f.key.rfind("obama2.jpg", 0) == 0 || f.key.rfind("obama3.jpg", 0) == 0) {
      EXPECT_EQ(f.cluster, obama_cluster) << f.key;
      joined += f.cluster == obama_cluster;
    }
  }
  EXPECT_GE(joined, 2);
  EXPECT_FALSE(ExpectOnlyClusterIdSetPayload(qdrant, from).empty());
  ExpectPayloadsMatchRowsAndOnlyClusterIdChanged(qdrant, before_assign);

  // Labels are a person's work: two obama faces named as two persons (as the service writes a label: the row and
  // the point's person_id and is_assigned) end in different clusters and keep their persons.
  std::vector<Face> obama;
  for (const auto& f : PostgresFaces()) {
    if (f.cluster == obama_cluster) obama.push_back(f);
  }
  ASSERT_GE(obama.size(), 6u);
  const std::string ada = "11111111-1111-4111-8111-111111111111", bea = "22222222-2222-4222-8222-222222222222";
  const std::string phantom = "33333333-3333-4333-8333-333333333333",
                    phantom_point = "44444444-4444-4444-8444-444444444444";
  {
    pqxx::connection conn(url_);
    pqxx::nontransaction txn(conn);
    txn.exec_params("INSERT INTO persons(id, name) VALUES ($1, 'Ada'), ($2, 'Bea')", ada, bea);
    for (size_t i = 0; i < 2; ++i) {
      const std::string& person = i == 0 ? ada : bea;
      txn.exec_params("UPDATE face_instances SET person_id = $1 WHERE id = $2", person, obama[i].id);
      json payload = qdrant.Payload("faces", obama[i].point_id);
      payload["person_id"] = person;
      payload["is_assigned"] = true;
      qdrant.PutPoint("faces", obama[i].point_id, qdrant.Vector("faces", obama[i].point_id), payload);
    }
    // The service's noise marker, "keep out of clustering", on a third obama face (row and payload), and a stale
    // cluster id on a face too small for the gate whose point the service lost.
    txn.exec_params("UPDATE face_instances SET cluster_id = '-1' WHERE id = $1", obama[2].id);
    json payload = qdrant.Payload("faces", obama[2].point_id);
    payload["cluster_id"] = "-1";
    qdrant.PutPoint("faces", obama[2].point_id, qdrant.Vector("faces", obama[2].point_id), payload);
    txn.exec_params(
        "INSERT INTO face_instances(id, asset_id, bbox_x, bbox_y, bbox_w, bbox_h, detection_confidence, "
        "qdrant_point_id, cluster_id) SELECT $1::uuid, asset_id, 0, 0, 12, 12, 0.9, $2::uuid, 'clu_stale' FROM "
        "face_instances WHERE id = $3",
        phantom, phantom_point, obama[3].id);
  }
  const std::map<std::string, json> labelled = Payloads(qdrant);
  from = qdrant.requests().size();
  auto relabel = Cli({"cluster", "--min-cluster-size", "3", "--json", "--service-env", env});
  ASSERT_EQ(relabel.exit_code, 0) << relabel.output;
  EXPECT_EQ(relabel.last_json["split_by_label"], 1) << relabel.output;
  std::map<std::string, Face> by_id;
  for (const auto& f : PostgresFaces()) by_id[f.id] = f;
  EXPECT_EQ(by_id[obama[0].id].person, ada);
  EXPECT_EQ(by_id[obama[1].id].person, bea);
  EXPECT_FALSE(by_id[obama[0].id].cluster.empty());
  EXPECT_FALSE(by_id[obama[1].id].cluster.empty());
  EXPECT_NE(by_id[obama[0].id].cluster, by_id[obama[1].id].cluster) << "two named persons in one cluster";
  EXPECT_EQ(by_id[obama[2].id].cluster, "-1") << "the service's noise marker is left as it is";
  EXPECT_EQ(qdrant.Payload("faces", obama[2].point_id)["cluster_id"], "-1");
  EXPECT_EQ(by_id[phantom].cluster, "") << "a face below the gate loses its cluster";
  EXPECT_TRUE(qdrant.Payload("faces", phantom_point).is_null()) << "and its missing point is not written";
  ExpectOnlyClusterIdSetPayload(qdrant, from);
  ExpectPayloadsMatchRowsAndOnlyClusterIdChanged(qdrant, labelled);
  EXPECT_EQ(qdrant.Payload("faces", obama[0].point_id)["person_id"], ada);

  // `people --json`: the clusters, largest first, as the rows say, each named person suggested for their cluster.
  auto people = Cli({"people", "--json", "--service-env", env});
  ASSERT_EQ(people.exit_code, 0) << people.output;
  ASSERT_TRUE(people.last_json.is_array()) << people.output;
  std::map<std::string, int64_t> faces_in;
  for (const auto& [id, f] : by_id) {
    if (!f.cluster.empty() && f.cluster != "-1") ++faces_in[f.cluster];
  }
  ASSERT_EQ(people.last_json.size(), faces_in.size()) << people.output;
  int64_t previous = std::numeric_limits<int64_t>::max();
  std::map<std::string, std::string> suggested;
  for (const auto& c : people.last_json) {
    const std::string id = c["cluster_id"];
    EXPECT_EQ(c["faces"].get<int64_t>(), faces_in[id]) << id;
    EXPECT_LE(c["faces"].get<int64_t>(), previous);
    previous = c["faces"];
    EXPECT_TRUE(fs::exists(c["path"].get<std::string>())) << c.dump();
    EXPECT_EQ(by_id[c["face_id"]].cluster, id) << "the representative face is in its cluster";
    if (c.contains("person")) suggested[c["person"]["name"]] = id;
  }
  EXPECT_EQ(suggested["Ada"], by_id[obama[0].id].cluster);
  EXPECT_EQ(suggested["Bea"], by_id[obama[1].id].cluster);

  // Naming is the service's on its database: refused, nothing written.
  auto name = Cli({"people", "name", by_id[obama[3].id].cluster, "Cy", "--service-env", env});
  EXPECT_EQ(name.exit_code, 2) << name.output;
  EXPECT_NE(name.output.find("embedded SQLite catalog only"), std::string::npos) << name.output;
}

// A database of facefill's own keeps its vectors in pgvector: the same commands work there, reading them from it.
TEST_F(ServicePeopleTest, ClusterAndPeopleOnADatabaseOfFacefillsOwnWithPgvector) {
  url_ = testing::FreshPostgresDatabase("own", /*standalone=*/true);
  CopyPhotos({"celeb"});
  ScanAndBackfill({"--db", url_});
  auto run = Cli({"cluster", "--min-cluster-size", "3", "--json", "--db", url_});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_GE(run.last_json.value("clusters", 0), 3) << run.output;  // rdj, kit, alex
  std::map<std::string, std::set<std::string>> identities_in;
  for (const auto& f : PostgresFaces()) {
    if (!f.cluster.empty()) identities_in[f.cluster].insert(Identity(f.key));
  }
  for (const auto& [cluster, identities] : identities_in) {
    EXPECT_EQ(identities.size(), 1u) << "cluster " << cluster << " mixes " << *identities.begin() << " and "
                                     << *identities.rbegin();
  }
  EXPECT_EQ(identities_in.size(), static_cast<size_t>(run.last_json.value("clusters", 0)));
  auto again = Cli({"cluster", "--min-cluster-size", "3", "--json", "--db", url_});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.last_json["changed_faces"], 0) << again.output;
  EXPECT_EQ(again.last_json["kept_ids"], run.last_json["clusters"]) << again.output;
  // The exact variant (all pairs, from the vectors read) groups these few faces as the index's graph does.
  auto exact = Cli({"cluster", "--exact", "--min-cluster-size", "3", "--json", "--db", url_});
  ASSERT_EQ(exact.exit_code, 0) << exact.output;
  EXPECT_EQ(exact.last_json["changed_faces"], 0) << exact.output;
  EXPECT_EQ(exact.last_json["clusters"], run.last_json["clusters"]) << exact.output;
  auto people = Cli({"people", "--json", "--limit", "2", "--db", url_});
  ASSERT_EQ(people.exit_code, 0) << people.output;
  ASSERT_EQ(people.last_json.size(), 2u) << people.output;
  EXPECT_GE(people.last_json[0]["faces"].get<int>(), people.last_json[1]["faces"].get<int>());
}

}  // namespace
}  // namespace facefill
