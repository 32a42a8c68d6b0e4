// The facefill binary as a user runs it: `detect` on real photos and broken files, text and JSON output.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "facefill/stores.h"
#include "test_support.h"

namespace facefill {
namespace {

using testing::SharedDir;
using testing::TempDir;

using RunResult = testing::ChildResult;

// Runs the CLI with `args` (shell words) and `env` (NAME=VALUE words); stdout only, or with stderr too.
RunResult RunCli(const std::string& args, bool with_stderr = false, const std::string& env = "") {
  return testing::RunShell((env.empty() ? "" : "env " + env + " ") + std::string(FACEFILL_CLI) + " " + args +
                           (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

TEST(CliTest, DetectJsonReportsFacesAndPerFileErrors) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
  FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  TempDir dir;
  testing::WriteBytes(dir / "broken.jpg", {0xFF, 0xD8, 0xFF, 0xE0, 0x00});
  const auto obama = SharedDir() / "images/obama/obama.jpg";
  auto result = RunCli("detect --json --embeddings " + obama.string() + " " + (dir / "broken.jpg").string());
  EXPECT_EQ(result.exit_code, 1) << "a failed file must make the exit code 1";
  std::istringstream lines(result.out);
  std::string line;
  std::getline(lines, line);
  auto first = nlohmann::json::parse(line);
  EXPECT_EQ(first["width"], 910);
  ASSERT_EQ(first["faces"].size(), 1u);
  EXPECT_EQ(first["faces"][0]["embedding"].size(), 512u);
  EXPECT_EQ(first["faces"][0]["landmarks"].size(), 5u);
  EXPECT_TRUE(first["faces"][0]["landmarks"].contains("mouth_right"));
  std::getline(lines, line);
  auto second = nlohmann::json::parse(line);
  EXPECT_EQ(second["error"]["code"], "corrupt_image");
}

TEST(CliTest, DetectWithSharedScrfdPrintsBoxes) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (models, photos)");
  FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  auto result = RunCli("detect --detector " + (SharedDir() / "models/scrfd/det_2.5g.onnx").string() + " --recognizer " +
                       (testing::DefaultPackDir() / "fr_feature.onnx").string() + " " +
                       (SharedDir() / "images/group/insightface_t1.jpg").string());
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("6 face(s)"), std::string::npos) << result.out;
}

// The shared SCRFD with the default pack's recogniser: 6 faces on the InsightFace group photo.
std::string ScrfdModelArgs() {
  return "--detector " + (SharedDir() / "models/scrfd/det_2.5g.onnx").string() + " --recognizer " +
         (testing::DefaultPackDir() / "fr_feature.onnx").string();
}

// InsightFace's max_num ranking (insightface/model_zoo/scrfd.py detect): area minus twice the squared offset of the
// box centre from the image centre.
double LargestCentralValue(const nlohmann::json& face, int width, int height) {
  const auto& b = face["bbox"];
  const double x1 = b[0], y1 = b[1], x2 = b[2], y2 = b[3];
  const double dx = (x1 + x2) / 2 - width / 2, dy = (y1 + y2) / 2 - height / 2;
  return (x2 - x1) * (y2 - y1) - 2 * (dx * dx + dy * dy);
}

TEST(CliTest, DetectMaxFacesKeepsTheLargestAndMostCentralFaces) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (models, photos)");
  FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  const std::string group = (SharedDir() / "images/group/insightface_t1.jpg").string();
  auto all = RunCli("detect --json --decode-scale 1 " + ScrfdModelArgs() + " " + group);
  ASSERT_EQ(all.exit_code, 0) << all.out;
  auto every = nlohmann::json::parse(all.out);
  ASSERT_EQ(every["faces"].size(), 6u) << group;
  const int width = every["width"], height = every["height"];
  std::vector<nlohmann::json> ranked(every["faces"].begin(), every["faces"].end());
  std::stable_sort(ranked.begin(), ranked.end(), [&](const nlohmann::json& a, const nlohmann::json& b) {
    return LargestCentralValue(a, width, height) > LargestCentralValue(b, width, height);
  });

