// The facefill binary as a user runs it: `detect` on real photos and broken files, text and JSON output.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "facefill/stores.h"
#include "test_support.h"

namespace facefill {
namespace {

using testing::SharedDir;
using testing::TempDir;

struct RunResult {
  int exit_code;
  std::string out;
};

// Runs the CLI with `args` (shell words) and `env` (NAME=VALUE words); stdout only, or with stderr too.
RunResult RunCli(const std::string& args, bool with_stderr = false, const std::string& env = "") {
  std::string command = (env.empty() ? "" : "env " + env + " ") + std::string(FACEFILL_CLI) + " " + args +
                        (with_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  int status = pclose(pipe);
  return {WEXITSTATUS(status), out};
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

}  // namespace
}  // namespace facefill
