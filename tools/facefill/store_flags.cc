// --db / --vectors -> opened Catalog and VectorStore.
#include "store_flags.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace facefill::cli {

void AddStoreFlags(CLI::App* app, StoreFlags* flags) {
  const char* env = std::getenv("FACEFILL_DB");
  flags->db = env != nullptr && *env != '\0' ? env : "sqlite:facefill.db";
  app->add_option("--db", flags->db, "Catalog: sqlite:PATH (default $FACEFILL_DB or sqlite:facefill.db)")
      ->capture_default_str();
  app->add_option("--vectors", flags->vectors, "Vector store (default: local, in the catalog database)");
}

bool OpenStores(const StoreFlags& flags, Stores* stores) {
  auto catalog = OpenCatalog(flags.db);
  if (!catalog.ok()) {
    spdlog::error("{}", catalog.status().ToString());
    return false;
  }
  auto vectors = OpenVectorStore(flags.vectors, flags.db);
  if (!vectors.ok()) {
    spdlog::error("{}", vectors.status().ToString());
    return false;
  }
  stores->catalog = std::move(catalog).value();
  stores->vectors = std::move(vectors).value();
  return true;
}

}  // namespace facefill::cli
