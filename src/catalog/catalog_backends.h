// The catalog backends OpenCatalog chooses between.
#pragma once

#include <memory>
#include <string>

#include "facefill/catalog.h"

namespace facefill {

Result<std::unique_ptr<Catalog>> OpenSqliteCatalog(const std::string& url);
Result<std::unique_ptr<Catalog>> OpenPostgresCatalog(const std::string& url, const CatalogOptions& options);

bool IsPostgresUrl(const std::string& url);

}  // namespace facefill
