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

RunResult RunCli(const std::string& args) {
  std::string command = std::string(FACEFILL_CLI) + " " + args + " 2>/dev/null";
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

}  // namespace
}  // namespace facefill
