// `facefill people [--json]` and `facefill people name|merge|split`: the clusters as people (embedded catalog or
// PostgreSQL), and naming them (embedded catalog only).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "facefill/people.h"
#include "store_flags.h"

namespace facefill::cli {
namespace {

struct PeopleFlags {
  StoreFlags stores;
  bool json = false;
  int64_t limit = 0;
  std::string cluster, name, into, from;
  std::vector<std::string> faces;
};

int Fail(const Status& status) {
  spdlog::error("{}", status.ToString());
  return status.code() == StatusCode::kInvalidArgument || status.code() == StatusCode::kNotFound ? kExitUsage
                                                                                                 : kExitFailure;
}

int RunList(const PeopleFlags& flags) {
  std::string db, vectors;
  if (int code = ResolveStoreUrls(flags.stores, &db, &vectors); code != kExitOk) return code;
  auto people = ListPeople(db, flags.limit);
  if (!people.ok()) return Fail(people.status());
  nlohmann::json all = nlohmann::json::array();
  for (const auto& p : *people) {
    if (flags.json) {
      nlohmann::json j = {
          {"cluster_id", p.cluster_id}, {"faces", p.faces}, {"photos", p.photos},
          {"face_id", p.face_id},       {"path", p.path},   {"bbox", {p.bbox_x, p.bbox_y, p.bbox_w, p.bbox_h}}};
      if (!p.person_id.empty()) {
        j["person"] = {{"id", p.person_id}, {"name", p.person_name}, {"labelled_faces", p.labelled_faces}};
      }
      all.push_back(j);
    } else {
      std::cout << fmt::format("{}  {} faces in {} photos  {} box x={} y={} w={} h={}{}\n", p.cluster_id, p.faces,
                               p.photos, p.path, p.bbox_x, p.bbox_y, p.bbox_w, p.bbox_h,
                               p.person_id.empty() ? ""
                                                   : fmt::format("  suggested: {} ({} of {} faces named)",
                                                                 p.person_name, p.labelled_faces, p.faces));
    }
  }
  if (flags.json) std::cout << all.dump() << "\n";
  if (!flags.json && people->empty()) {
    std::cout << "no clusters yet: `facefill cluster` groups the faces (a person needs at least --min-cluster-size "
                 "faces; with few photos every face can stay unclustered)\n";
  }
  return kExitOk;
}

// The catalog URL the flags name (with --service-env, its DATABASE_URL), or the exit code.
int CatalogUrl(const PeopleFlags& flags, std::string* db) {
  std::string vectors;
  return ResolveStoreUrls(flags.stores, db, &vectors);
}

}  // namespace

void RegisterPeople(CLI::App* app) {
  auto flags = std::make_shared<PeopleFlags>();
  CLI::App* cmd = app->add_subcommand("people", "Clusters as people, largest first; name, merge and split them");
  AddStoreFlags(cmd, &flags->stores);
  cmd->add_flag("--json", flags->json, "JSON output");
  cmd->add_option("--limit", flags->limit, "At most this many clusters (0: all)")->capture_default_str();
  cmd->require_subcommand(0, 1);

  CLI::App* name = cmd->add_subcommand("name", "Name a cluster: its faces without a person get this person");
  name->add_option("cluster", flags->cluster, "Cluster id")->required();
  name->add_option("name", flags->name, "Person's name (an existing active person of that name is reused)")->required();
  name->fallthrough();
  name->final_callback([flags] {
    std::string db;
    if (int code = CatalogUrl(*flags, &db); code != kExitOk) throw CommandResult(code);
    auto person = NameCluster(db, flags->cluster, flags->name);
    if (!person.ok()) throw CommandResult(Fail(person.status()));
    std::cout << (flags->json ? nlohmann::json({{"person_id", *person}}).dump() : "person " + *person) << "\n";
    throw CommandResult(kExitOk);
  });

  CLI::App* merge = cmd->add_subcommand("merge", "Move every face of cluster FROM into cluster INTO");
  merge->add_option("into", flags->into, "Cluster that stays")->required();
  merge->add_option("from", flags->from, "Cluster that goes")->required();
  merge->fallthrough();
  merge->final_callback([flags] {
    std::string db;
    if (int code = CatalogUrl(*flags, &db); code != kExitOk) throw CommandResult(code);
    Status status = MergeClusters(db, flags->into, flags->from);
    if (!status.ok()) throw CommandResult(Fail(status));
    throw CommandResult(kExitOk);
  });

  CLI::App* split = cmd->add_subcommand("split", "Move these faces into a new cluster");
  split->add_option("faces", flags->faces, "Face ids")->required();
  split->fallthrough();
  split->final_callback([flags] {
    std::string db;
    if (int code = CatalogUrl(*flags, &db); code != kExitOk) throw CommandResult(code);
    auto cluster = SplitFaces(db, flags->faces);
    if (!cluster.ok()) throw CommandResult(Fail(cluster.status()));
    std::cout << (flags->json ? nlohmann::json({{"cluster_id", *cluster}}).dump() : "cluster " + *cluster) << "\n";
    throw CommandResult(kExitOk);
  });

  cmd->final_callback([cmd, flags] {
    if (cmd->get_subcommands().empty()) throw CommandResult(RunList(*flags));
  });
}

}  // namespace facefill::cli
