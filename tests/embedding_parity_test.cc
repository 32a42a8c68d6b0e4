// Golden parity of alignment + fr_feature embeddings against reference/fr_feature_embeddings_det2.5g.json and the
// identity similarities in reference/fr_feature_identity_similarity.tsv.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <sstream>

#include "facefill/analyzer.h"
#include "facefill/image.h"
#include "test_support.h"

namespace facefill {
namespace {

using testing::DefaultPackDir;
using testing::SharedDir;

class EmbeddingParityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shared_ = SharedDir();
    FACEFILL_REQUIRE_PATH(shared_, "../shared (models, photos, reference outputs)");
    FACEFILL_REQUIRE_PATH(DefaultPackDir(), "the default model pack (scripts/setup.sh)");
    auto pack = LocateModelPack({"", shared_ / "models/scrfd/det_2.5g.onnx", DefaultPackDir() / "fr_feature.onnx"});
    ASSERT_TRUE(pack.ok()) << pack.status().ToString();
    auto analyzer = FaceAnalyzer::Open(*pack);
    ASSERT_TRUE(analyzer.ok()) << analyzer.status().ToString();
    analyzer_ = std::move(analyzer).value();
  }

  // Embeddings of every reference image keyed "PATH#INDEX", in detection order.
  std::map<std::string, Embedding> EmbedAll(const nlohmann::json& reference) {
    std::map<std::string, Embedding> ours;
    std::set<std::string> images;
    for (const auto& [key, value] : reference.items()) images.insert(key.substr(0, key.rfind('#')));
    for (const auto& image : images) {
      auto decoded = DecodeImageFile(shared_ / image);
      EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
      if (!decoded.ok()) continue;
      if (image.rfind("images/aligned/", 0) == 0) {
        // Already an ArcFace-aligned 112x112 crop: the reference embeds it as is, without detection.
        auto embedding = analyzer_->embedder().Embed(std::span<const cv::Mat>(&decoded->bgr, 1));
        EXPECT_TRUE(embedding.ok()) << image << ": " << embedding.status().ToString();
        if (embedding.ok()) ours[image + "#0"] = (*embedding)[0];
        continue;
      }
      auto faces = analyzer_->Analyze(decoded->bgr);
      EXPECT_TRUE(faces.ok()) << image << ": " << faces.status().ToString();
      if (!faces.ok()) continue;
      for (size_t i = 0; i < faces->size(); ++i) ours[image + "#" + std::to_string(i)] = (*faces)[i].embedding;
    }
    return ours;
  }

  std::filesystem::path shared_;
  std::unique_ptr<FaceAnalyzer> analyzer_;
};

TEST_F(EmbeddingParityTest, EveryFaceMatchesReferenceEmbedding) {
  std::ifstream in(shared_ / "reference/fr_feature_embeddings_det2.5g.json");
  const auto reference = nlohmann::json::parse(in);
  auto ours = EmbedAll(reference);
  float worst = 1.0f;
  std::string worst_key;
  for (const auto& [key, value] : reference.items()) {
    auto it = ours.find(key);
    if (it == ours.end()) {
      ADD_FAILURE() << key << ": face not found by our det_2.5g";
      continue;
    }
    float cosine = CosineSimilarity(it->second, value.get<std::vector<float>>());
    if (cosine < worst) worst = cosine, worst_key = key;
    EXPECT_GE(cosine, 0.99f) << key << ": cosine with reference " << cosine;
  }
  EXPECT_EQ(ours.size(), reference.size()) << "we found a different number of faces than the reference";
  std::cout << reference.size() << " faces; lowest cosine " << worst << " (" << worst_key << ")\n";
}

TEST_F(EmbeddingParityTest, SameIdentitySimilaritiesReproduced) {
  std::ifstream emb_in(shared_ / "reference/fr_feature_embeddings_det2.5g.json");
  auto ours = EmbedAll(nlohmann::json::parse(emb_in));
  std::ifstream in(shared_ / "reference/fr_feature_identity_similarity.tsv");
  std::string line;
  std::getline(in, line);  // header
  int same_pairs = 0;
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string a, b;
    int same = 0;
    float cosine = 0;
    row >> a >> b >> same >> cosine;
    ASSERT_TRUE(ours.count(a) && ours.count(b)) << "missing face " << a << " or " << b;
    float mine = CosineSimilarity(ours[a], ours[b]);
    if (same == 1) {
      ++same_pairs;
      EXPECT_NEAR(mine, cosine, 0.02f) << a << " vs " << b;
    }
  }
  EXPECT_GT(same_pairs, 10);
}

TEST_F(EmbeddingParityTest, AlignedCropsMatchReferenceCrops) {
  // The reference crops are named <path with / as __>__<face index>.png.
  int compared = 0;
  for (const auto& entry : std::filesystem::directory_iterator(shared_ / "reference/aligned_crops")) {
    std::string name = entry.path().stem().string();
    size_t index_at = name.rfind("__");
    std::string image = name.substr(0, index_at);
    int index = std::stoi(name.substr(index_at + 2));
    std::string path;
    for (size_t i = 0; i < image.size(); ++i) {
      if (image.compare(i, 2, "__") == 0)
        path += '/', ++i;
      else
        path += image[i];
    }
    // Only the photos; extension is not in the crop name, so find the file.
    std::filesystem::path photo;
    for (const char* ext : {".jpg", ".jpeg", ".png"}) {
      if (std::filesystem::exists(shared_ / (path + ext))) photo = shared_ / (path + ext);
    }
    ASSERT_FALSE(photo.empty()) << "no photo for crop " << name;
    if (compared >= 40) break;  // a sample is enough here; embeddings above cover every face
    auto decoded = DecodeImageFile(photo);
    ASSERT_TRUE(decoded.ok());
    auto faces = analyzer_->Detect(decoded->bgr);
    ASSERT_TRUE(faces.ok());
    ASSERT_LT(index, static_cast<int>(faces->size())) << name;
    cv::Mat ours = analyzer_->Align(decoded->bgr, (*faces)[index].landmarks);  // the crop the backfill embeds
    cv::Mat reference = cv::imread(entry.path().string(), cv::IMREAD_COLOR);
    ASSERT_EQ(reference.size(), ours.size());
    cv::Mat diff;
    cv::absdiff(ours, reference, diff);
    double mean = cv::mean(diff).val[0];
    EXPECT_LT(mean, 2.0) << name << ": mean absolute pixel difference " << mean;
    ++compared;
  }
  EXPECT_GE(compared, 40);
}

}  // namespace
}  // namespace facefill
