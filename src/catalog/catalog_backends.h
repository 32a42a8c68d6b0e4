// The catalog backends OpenCatalog chooses between.
#pragma once

#include <memory>
#include <string>

#include "facefill/catalog.h"

namespace facefill {

// Whether a PostgreSQL catalog also writes each face's embedding into facefill.face_vectors (pgvector), in the
// transaction that writes the face rows.
enum class PgvectorWrites {
  kNo,
  kYes,  // asked for by name (`--vectors pgvector`), on any PostgreSQL database
  // The default vectors of a PostgreSQL catalog: pgvector on a database of facefill's own; on the image-search
  // service's database none, since the service reads vectors only from its Qdrant collection.
  kUnlessServiceDatabase,
};

// OpenCatalog with the pgvector choice (OpenStores makes it from the vector store's URL); kNo on SQLite.
Result<std::unique_ptr<Catalog>> OpenCatalog(const std::string& url, const CatalogOptions& options,
                                             PgvectorWrites pgvector);
Result<std::unique_ptr<Catalog>> OpenSqliteCatalog(const std::string& url);
Result<std::unique_ptr<Catalog>> OpenPostgresCatalog(const std::string& url, const CatalogOptions& options,
                                                     PgvectorWrites pgvector);

bool IsPostgresUrl(const std::string& url);

}  // namespace facefill
