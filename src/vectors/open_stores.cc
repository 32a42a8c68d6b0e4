// OpenVectorStore and OpenStores: backends by URL.
#include "../catalog/catalog_backends.h"
#include "../core/id_pages.h"
#include "facefill/service_settings.h"
#include "facefill/stores.h"
#include "facefill/url.h"
#include "vector_backends.h"

namespace facefill {

Result<std::vector<std::string>> VectorStore::AllIds() {
  return ReadAllPages([this](const std::string& cursor, int limit) { return ListIds(cursor, limit); });
}

Status VectorStore::SetClusterIds(const std::vector<std::pair<std::string, std::string>>&) { return Status::Ok(); }

bool UsesPgvector(const std::string& url, const std::string& catalog_url) {
  return url == "pgvector" || ((url.empty() || url == "local") && IsPostgresUrl(catalog_url));
}

Result<std::unique_ptr<VectorStore>> OpenVectorStore(const std::string& url, const std::string& catalog_url) {
  for (const char* scheme : {"qdrant://", "qdrants://", "http://", "https://"}) {
    if (url.rfind(scheme, 0) == 0) return OpenQdrantStore(url);
  }
  if (UsesPgvector(url, catalog_url)) {
    if (!IsPostgresUrl(catalog_url)) {
      return Status(StatusCode::kInvalidArgument, "pgvector needs a PostgreSQL catalog (--db postgresql://...)");
    }
    return OpenPgvectorStore(LibpqUrl(catalog_url));
  }
  if (url.empty() || url == "local") return OpenSqliteVectorStore(catalog_url);
  return Status(StatusCode::kInvalidArgument,
                "unknown vector store '" + RedactUrl(url) + "': use local, pgvector or qdrant://HOST:PORT/COLLECTION");
}

Result<Stores> OpenStores(const std::string& catalog_url, const std::string& vectors_url, CatalogOptions options) {
  PgvectorWrites pgvector = PgvectorWrites::kNo;
  if (UsesPgvector(vectors_url, catalog_url) && IsPostgresUrl(catalog_url)) {
    pgvector = vectors_url == "pgvector" ? PgvectorWrites::kYes : PgvectorWrites::kUnlessServiceDatabase;
  }
  Stores stores;
  auto catalog = OpenCatalog(catalog_url, options, pgvector);
  if (!catalog.ok()) return catalog.status();
  std::string vectors_to_open = vectors_url;
  if (pgvector == PgvectorWrites::kUnlessServiceDatabase && !(*catalog)->WritesVectors()) {
    // The catalog found the service's database, whose vectors are read only from its Qdrant collection: they go
    // there unless pgvector is asked for by name.
    vectors_to_open = ServiceSettings{}.VectorStoreUrl();  // the service's defaults: its `faces` collection
  }
  stores.catalog = std::move(catalog).value();
  auto vectors = OpenVectorStore(vectors_to_open, catalog_url);
  if (!vectors.ok()) return vectors.status();
  stores.vectors = std::move(vectors).value();
  return stores;
}

}  // namespace facefill
