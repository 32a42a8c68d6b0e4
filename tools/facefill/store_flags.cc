// --db / --vectors -> opened Catalog and VectorStore.
#include "store_flags.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "commands.h"

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

int OpenStoresOrExit(const StoreFlags& flags, Stores* stores) {
  CatalogOptions options;
  options.create_if_missing = flags.create_if_missing;
  auto opened = facefill::OpenStores(flags.db, flags.vectors, options);
  if (!opened.ok()) {
    const Status& s = opened.status();
    const bool service = s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDatabaseError ||
                         s.code() == StatusCode::kVectorStoreError;
    if (s.code() == StatusCode::kUnavailable) {
      spdlog::error("{} (check that the server is up and --db / --vectors / $FACEFILL_DB)", s.ToString());
    } else {
      spdlog::error("{}", s.ToString());
    }
    return service ? kExitFailure : kExitUsage;
  }
  *stores = std::move(opened).value();
  return kExitOk;
}

bool OpenStores(const StoreFlags& flags, Stores* stores) { return OpenStoresOrExit(flags, stores) == kExitOk; }

}  // namespace facefill::cli
