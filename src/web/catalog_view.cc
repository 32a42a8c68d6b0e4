// CatalogView::Open: the view of a catalog URL's backend.
#include "catalog_view.h"

#include "../catalog/catalog_backends.h"

namespace facefill::web {

Result<std::unique_ptr<CatalogView>> CatalogView::Open(const std::string& catalog_url) {
  if (IsPostgresUrl(catalog_url)) return OpenPostgresCatalogView(catalog_url);
  return OpenSqliteCatalogView(catalog_url);
}

}  // namespace facefill::web
