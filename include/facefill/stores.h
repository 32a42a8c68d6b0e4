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

// `options` are the catalog's (create_if_missing); pgvector is set from the two URLs.
Result<Stores> OpenStores(const std::string& catalog_url, const std::string& vectors_url, CatalogOptions options = {});

}  // namespace facefill
