// `facefill search --image FILE`: the stored faces most similar to each face in FILE.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "facefill/face_index.h"
#include "facefill/image.h"
#include "facefill/search.h"
#include "model_flags.h"
#include "store_flags.h"

namespace facefill::cli {
namespace {

struct SearchFlags {
  StoreFlags stores;
  ModelFlags models;
  std::string image;
  SearchOptions options;
  bool json = false;
  bool exact = false;  // scan every vector instead of asking the HNSW index
  FaceIndexOptions index;
};

int Run(const SearchFlags& flags) {
  Stores stores;
  if (!OpenStores(flags.stores, &stores)) return kExitUsage;
  const bool sqlite_vectors = (flags.stores.vectors.empty() || flags.stores.vectors == "local") &&
                              !UsesPgvector(flags.stores.vectors, flags.stores.db);
  if (sqlite_vectors && !flags.exact)
    stores.vectors = WithFaceIndex(std::move(stores.vectors), flags.stores.db, flags.index);
  auto analyzer = OpenAnalyzer(flags.models, flags.models.threads >= 0 ? flags.models.threads : 0);
  if (!analyzer) return kExitUsage;
  auto image = DecodeImageFile(flags.image);
  if (!image.ok()) {
    spdlog::error("{}", image.status().ToString());
    return kExitPartial;
  }
  auto results = SearchByImage(*analyzer, *stores.catalog, *stores.vectors, image->bgr, flags.options);
  if (!results.ok()) {
    spdlog::error("{}", results.status().ToString());
    return kExitFailure;
  }
  nlohmann::json all = nlohmann::json::array();
  for (size_t q = 0; q < results->size(); ++q) {
    const auto& r = (*results)[q];
    if (!flags.json) {
      std::cout << fmt::format("query face {} [{:.0f}, {:.0f}, {:.0f}, {:.0f}]: {} match(es)\n", q, r.query.box.x1,
                               r.query.box.y1, r.query.box.x2, r.query.box.y2, r.hits.size());
    }
    nlohmann::json hits = nlohmann::json::array();
    for (const auto& h : r.hits) {
      if (flags.json) {
        hits.push_back({{"similarity", h.similarity},
                        {"face_id", h.face.id},
                        {"asset_id", h.face.asset_id},
                        {"path", h.face.asset_path},
                        {"bbox", {h.face.bbox_x, h.face.bbox_y, h.face.bbox_w, h.face.bbox_h}}});
      } else {
        std::cout << fmt::format("  {:.4f}  {}  box x={} y={} w={} h={}  face {}\n", h.similarity, h.face.asset_path,
                                 h.face.bbox_x, h.face.bbox_y, h.face.bbox_w, h.face.bbox_h, h.face.id);
      }
    }
    all.push_back({{"query_bbox", {r.query.box.x1, r.query.box.y1, r.query.box.x2, r.query.box.y2}},
                   {"query_score", r.query.score},
                   {"matches", hits}});
  }
  if (flags.json) std::cout << all.dump() << "\n";
  if (results->empty() && !flags.json) std::cout << "no face found in " << flags.image << "\n";
  return kExitOk;
}

}  // namespace

void RegisterSearch(CLI::App* app) {
  auto flags = std::make_shared<SearchFlags>();
  CLI::App* cmd = app->add_subcommand("search", "Find stored faces similar to the faces in an image");
  cmd->add_option("--image", flags->image, "Query image")->required();
  cmd->add_option("--top-k", flags->options.top_k, "Matches per query face")->capture_default_str();
  cmd->add_option("--min-similarity", flags->options.min_similarity, "Cosine threshold")->capture_default_str();
  AddStoreFlags(cmd, &flags->stores);
  AddModelFlags(cmd, &flags->models);
  cmd->add_flag("--exact", flags->exact,
                "Embedded store: compare with every stored vector instead of the HNSW index beside the catalog");
  cmd->add_option("--ef-search", flags->index.ef_search, "Embedded store: HNSW candidate list (recall vs latency)")
      ->capture_default_str();
  cmd->add_flag("--json", flags->json, "JSON output");
  cmd->final_callback([flags] { throw CommandResult(Run(*flags)); });
}

}  // namespace facefill::cli
