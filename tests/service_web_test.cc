// `facefill serve` on the image-search service's own database (../shared/service/schema.sql in a real PostgreSQL)
// with its Qdrant collection on the loopback server, after a real backfill and clustering of shared photos through
// the CLI: the pages over HTTP (tests/web/web_test.py's `service` mode: People against `facefill people --json`, the
// obama person, a photo's boxes, search by a stored face and by upload, Status, writes refused with nothing changed,
// paths outside the catalog 404), and Qdrant only read while it served.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "fake_qdrant.h"
#include "test_support.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::FakeQdrant;
using testing::SharedDir;
using testing::ShellQuote;
using testing::TempDir;

testing::ChildResult Cli(const std::vector<std::string>& args) { return testing::RunQuoted(FACEFILL_CLI, args); }

class ServiceWebTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FACEFILL_REQUIRE_PATH(SharedDir() / "images", "../shared/images");
    FACEFILL_REQUIRE_PATH(SharedDir() / "service" / "schema.sql", "../shared/service/schema.sql");
    FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
    ASSERT_NE(testing::Services(), nullptr);
  }

  // A database as the service's migrations leave it.
  void CreateServiceDatabase() { url_ = testing::FreshServiceDatabase("web"); }

  // The service's settings file: this database, the loopback Qdrant's `faces` collection and the test Redis (whose
  // job queue the Status page shows).
  std::string ServiceEnv(const FakeQdrant& qdrant) {
    return testing::WriteServiceEnv(dir_ / "service.env", url_, qdrant.url("faces"),
                                    "REDIS_URL=" + testing::Services()->redis + "/7\n");
  }

  fs::path library() const { return dir_ / "library"; }

  // Catalogues a library of shared photos (their folders kept, so MANIFEST.tsv's paths name them) into the catalog
  // `stores` name, clusters it, marks one face as the service's noise and swaps a photo for a symlink out of the
  // library.
  void Catalogue(const std::vector<std::string>& stores) {
    const fs::path library = this->library();
    fs::create_directories(library);
    for (const char* folder : {"obama", "biden", "celeb"}) {
      fs::copy(SharedDir() / "images" / folder, library / folder, fs::copy_options::recursive);
    }
    fs::create_directories(library / "group");
    for (const char* photo : {"two_people_obama_biden.jpg", "obama_and_biden_waving.jpg", "kit_with_rose.jpg"}) {
      fs::copy_file(SharedDir() / "images" / "group" / photo, library / "group" / photo);
    }
    // A photo that is swapped for a symlink leading out of the library once it is catalogued.
    fs::create_directories(library / "linked");
    fs::copy_file(SharedDir() / "images" / "biden" / "biden.jpg", library / "linked" / "biden_link.jpg");
    for (std::vector<std::string> args :
         {std::vector<std::string>{"scan", library.string()}, std::vector<std::string>{"backfill", "-q"},
          std::vector<std::string>{"cluster", "--min-cluster-size", "3"}}) {
      args.insert(args.end(), stores.begin(), stores.end());
      auto [code, out] = Cli(args);
      ASSERT_EQ(code, 0) << args[0] << ": " << out;
    }
    {
      // A face the service keeps out of clustering (its noise marker "-1"): shown as unclustered, in no person.
      pqxx::connection conn(url_);
      pqxx::work txn(conn);
      txn.exec(
          "UPDATE face_instances SET cluster_id = '-1' WHERE id = (SELECT f.id FROM face_instances f JOIN "
          "image_assets a ON a.id = f.asset_id WHERE f.cluster_id IS NOT NULL AND a.path LIKE '%/celeb/%' ORDER BY "
          "f.id LIMIT 1)");
      txn.commit();
    }
    fs::create_directories(dir_ / "outside");
    fs::copy_file(SharedDir() / "images" / "biden" / "biden.jpg", dir_ / "outside" / "secret.jpg");
    fs::remove(library / "linked" / "biden_link.jpg");
    fs::create_symlink(dir_ / "outside" / "secret.jpg", library / "linked" / "biden_link.jpg");
  }

  // web_test.py's `service` mode: `facefill serve` over that catalog, its pages over HTTP and in headless Chromium,
  // from the Python driver the other web tests use; screenshots beside theirs (build/tests/web-test/screenshots when
  // run by ctest).
  void ServePages(const std::vector<std::string>& stores) {
    const fs::path shots = fs::current_path() / "web-test" / "screenshots";
    auto [code, out] =
        testing::RunShell("FACEFILL_SERVICE_SHOTS=" + ShellQuote(shots.string()) + " FACEFILL_SERVICE_STORES=" +
                          ShellQuote(json(stores).dump()) + " FACEFILL_SERVICE_PG=" + ShellQuote(url_) +
                          " FACEFILL_SERVICE_LIBRARY=" + ShellQuote(library().string()) + " /usr/bin/python3 " +
                          ShellQuote(FACEFILL_WEB_TEST) + " service " + ShellQuote(FACEFILL_CLI) + " " +
                          ShellQuote(SharedDir().string()) + " " + ShellQuote((dir_ / "web").string()) + " 2>&1");
    std::cout << out;
    EXPECT_EQ(code, 0) << "web_test.py service failed (its FAIL lines above)";
    EXPECT_NE(out.find("all checks passed"), std::string::npos);
  }

  TempDir dir_;
  std::string url_;
};

TEST_F(ServiceWebTest, ServeReadsTheServicesDatabaseAndItsQdrantAndRefusesWrites) {
  CreateServiceDatabase();
  FakeQdrant qdrant;
  const std::string env = ServiceEnv(qdrant);
  Catalogue({"--service-env", env});
  ASSERT_GT(qdrant.PointCount("faces"), 20u);
  const size_t from = qdrant.requests().size();
  ServePages({"--service-env", env});

  // While it served, Qdrant was only read: point retrieves and searches, nothing written.
  const auto requests = qdrant.requests();
  size_t reads = 0;
  for (size_t i = from; i < requests.size(); ++i) {
    const auto& r = requests[i];
    const std::string path = r.target.substr(0, r.target.find('?'));
    const bool read = (r.method == "POST" &&
                       (path == "/collections/faces/points" ||  // retrieve
                        path == "/collections/faces/points/query" || path == "/collections/faces/points/search" ||
                        path == "/collections/faces/points/count")) ||
                      r.method == "GET";
    EXPECT_TRUE(read) << "serve sent " << r.method << " " << r.target << " " << r.body.substr(0, 200);
    if (read && path == "/collections/faces/points") {
      EXPECT_FALSE(json::parse(r.body).contains("points")) << "a retrieve, not an upsert: " << r.body.substr(0, 200);
    }
    reads += read ? 1 : 0;
  }
  EXPECT_GE(reads, 2u) << "searches went to the service's Qdrant collection";
}

// A PostgreSQL database of facefill's own keeps its vectors in pgvector: serve reads them there, read only too.
TEST_F(ServiceWebTest, ServeReadsADatabaseOfFacefillsOwnWithPgvector) {
  url_ = testing::FreshPostgresDatabase("webown", /*standalone=*/true);
  Catalogue({"--db", url_});
  ServePages({"--db", url_});
}

}  // namespace
}  // namespace facefill
