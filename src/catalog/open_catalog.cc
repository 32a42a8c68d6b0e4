// OpenCatalog: the backend by URL scheme; the defaults of the optional (distributed-claim) operations.
#include "catalog_backends.h"
#include "facefill/service_settings.h"

namespace facefill {

bool IsPostgresUrl(const std::string& url) {
  const std::string libpq = LibpqUrl(url);
  return libpq.rfind("postgresql://", 0) == 0 || libpq.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<Catalog>> OpenCatalog(const std::string& url, const CatalogOptions& options) {
  if (IsPostgresUrl(url)) return OpenPostgresCatalog(LibpqUrl(url), options);
  if (options.pgvector) return Status(StatusCode::kInvalidArgument, "pgvector needs a PostgreSQL catalog (--db)");
  return OpenSqliteCatalog(url);
}

Result<std::vector<AssetRecord>> Catalog::Claim(const ClaimRequest&) {
  return Status(StatusCode::kInvalidArgument, "this catalog does not support distributed claims");
}

Status Catalog::ReleaseLeases(const std::string&) { return Status::Ok(); }

Result<int64_t> Catalog::CountLiveLeases() { return int64_t{0}; }

Status Catalog::RenewLeases(const std::string&, int) { return Status::Ok(); }

Result<std::vector<LeaseHolder>> Catalog::LiveLeases() { return std::vector<LeaseHolder>{}; }

}  // namespace facefill
