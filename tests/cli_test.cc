// The facefill binary as a user runs it: `detect` on real photos and broken files, text and JSON output.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

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
