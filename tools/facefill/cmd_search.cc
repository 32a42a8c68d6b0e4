// `facefill search --image FILE`: the stored faces most similar to each face in FILE.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "facefill/calibration.h"
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

int Run(SearchFlags flags) {
  Stores stores;
  if (int rc = OpenStoresOrExit(flags.stores, &stores); rc != kExitOk) return rc;
  // The index sits beside an embedded catalog's own vectors (not the service's collection, not pgvector).
  const bool sqlite_vectors = flags.stores.service_env.empty() &&
                              (flags.stores.vectors.empty() || flags.stores.vectors == "local") &&
                              !UsesPgvector(flags.stores.vectors, flags.stores.db);
  if (sqlite_vectors && !flags.exact)
    stores.vectors = WithFaceIndex(std::move(stores.vectors), flags.stores.db, flags.index);
  auto analyzer = OpenAnalyzer(flags.models, flags.models.threads >= 0 ? flags.models.threads : 0);
  if (!analyzer) return kExitUsage;
  flags.options.min_confidence = DefaultMinConfidence(analyzer->pack());  // as the backfill stored them
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
  // Matches at or above the recogniser's calibrated threshold are marked as likely the same person.
  const std::optional<float> same = SamePersonThreshold(analyzer->pack());
  const auto likely = [&](const SearchHit& h) { return same.has_value() && h.similarity >= *same; };
  nlohmann::json all = nlohmann::json::array();
  for (size_t q = 0; q < results->size(); ++q) {
    const auto& r = (*results)[q];
    if (!flags.json) {
      const auto n = std::count_if(r.hits.begin(), r.hits.end(), likely);
      std::cout << fmt::format("query face {} [{:.0f}, {:.0f}, {:.0f}, {:.0f}]: {} match(es){}\n", q, r.query.box.x1,
                               r.query.box.y1, r.query.box.x2, r.query.box.y2, r.hits.size(),
                               same ? fmt::format(", {} likely the same person (similarity >= {:.2f})", n, *same)
                                    : std::string(", same-person threshold not calibrated for this recogniser"));
    }
    nlohmann::json hits = nlohmann::json::array();
    for (const auto& h : r.hits) {
      if (flags.json) {
        nlohmann::json hit = {{"similarity", h.similarity},
                              {"face_id", h.face.id},
                              {"asset_id", h.face.asset_id},
                              {"path", h.face.asset_path},
                              {"bbox", {h.face.bbox_x, h.face.bbox_y, h.face.bbox_w, h.face.bbox_h}}};
        if (same) hit["same_person"] = likely(h);
        hits.push_back(std::move(hit));
      } else {
        std::cout << fmt::format("  {:.4f} {} {}  box x={} y={} w={} h={}  face {}\n", h.similarity,
                                 likely(h) ? "*" : " ", h.face.asset_path, h.face.bbox_x, h.face.bbox_y, h.face.bbox_w,
                                 h.face.bbox_h, h.face.id);
      }
    }
    nlohmann::json query = {{"query_bbox", {r.query.box.x1, r.query.box.y1, r.query.box.x2, r.query.box.y2}},
                            {"query_score", r.query.score},
                            {"matches", hits}};
    if (same) query["same_person_threshold"] = *same;
    all.push_back(std::move(query));
  }
  if (same && !flags.json && !results->empty()) {
    std::cout << fmt::format("* likely the same person: similarity >= {:.2f}, calibrated for {} on labelled pairs\n",
                             *same, analyzer->pack().recognizer.stem().string());
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