  auto limited = RunCli("detect --json --decode-scale 1 --max-faces 3 " + ScrfdModelArgs() + " " + group);
  ASSERT_EQ(limited.exit_code, 0) << limited.out;
  auto kept = nlohmann::json::parse(limited.out)["faces"];
  ASSERT_EQ(kept.size(), 3u) << group << ": --max-faces 3";
  for (size_t i = 0; i < 3; ++i) {
    for (size_t k = 0; k < 4; ++k) {
      EXPECT_NEAR(kept[i]["bbox"][k].get<double>(), ranked[i]["bbox"][k].get<double>(), 0.01)
          << group << ": face " << i << " is the " << i + 1 << "th largest and most central";
    }
  }
  // 0 keeps every face; a negative count is a usage error.
  auto zero = RunCli("detect --json --decode-scale 1 --max-faces 0 " + ScrfdModelArgs() + " " + group);
  EXPECT_EQ(nlohmann::json::parse(zero.out)["faces"].size(), 6u);
  EXPECT_EQ(RunCli("detect --max-faces -1 " + group).exit_code, 2);
}

TEST(CliTest, BackfillMaxFacesLimitsTheStoredFaces) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (models, photos)");
  FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  TempDir dir;
  std::filesystem::create_directories(dir / "photos");
  std::filesystem::copy_file(SharedDir() / "images/group/insightface_t1.jpg", dir / "photos/group.jpg");
  const std::string db = "sqlite:" + (dir / "facefill.db").string();
  ASSERT_EQ(RunCli("scan " + (dir / "photos").string() + " --db " + db).exit_code, 0);
  auto run = RunCli("backfill -q --max-faces 2 --db " + db + " " + ScrfdModelArgs(), true);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  auto stores = OpenStores(db, "");
  ASSERT_TRUE(stores.ok()) << stores.status().ToString();
  auto ids = stores->catalog->AllPointIds();
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  EXPECT_EQ(ids->size(), 2u) << "6 faces in the photo, --max-faces 2";
  // A queued job runs with the workers' models: the flag belongs on `facefill worker`.
  auto queued = RunCli("backfill --max-faces 2 --db " + db + " --queue redis://127.0.0.1:1/0", true);
  EXPECT_EQ(queued.exit_code, 2);
  EXPECT_NE(queued.out.find("facefill worker"), std::string::npos) << queued.out;
}

TEST(CliTest, MissingModelsIsAUsageError) {
  auto result = RunCli("detect --models /nonexistent/pack /dev/null");
  EXPECT_EQ(result.exit_code, 2);
}

