// A catalog and its vector store, opened together from the two URLs a user gives (--db, --vectors).
#pragma once

#include <memory>
#include <string>

#include "facefill/catalog.h"
#include "facefill/vector_store.h"

namespace facefill {

struct Stores {
  std::unique_ptr<Catalog> catalog;
  std::unique_ptr<VectorStore> vectors;
};

// With an empty (or "local") vectors_url the vectors go where the catalog's users read them: the SQLite file; pgvector
// in a PostgreSQL database of facefill's own; the service's Qdrant collection (qdrant://localhost:6333/faces unless
// its settings say otherwise) on the image-search service's database.
// `options` are the catalog's (standalone, create_if_missing). With pgvector the catalog writes the vectors in its own
// transaction (Catalog::WritesVectors); the catalog is opened once.
Result<Stores> OpenStores(const std::string& catalog_url, const std::string& vectors_url, CatalogOptions options = {});

}  // namespace facefill
