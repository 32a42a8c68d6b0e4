// `facefill detect IMAGE...`: faces of each image, no catalog.
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/landmarks_json.h"
#include "facefill/backfill.h"
#include "facefill/image.h"
#include "model_flags.h"

namespace facefill::cli {
namespace {

struct DetectFlags {
  std::vector<std::string> images;
  ModelFlags models;
  bool json = false;
  bool embeddings = false;
  DecodeOptions decode = BackfillOptions().decode;  // the same decode policy as the backfill, so results agree
};

nlohmann::json FaceJson(const AnalyzedFace& face, bool with_embedding) {
  const auto& d = face.detection;
  nlohmann::json j = {{"bbox", {d.box.x1, d.box.y1, d.box.x2, d.box.y2}}, {"score", d.score}};
  j["landmarks"] = LandmarksJson(d.landmarks);
  if (with_embedding) j["embedding"] = face.embedding;
  return j;
}

// Maps faces found in a reduced decode back to full-resolution pixels.
void ScaleFaces(double factor, std::vector<AnalyzedFace>* faces) {
  const float f = static_cast<float>(factor);
  for (auto& face : *faces) {
    auto& d = face.detection;
    d.box = BoxF{d.box.x1 * f, d.box.y1 * f, d.box.x2 * f, d.box.y2 * f};
    for (auto& p : d.landmarks) p = Point2f{p.x * f, p.y * f};
  }
}

int Run(const DetectFlags& flags) {
  auto analyzer = OpenAnalyzer(flags.models, flags.models.threads >= 0 ? flags.models.threads : 0);
  if (!analyzer) return kExitUsage;
  int failures = 0;
  for (const auto& path : flags.images) {
    auto image = DecodeImageFile(path, flags.decode);
    Result<std::vector<AnalyzedFace>> faces = image.ok() ? analyzer->Analyze(image->bgr, flags.embeddings)
                                                         : Result<std::vector<AnalyzedFace>>(image.status());
    if (faces.ok() && image->scale != 1.0) ScaleFaces(1.0 / image->scale, &*faces);
    if (!faces.ok()) {
      ++failures;
      if (flags.json) {
        nlohmann::json j = {
            {"path", path},
            {"error", {{"code", StatusCodeName(faces.status().code())}, {"message", faces.status().message()}}}};
        std::cout << j.dump() << "\n";
      } else {
        std::cerr << "error: " << faces.status().ToString() << "\n";
      }
      continue;
    }
    if (flags.json) {
      nlohmann::json j = {{"path", path}, {"width", image->width}, {"height", image->height}, {"faces", {}}};
      j["faces"] = nlohmann::json::array();
      for (const auto& face : *faces) j["faces"].push_back(FaceJson(face, flags.embeddings));
      std::cout << j.dump() << "\n";
      continue;
    }
    std::cout << fmt::format("{}: {}x{}, {} face(s)\n", path, image->width, image->height, faces->size());
    for (size_t i = 0; i < faces->size(); ++i) {
      const auto& d = (*faces)[i].detection;
      std::cout << fmt::format("  face {}: box [{:.1f}, {:.1f}, {:.1f}, {:.1f}] score {:.4f} landmarks", i, d.box.x1,
                               d.box.y1, d.box.x2, d.box.y2, d.score);
      for (const auto& p : d.landmarks) std::cout << fmt::format(" ({:.1f}, {:.1f})", p.x, p.y);
      std::cout << "\n";
      if (flags.embeddings) {
        const auto& e = (*faces)[i].embedding;
        std::cout << "    embedding [";
        for (size_t k = 0; k < e.size(); ++k) std::cout << (k ? ", " : "") << fmt::format("{:.6f}", e[k]);
        std::cout << "]\n";
      }
    }
  }
  return failures == 0 ? kExitOk : kExitPartial;
}

}  // namespace

void RegisterDetect(CLI::App* app) {
  auto flags = std::make_shared<DetectFlags>();
  CLI::App* cmd = app->add_subcommand("detect", "Print the faces found in images (no catalog)");
  cmd->add_option("images", flags->images, "Image files")->required();
  AddModelFlags(cmd, &flags->models);
  AddMaxFacesFlag(cmd, &flags->models);
  cmd->add_flag("--json", flags->json, "One JSON object per image");
  cmd->add_flag("--embeddings", flags->embeddings, "Also print each face's embedding");
  cmd->add_option("--decode-scale", flags->decode.reduce, "JPEG decode scale 1/N: 1, 2, 4, 8, or 0 for auto")
      ->capture_default_str();
  cmd->final_callback([flags] { throw CommandResult(Run(*flags)); });
}

}  // namespace facefill::cli