// Secrets (database password, Qdrant API key, Redis password) come from the URL or the environment and never
// appear in what facefill prints, on success or failure, in text or JSON.
TEST(CliTest, SecretsNeverAppearInOutput) {
  TempDir dir;
  const std::string db = "sqlite:" + (dir / "facefill.db").string();
  const std::vector<std::pair<std::string, std::string>> commands = {
      {"", "stats --db 'postgresql://facefill:pg-hunter2@127.0.0.1:1/library?connect_timeout=1'"},
      {"", "jobs --queue 'redis://:redis-hunter2@127.0.0.1:1/0'"},
      {"FACEFILL_REDIS_PASSWORD=redis-hunter2", "jobs --json --queue redis://127.0.0.1:1/0"},
      {"FACEFILL_QDRANT_API_KEY=qdrant-hunter2",
       "check --db " + db + " --vectors 'qdrant://127.0.0.1:1/faces?retries=0'"},
      {"", "stats --db " + db + " --vectors 'qdrant://user:qdrant-hunter2@127.0.0.1:1/faces'"},
  };
  for (const auto& [env, command] : commands) {
    auto result = RunCli(command, true, env);
    EXPECT_NE(result.exit_code, 0) << command;
    EXPECT_EQ(result.out.find("hunter2"), std::string::npos) << command << "\n" << result.out;
    EXPECT_FALSE(result.out.empty()) << "a failure says why: " << command;
  }
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The sample photos scripts/setup.sh fetches (faces, MIT licence); empty when absent.
std::filesystem::path SamplePhotos() {
  return testing::DefaultPackDir().empty() ? std::filesystem::path()
                                           : testing::DefaultPackDir().parent_path().parent_path() / "samples";
}

// Read-only commands never create a catalog: a typo in --db says so and fails.
TEST(CliTest, ReadOnlyCommandsOnAMissingCatalogSaySoAndCreateNothing) {
  TempDir dir;
  const auto db = dir / "typo.db";
  for (const std::string command : {"stats", "check", "errors", "search --image /dev/null"}) {
    auto result = RunCli(command + " --db sqlite:" + db.string(), true);
    EXPECT_EQ(result.exit_code, 2) << command << "\n" << result.out;
    EXPECT_NE(result.out.find("no catalog at " + db.string()), std::string::npos) << command << "\n" << result.out;
    EXPECT_NE(result.out.find("facefill scan DIR"), std::string::npos) << result.out;
    EXPECT_FALSE(std::filesystem::exists(db)) << command << " created the catalog";
  }
  auto scan = RunCli("scan " + dir.path().string() + " --db sqlite:" + db.string(), true);
  EXPECT_EQ(scan.exit_code, 0) << scan.out;
  EXPECT_TRUE(std::filesystem::exists(db)) << "scan creates the catalog";
  auto stats = RunCli("stats --db sqlite:" + db.string(), true);
  EXPECT_EQ(stats.exit_code, 0) << stats.out;
}

TEST(CliTest, MistakesGetOneClearLine) {
  TempDir dir;
  auto mysql = RunCli("stats --db mysql://user@localhost/library", true);
  EXPECT_EQ(mysql.exit_code, 2);
  EXPECT_NE(mysql.out.find("unsupported scheme 'mysql'"), std::string::npos) << mysql.out;
  EXPECT_FALSE(std::filesystem::exists("mysql://user@localhost/library"));

  auto typo = RunCli("backfil", true);
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.out.find("unknown subcommand 'backfil', did you mean backfill?"), std::string::npos) << typo.out;

  // -v after the subcommand works as before it.
  const std::string db = "sqlite:" + (dir / "facefill.db").string();
  ASSERT_EQ(RunCli("scan " + dir.path().string() + " --db " + db).exit_code, 0);
  auto after = RunCli("stats --db " + db + " -v", true);
  EXPECT_EQ(after.exit_code, 0) << after.out;
  auto before = RunCli("-v stats --db " + db, true);
  EXPECT_EQ(before.exit_code, 0) << before.out;

  // An unreachable PostgreSQL: one error line with the redacted URL and a hint, exit 3 (README: store failure).
  auto pg = RunCli("stats --db 'postgresql://facefill:pw-secret@127.0.0.1:1/library?connect_timeout=1'", true);
  EXPECT_EQ(pg.exit_code, 3) << pg.out;
  EXPECT_EQ(Count(pg.out, "\n"), 1u) << "one line:\n" << pg.out;
  EXPECT_NE(pg.out.find("postgresql://facefill:***@127.0.0.1:1/library"), std::string::npos) << pg.out;
  EXPECT_NE(pg.out.find("check that the server is up and --db"), std::string::npos) << pg.out;
  EXPECT_EQ(pg.out.find("pw-secret"), std::string::npos) << pg.out;
}

TEST(CliTest, EmptyModelsFolderSuggestsLeavingItOutAndTouchesNoCatalog) {
  TempDir dir;
  std::filesystem::create_directory(dir / "models");
  const auto db = dir / "facefill.db";
  auto result = RunCli("backfill --models " + (dir / "models").string() + " --db sqlite:" + db.string(), true);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.out.find("leave --models out"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("--detector"), std::string::npos) << result.out;
  EXPECT_FALSE(std::filesystem::exists(db));
}

