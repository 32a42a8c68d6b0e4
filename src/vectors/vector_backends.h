// The vector-store backends OpenVectorStore chooses between.
#pragma once

#include <memory>
#include <string>

#include "facefill/vector_store.h"

namespace facefill {

Result<std::unique_ptr<VectorStore>> OpenSqliteVectorStore(const std::string& catalog_url);
Result<std::unique_ptr<VectorStore>> OpenPgvectorStore(const std::string& catalog_url);
Result<std::unique_ptr<VectorStore>> OpenQdrantStore(const std::string& url);

}  // namespace facefill
