// `facefill models batchify` on the real models: the rewrite runs batches and is proven equivalent, refusals say
// why and write nothing.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <fstream>
#include <map>

#include "inference/onnx_model.h"
#include "test_support.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using testing::DefaultPackDir;
using testing::RunShell;
using testing::SharedDir;
using testing::TempDir;

std::string Quote(const fs::path& path) { return "'" + path.string() + "'"; }

testing::ChildResult Batchify(const fs::path& in, const fs::path& out, const std::string& extra = "") {
  return RunShell(std::string(FACEFILL_CLI) + " models batchify " + Quote(in) + " " + Quote(out) + " --images " +
                  Quote(SharedDir() / "images") + " " + extra + " 2>&1");
}

struct Case {
  std::string name;
  bool detector;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class BatchifyTest : public ::testing::TestWithParam<Case> {};

fs::path ModelPath(const Case& c) {
  return c.detector ? SharedDir() / "models/scrfd" / (c.name + ".onnx") : DefaultPackDir() / (c.name + ".onnx");
}

TEST_P(BatchifyTest, RewritesAndVerifiesOnSharedPhotos) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (models, photos)");
  FACEFILL_REQUIRE_PATH(DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  TempDir dir;
  const fs::path out = dir / "batched.onnx";
  auto result = Batchify(ModelPath(GetParam()), out, "--batch 4 --tolerance 1e-5");
  ASSERT_EQ(result.exit_code, 0) << result.out;
  EXPECT_NE(result.out.find("verified: a batch of 4 photos"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find(GetParam().detector ? "at 640x640, 640x480" : "at 112x112"), std::string::npos)
      << result.out;
  EXPECT_FALSE(fs::exists(out.string() + ".partial"));

  auto model = inference::OnnxModel::Open(out, {});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->inputs()[0].shape[0], -1);
  for (const auto& output : (*model)->outputs()) {
    // Detectors: [batch, N, C] (the Reshapes no longer flatten the batch away); recognisers: [batch, D].
    ASSERT_EQ(output.shape.size(), GetParam().detector ? 3u : 2u) << output.name;
    EXPECT_EQ(output.shape[0], -1) << output.name;
  }
  if (GetParam().detector) {
    EXPECT_NE(result.out.find("target (-1, 4) -> (0, -1, 4)"), std::string::npos) << result.out;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, BatchifyTest,
                         ::testing::Values(Case{"fr_feature", false}, Case{"det_500m", true}, Case{"det_2.5g", true},
                                           Case{"scrfd_2.5g_bnkps", true}),
                         [](const ::testing::TestParamInfo<Case>& param_info) {
                           std::string name = param_info.param.name;
                           for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });

TEST(BatchifyRefusal, TruncatedModelIsRefusedAndNothingWritten) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (models, photos)");
  TempDir dir;
  auto bytes = testing::ReadBytes(SharedDir() / "models/scrfd/det_500m.onnx");
  bytes.resize(bytes.size() / 3);
  testing::WriteBytes(dir / "truncated.onnx", bytes);
  auto result = Batchify(dir / "truncated.onnx", dir / "out.onnx");
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_NE(result.out.find("not a readable ONNX model"), std::string::npos) << result.out;
  EXPECT_FALSE(fs::exists(dir / "out.onnx"));
  EXPECT_FALSE(fs::exists(dir / "out.onnx.partial"));
}

// A recogniser whose last Reshape pins the batch in a form the rewrite does not know ((2, -1) instead of (1, -1),
// as exports that build their targets from constants do): it runs alone, but the check must refuse it.
TEST(BatchifyRefusal, PinnedBatchFailsTheCheckAndNothingWritten) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
  FACEFILL_REQUIRE_PATH(DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  TempDir dir;
  onnx::ModelProto model;
  {
    std::ifstream in(DefaultPackDir() / "fr_feature.onnx", std::ios::binary);
    ASSERT_TRUE(model.ParseFromIstream(&in));
  }
  int changed = 0;
  for (auto& init : *model.mutable_graph()->mutable_initializer()) {
    if (init.data_type() != onnx::TensorProto::INT64 || init.raw_data().size() != 2 * sizeof(int64_t)) continue;
    const int64_t pinned[2] = {2, -1};
    init.set_raw_data(std::string(reinterpret_cast<const char*>(pinned), sizeof(pinned)));
    ++changed;
  }
  ASSERT_EQ(changed, 1);
  {
    std::ofstream out(dir / "pinned.onnx", std::ios::binary);
    ASSERT_TRUE(model.SerializeToOstream(&out));
  }
  auto result = Batchify(dir / "pinned.onnx", dir / "out.onnx");
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_NE(result.out.find("batch check failed, nothing written"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("pins the batch"), std::string::npos) << result.out;
  EXPECT_FALSE(fs::exists(dir / "out.onnx"));
  EXPECT_FALSE(fs::exists(dir / "out.onnx.partial"));
}

// --tight-input reaches the detector (its description, logged with -v, says so), and only when given.
TEST(TightInputFlag, ReachesTheDetector) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (models, photos)");
  FACEFILL_REQUIRE_PATH(DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  const std::string command = std::string(FACEFILL_CLI) + " detect -v --detector " +
                              Quote(SharedDir() / "models/scrfd/det_2.5g.onnx") + " --recognizer " +
                              Quote(DefaultPackDir() / "fr_feature.onnx") + " " +
                              Quote(SharedDir() / "images/obama/obama.jpg");
  auto tight = RunShell(command + " --tight-input 2>&1");
  ASSERT_EQ(tight.exit_code, 0) << tight.out;
  EXPECT_NE(tight.out.find("640x640 tight"), std::string::npos) << tight.out;
  auto square = RunShell(command + " 2>&1");
  ASSERT_EQ(square.exit_code, 0) << square.out;
  EXPECT_NE(square.out.find("640x640, cpu)"), std::string::npos) << square.out;
  EXPECT_EQ(square.out.find("tight"), std::string::npos) << square.out;
}

// `models show` names the files the flags resolve to, as text and as JSON, with the overrides applied.
TEST(ModelsShow, NamesThePacksFiles) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (models)");
  FACEFILL_REQUIRE_PATH(DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  const std::string show = std::string(FACEFILL_CLI) + " models show --models " + Quote(DefaultPackDir());
  auto text = RunShell(show + " 2>&1");
  ASSERT_EQ(text.exit_code, 0) << text.out;
  EXPECT_NE(text.out.find("recognizer  " + (DefaultPackDir() / "fr_feature.onnx").string()), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("landmarks"), std::string::npos) << text.out;
  const fs::path detector = SharedDir() / "models/scrfd/det_500m.onnx";
  auto json = RunShell(show + " --detector " + Quote(detector) + " --json");
  ASSERT_EQ(json.exit_code, 0) << json.out;
  EXPECT_NE(json.out.find("\"detector\":\"" + detector.string() + "\""), std::string::npos) << json.out;
  auto missing = RunShell(std::string(FACEFILL_CLI) + " models show --models /nonexistent-pack 2>&1");
  EXPECT_EQ(missing.exit_code, 2) << missing.out;
}

}  // namespace
}  // namespace facefill