// The pipeline's sizes have names that say what they count, and their earlier names (--batch-size, --workers,
// --write-batch, --claim-batch) still work, unlisted: each name reaches its setting (a value the backfill refuses
// names the setting), the inference threads show in the report, and giving both names of one setting is an error.
TEST(CliTest, PipelineSizesHaveOneNameEachAndTheEarlierNamesStillWork) {
  FACEFILL_REQUIRE_PATH(SamplePhotos(), "the sample photos (scripts/setup.sh)");
  TempDir dir;
  std::filesystem::create_directory(dir / "photos");
  std::filesystem::copy_file(SamplePhotos() / "sample1.jpg", dir / "photos/people.jpg");
  const std::string db = " --db sqlite:" + (dir / "facefill.db").string();
  ASSERT_EQ(RunCli("scan " + (dir / "photos").string() + db).exit_code, 0);
  struct Setting {
    std::string name, earlier_name, refused_value, refusal;
  };
  const std::vector<Setting> settings = {
      {"--faces-per-call", "--batch-size", "0", "faces per call must be >= 1"},
      {"--inference-threads", "--workers", "-1", "inference threads must be >= 0"},
      {"--assets-per-commit", "--write-batch", "0", "assets per commit must be >= 1"},
      {"--assets-per-lease", "--claim-batch", "0", "assets per lease and lease seconds must be >= 1"}};
  const auto help = RunCli("backfill --help").out;
  const auto worker_help = RunCli("worker --help").out;
  for (const auto& s : settings) {
    for (const auto& name : {s.name, s.earlier_name}) {
      auto refused = RunCli("backfill" + db + " " + name + " " + s.refused_value, true);
      EXPECT_NE(refused.exit_code, 0) << name;
      EXPECT_NE(refused.out.find(s.refusal), std::string::npos) << name << ": " << refused.out;
    }
    auto both = RunCli("backfill" + db + " " + s.name + " 1 " + s.earlier_name + " 1", true);
    EXPECT_EQ(both.exit_code, 2) << both.out;
    EXPECT_NE(both.out.find("excludes"), std::string::npos) << both.out;
    EXPECT_NE(help.find(s.name), std::string::npos) << help;
    EXPECT_EQ(help.find(s.earlier_name + " "), std::string::npos) << "listed in --help: " << s.earlier_name;
    EXPECT_NE(worker_help.find(s.name), std::string::npos) << worker_help;
  }
  // Values that run: the inference threads are the report's detect threads, under either name.
  auto stage_threads = [](const std::string& out) {
    const auto report = nlohmann::json::parse(out);
    for (const auto& stage : report["stages"]) {
      if (stage["stage"] == "detect") return stage["threads"].get<int>();
    }
    return -1;
  };
  auto run = RunCli("backfill --json" + db +
                    " --inference-threads 3 --faces-per-call 2 --assets-per-commit 1 --assets-per-lease 1");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_EQ(stage_threads(run.out), 3) << run.out;
  auto earlier =
      RunCli("backfill --json --rescan" + db + " --workers 2 --batch-size 2 --write-batch 1 --claim-batch 1");
  ASSERT_EQ(earlier.exit_code, 0) << earlier.out;
  EXPECT_EQ(stage_threads(earlier.out), 2) << earlier.out;
  EXPECT_EQ(nlohmann::json::parse(earlier.out)["processed"], 1) << earlier.out;
}

TEST(CliTest, BackfillWithNothingPendingSaysWhatToDo) {
  FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  TempDir dir;
  std::filesystem::create_directory(dir / "photos");
  const std::string db = " --db sqlite:" + (dir / "facefill.db").string();
  ASSERT_EQ(RunCli("scan " + (dir / "photos").string() + db).exit_code, 0);
  auto result = RunCli("backfill" + db, true);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("nothing pending"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("run `facefill scan DIR` first"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("bottleneck"), std::string::npos) << result.out;
  auto json = RunCli("backfill --json" + db);
  EXPECT_EQ(nlohmann::json::parse(json.out)["nothing_pending"], true) << json.out;
  // The vector store is reached up front: an unreachable Qdrant fails even with nothing to do.
  auto qdrant = RunCli("backfill" + db + " --vectors 'qdrant://127.0.0.1:1/faces?retries=0'", true);
  EXPECT_EQ(qdrant.exit_code, 3) << qdrant.out;
  EXPECT_NE(qdrant.out.find("Qdrant collection 'faces' at http://127.0.0.1:1"), std::string::npos) << qdrant.out;
  EXPECT_EQ(qdrant.out.find("nothing pending"), std::string::npos) << qdrant.out;
}

// Failed files are listed by `errors` (text and JSON) and the first few in the backfill's summary; `scan --prune`
// removes the assets whose files are gone, with their faces and vectors.
TEST(CliTest, ErrorsListsFailedFilesAndPruneRemovesDeletedOnes) {
  FACEFILL_REQUIRE_PATH(SamplePhotos(), "the sample photos (scripts/setup.sh)");
  TempDir dir;
  const auto photos = dir / "photos";
  std::filesystem::create_directory(photos);
  std::filesystem::copy_file(SamplePhotos() / "sample1.jpg", photos / "people.jpg");
  testing::WriteBytes(photos / "broken.jpg", {0xFF, 0xD8, 0xFF, 0xE0, 0x00});
  testing::WriteBytes(photos / "empty.png", {});
  const std::string db = " --db sqlite:" + (dir / "facefill.db").string();
  ASSERT_EQ(RunCli("scan " + photos.string() + db).exit_code, 0);
  auto backfill = RunCli("backfill -q" + db);
  EXPECT_EQ(backfill.exit_code, 0) << backfill.out;
  EXPECT_NE(backfill.out.find("corrupt_image  " + (photos / "broken.jpg").string()), std::string::npos) << backfill.out;
  EXPECT_NE(backfill.out.find("empty_file  " + (photos / "empty.png").string()), std::string::npos) << backfill.out;
  auto text = RunCli("errors" + db);
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("2 failed file(s)"), std::string::npos) << text.out;
  auto json = nlohmann::json::parse(RunCli("errors --json" + db).out);
  ASSERT_EQ(json.size(), 2u) << json.dump();
  std::set<std::string> reasons;
  for (const auto& e : json) {
    reasons.insert(e["reason"].get<std::string>());
    EXPECT_FALSE(e["message"].get<std::string>().empty()) << e.dump();
  }
  EXPECT_EQ(reasons, (std::set<std::string>{"corrupt_image", "empty_file"}));
  EXPECT_EQ(RunCli("errors --json --limit 1" + db).out.empty(), false);
  EXPECT_EQ(nlohmann::json::parse(RunCli("errors --json --limit 1" + db).out).size(), 1u);

  auto before = nlohmann::json::parse(RunCli("stats --json" + db).out);
  ASSERT_GT(before["faces"].get<int>(), 0) << before.dump();
  std::filesystem::remove(photos / "people.jpg");
  std::filesystem::remove(photos / "broken.jpg");
  auto plain = nlohmann::json::parse(RunCli("scan --json " + photos.string() + db).out);
  EXPECT_EQ(plain["pruned_assets"], 0) << "never pruned by default";
  EXPECT_EQ(nlohmann::json::parse(RunCli("stats --json" + db).out)["assets"], 3);
  auto pruned = nlohmann::json::parse(RunCli("scan --json --prune " + photos.string() + db).out);
  EXPECT_EQ(pruned["pruned_assets"], 2) << pruned.dump();
  EXPECT_EQ(pruned["pruned_faces"], before["faces"]) << pruned.dump();
  auto after = nlohmann::json::parse(RunCli("stats --json" + db).out);
  EXPECT_EQ(after["assets"], 1);
  EXPECT_EQ(after["faces"], 0);
  EXPECT_EQ(after["vectors"], 0) << "the vectors go with the faces";
  EXPECT_EQ(RunCli("check" + db).exit_code, 0);
  auto refused = RunCli("scan --prune " + photos.string() + " --db postgresql://u@127.0.0.1:1/db", true);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.out.find("--prune is refused"), std::string::npos) << refused.out;
}

