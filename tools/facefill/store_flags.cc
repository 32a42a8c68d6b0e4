// --db / --vectors -> opened Catalog and VectorStore.
#include "store_flags.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace facefill::cli {

void AddStoreFlags(CLI::App* app, StoreFlags* flags) {
  const char* env = std::getenv("FACEFILL_DB");
  flags->db = env != nullptr && *env != '\0' ? env : "sqlite:facefill.db";
  app->add_option("--db", flags->db,
                  "Catalog: sqlite:PATH or postgresql://USER@HOST:PORT/DB (default $FACEFILL_DB or sqlite:facefill.db)")
      ->capture_default_str();
  app->add_option("--vectors", flags->vectors,
                  "Vector store: local (the catalog database; pgvector for PostgreSQL), pgvector, or "
                  "qdrant://HOST:PORT/COLLECTION");
}

bool OpenStores(const StoreFlags& flags, Stores* stores) {
  auto opened = facefill::OpenStores(flags.db, flags.vectors);
  if (!opened.ok()) {
    spdlog::error("{}", opened.status().ToString());
    return false;
  }
  *stores = std::move(opened).value();
  return true;
}

}  // namespace facefill::cli
