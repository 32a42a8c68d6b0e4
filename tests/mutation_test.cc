// 1,000 mutated images (bit flips, truncations, header edits) through scan + backfill: no crash, every file either
// processed or recorded with a reason, and the catalog consistent afterwards.
#include <gtest/gtest.h>

#include <random>

#include "facefill/backfill.h"
#include "facefill/library_scan.h"
#include "facefill/search.h"
#include "test_support.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using testing::SharedDir;

TEST(MutationTest, ThousandMutatedImagesAreEachProcessedOrRecorded) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
  FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  testing::TempDir dir;
  const fs::path library = dir / "library";
  fs::create_directories(library);
  const std::vector<std::string> sources = {"celeb/rob_lowe_0001.jpg", "celeb/rdj_d2.jpeg", "rotated/kun_r0.jpg",
                                            "celeb/kun.jpg" /* a PNG */, "noface/insightface_no_face.png"};
  std::vector<std::vector<uint8_t>> originals;
  for (const auto& s : sources) originals.push_back(testing::ReadBytes(SharedDir() / "images" / s));
  std::mt19937 rng(424242);
  constexpr int kImages = 1000;
  for (int i = 0; i < kImages; ++i) {
    auto bytes = originals[i % originals.size()];
    switch (i % 3) {
      case 0:  // bit flips anywhere
        for (int k = 0, n = 1 + static_cast<int>(rng() % 16); k < n; ++k)
          bytes[rng() % bytes.size()] ^= 1u << (rng() % 8);
        break;
      case 1:  // truncation
        bytes.resize(rng() % bytes.size());
        break;
      default:  // header edits: random bytes in the first 64
        for (int k = 0; k < 4; ++k) bytes[rng() % std::min<size_t>(64, bytes.size())] = static_cast<uint8_t>(rng());
        break;
    }
    testing::WriteBytes(library / ("mutant_" + std::to_string(i) + ".jpg"), bytes);
  }
  auto catalog = OpenCatalog("sqlite:" + (dir / "facefill.db").string());
  auto vectors = OpenVectorStore("", "sqlite:" + (dir / "facefill.db").string());
  ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
  ASSERT_TRUE(vectors.ok()) << vectors.status().ToString();
  auto scanned = ScanLibrary(library, catalog->get());
  ASSERT_TRUE(scanned.ok()) << scanned.status().ToString();
  ASSERT_EQ(scanned->counts.added, kImages);
  auto pack = LocateModelPack({testing::DefaultPackDir(), "", ""});
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  auto analyzer = FaceAnalyzer::Open(*pack);
  ASSERT_TRUE(analyzer.ok()) << analyzer.status().ToString();
  auto report = RunBackfill(**catalog, **vectors, **analyzer, {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->progress.processed, kImages);
  auto stats = (*catalog)->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->scanned + stats->errors, kImages) << "every file is either scanned or recorded with a reason";
  EXPECT_GT(stats->errors, 100);
  EXPECT_GT(stats->scanned, 100);
  for (const auto& [reason, count] : stats->errors_by_reason) {
    EXPECT_TRUE(reason == "corrupt_image" || reason == "unsupported_format" || reason == "empty_file" ||
                reason == "image_too_large")
        << reason << " x" << count;
  }
  auto check = CheckConsistency(**catalog, **vectors, false);
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_TRUE(check->clean());
  std::cout << kImages << " mutants: " << stats->scanned << " scanned (" << stats->faces << " faces), " << stats->errors
            << " recorded errors\n";
}

}  // namespace
}  // namespace facefill
