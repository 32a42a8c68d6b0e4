// --db / --vectors / --service-env / --standalone -> opened Catalog and VectorStore.
#include "store_flags.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "commands.h"
#include "facefill/service_settings.h"
#include "facefill/url.h"

namespace facefill::cli {

void AddStoreFlags(CLI::App* app, StoreFlags* flags) {
  const char* env = std::getenv("FACEFILL_DB");
  flags->db = env != nullptr && *env != '\0' ? env : "sqlite:facefill.db";
  const char* service_env = std::getenv("FACEFILL_SERVICE_ENV");
  if (service_env != nullptr) flags->service_env = service_env;
  flags->db_option = app->add_option("--db", flags->db,
                                     "Catalog: sqlite:PATH or postgresql://USER@HOST:PORT/DB (default $FACEFILL_DB or "
                                     "sqlite:facefill.db)")
                         ->capture_default_str();
  flags->vectors_option = app->add_option(
      "--vectors", flags->vectors,
      "Vector store: local (the SQLite catalog's file; pgvector for a PostgreSQL catalog of facefill's own; the "
      "service's Qdrant collection on its database), pgvector, or qdrant://HOST:PORT/COLLECTION");
  app->add_option("--service-env", flags->service_env,
                  "Use the image-search service's settings: its .env FILE (or - for its environment alone) gives "
                  "DATABASE_URL, QDRANT_URL, QDRANT_API_KEY, QDRANT_FACE_COLLECTION and REDIS_URL (default "
                  "$FACEFILL_SERVICE_ENV); --db and --vectors still win");
  app->add_flag("--standalone", flags->standalone,
                "PostgreSQL: on a database without the image-search service's schema, create its image_assets, "
                "face_instances and persons tables as its migrations do (otherwise such a database is refused)");
}

int ResolveStoreUrls(const StoreFlags& flags, std::string* db_url, std::string* vectors_url) {
  std::string& db = *db_url;
  std::string& vectors = *vectors_url;
  db = flags.db;
  vectors = flags.vectors;
  if (!flags.service_env.empty()) {
    auto settings = LoadServiceSettings(flags.service_env);
    if (!settings.ok()) {
      spdlog::error("{}", settings.status().ToString());
      return kExitUsage;
    }
    if (flags.db_option == nullptr || flags.db_option->count() == 0) db = settings->database_url;
    if (flags.vectors_option == nullptr || flags.vectors_option->count() == 0) vectors = settings->VectorStoreUrl();
    // The Qdrant store takes its key where it takes FACEFILL_QDRANT_API_KEY from; one set by the user wins.
    if (!settings->qdrant_api_key.empty()) setenv("FACEFILL_QDRANT_API_KEY", settings->qdrant_api_key.c_str(), 0);
    spdlog::info("service settings: catalog {}, vectors {}", RedactUrl(db), RedactUrl(vectors));
  }
  return kExitOk;
}

int OpenStoresOrExit(const StoreFlags& flags, Stores* stores) {
  std::string db, vectors;
  if (int code = ResolveStoreUrls(flags, &db, &vectors); code != kExitOk) return code;
  CatalogOptions options;
  options.standalone = flags.standalone;
  options.create_if_missing = flags.create_if_missing;
  auto opened = facefill::OpenStores(db, vectors, options);
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
