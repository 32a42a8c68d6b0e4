// `facefill cluster [--incremental] [--exact]`: group the catalog's faces into clusters (face_instances.cluster_id;
// with Qdrant also the points' cluster_id payload), on the embedded catalog or PostgreSQL.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "facefill/people.h"
#include "store_flags.h"

namespace facefill::cli {
namespace {

struct ClusterFlags {
  StoreFlags stores;
  ClusterOptions options;
  bool incremental = false;
  bool json = false;
};

nlohmann::json ToJson(const ClusterReport& r) {
  return {{"faces", r.faces},
          {"clusters", r.clusters},
          {"noise", r.noise},
          {"kept_ids", r.kept_ids},
          {"new_ids", r.new_ids},
          {"retired_ids", r.retired_ids},
          {"split_by_label", r.split_by_label},
          {"changed_faces", r.changed_faces},
          {"below_gate", r.below_gate},
          {"graph_components", r.graph_components},
          {"graph_seconds", r.graph_seconds},
          {"cluster_seconds", r.cluster_seconds},
          {"total_seconds", r.total_seconds}};
}

void Print(const ClusterReport& r) {
  std::cout << fmt::format(
      "{} faces ({} below the quality gate left out): {} clusters, {} noise; ids kept {}, new {}, retired {}; {} split "
      "by named persons; {} faces changed; {:.1f} s (graph {:.1f} s, HDBSCAN* {:.1f} s)\n",
      r.faces, r.below_gate, r.clusters, r.noise, r.kept_ids, r.new_ids, r.retired_ids, r.split_by_label,
      r.changed_faces, r.total_seconds, r.graph_seconds, r.cluster_seconds);
}

int Run(const ClusterFlags& flags) {
  std::string db, vectors;
  if (int code = ResolveStoreUrls(flags.stores, &db, &vectors); code != kExitOk) return code;
  if (flags.incremental) {
    auto report = AssignNewFaces(db, flags.options, vectors);
    if (!report.ok()) {
      spdlog::error("{}", report.status().ToString());
      return report.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
    }
    if (flags.json) {
      nlohmann::json j = {{"pending", report->pending},
                          {"assigned", report->assigned},
                          {"waiting", report->waiting},
                          {"ran_full", report->ran_full},
                          {"seconds", report->seconds}};
      if (report->ran_full) j["full"] = ToJson(report->full);
      std::cout << j.dump() << "\n";
    } else {
      std::cout << fmt::format("{} new faces: {} assigned, {} waiting for a full run ({:.2f} s)\n", report->pending,
                               report->assigned, report->waiting, report->seconds);
      if (report->ran_full) Print(report->full);
    }
    return kExitOk;
  }
  auto report = ClusterFaces(db, flags.options, vectors);
  if (!report.ok()) {
    spdlog::error("{}", report.status().ToString());
    return report.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  if (flags.json) {
    std::cout << ToJson(*report).dump() << "\n";
  } else {
    Print(*report);
  }
  return kExitOk;
}

}  // namespace

void RegisterCluster(CLI::App* app) {
  auto flags = std::make_shared<ClusterFlags>();
  CLI::App* cmd = app->add_subcommand(
      "cluster", "Group faces into clusters (HDBSCAN*); ids stay stable across runs and named persons are kept apart");
  AddStoreFlags(cmd, &flags->stores);
  auto& o = flags->options;
  cmd->add_flag("--incremental", flags->incremental,
                "Only assign faces added since the last full run to existing clusters (a full run starts when too "
                "many are left waiting)");
  cmd->add_flag("--exact", o.exact, "Mutual reachability over all pairs instead of the index's k-NN graph (small)");
  cmd->add_option("--min-cluster-size", o.hdbscan.min_cluster_size, "Smallest cluster")->capture_default_str();
  cmd->add_option("--min-samples", o.hdbscan.min_samples, "Core distance: distance to this many-th point (self first)")
      ->capture_default_str();
  cmd->add_option("--min-similarity", o.min_similarity, "Faces less similar (cosine) are never linked directly")
      ->capture_default_str();
  cmd->add_option("--min-face-size", o.min_face_size,
                  "Quality gate: faces whose box's shorter side is smaller (pixels) are left unclustered (0: off)")
      ->capture_default_str();
  cmd->add_option("--min-detection-score", o.min_detection_score,
                  "Quality gate: faces detected with a lower score are left unclustered (0: off)")
      ->capture_default_str();
  cmd->add_option("--neighbors", o.neighbors, "k of the k-NN graph")->capture_default_str();
  cmd->add_option("--graph-ef", o.graph_ef, "HNSW candidate list for the graph's queries (recall vs time)")
      ->capture_default_str();
  cmd->add_option("--threads", o.threads, "Threads for the graph and the index")->capture_default_str();
  cmd->add_option("--min-agreeing", o.min_agreeing, "Incremental: neighbours of one cluster needed to join it")
      ->capture_default_str();
  cmd->add_option("--max-distance", o.max_distance, "Incremental: neighbour cosine distance limit")
      ->capture_default_str();
  cmd->add_option("--full-run-share", o.full_run_share,
                  "Incremental: run a full clustering when waiting faces exceed this share of all faces")
      ->capture_default_str();
  cmd->add_flag("--json", flags->json, "JSON output");
  cmd->final_callback([flags] { throw CommandResult(Run(*flags)); });
}

}  // namespace facefill::cli