TEST(CliTest, CorpusDefaultsToTheSharedOrSamplePhotos) {
  FACEFILL_REQUIRE_PATH(SamplePhotos(), "the sample photos (scripts/setup.sh)");
  TempDir dir;
  auto result = RunCli("corpus --out " + (dir / "corpus").string() + " --count 2 --profile 3mp", true);
  EXPECT_EQ(result.exit_code, 0) << result.out;
  EXPECT_NE(result.out.find("2 images written"), std::string::npos) << result.out;
}

// With the default pack's calibrated floor, the dogs are not faces, and search marks the same person.
TEST(CliTest, DefaultFloorDropsTheDogsAndSearchMarksTheSamePerson) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
  FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  TempDir dir;
  const auto photos = dir / "photos";
  std::filesystem::create_directory(photos);
  for (const char* file : {"noface/dlib_dogs.jpg", "obama/obama.jpg", "biden/biden.jpg", "celeb/rob_lowe_0001.jpg"}) {
    std::filesystem::copy_file(SharedDir() / "images" / file, photos / std::filesystem::path(file).filename());
  }
  const std::string db = " --db sqlite:" + (dir / "facefill.db").string();
  ASSERT_EQ(RunCli("scan " + photos.string() + db).exit_code, 0);
  auto backfill = nlohmann::json::parse(RunCli("backfill --json" + db).out);
  EXPECT_EQ(backfill["faces"], 3) << "one face per person, none on the dogs: " << backfill.dump();
  EXPECT_EQ(backfill["no_faces"], 1) << backfill.dump();
  auto search = RunCli("search --image " + (SharedDir() / "images/obama/obama2.jpg").string() + db);
  EXPECT_EQ(search.exit_code, 0);
  EXPECT_NE(search.out.find("1 likely the same person"), std::string::npos) << search.out;
  EXPECT_NE(search.out.find(" * " + (photos / "obama.jpg").string()), std::string::npos) << search.out;
  EXPECT_NE(search.out.find("   " + (photos / "biden.jpg").string()), std::string::npos) << search.out;
  auto json = nlohmann::json::parse(
      RunCli("search --json --image " + (SharedDir() / "images/obama/obama2.jpg").string() + db).out);
  int same = 0;
  for (const auto& hit : json[0]["matches"]) same += hit["same_person"].get<bool>() ? 1 : 0;
  EXPECT_EQ(same, 1) << json.dump();
}

}  // namespace
}  // namespace facefill
