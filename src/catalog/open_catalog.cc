// OpenCatalog: the backend by URL scheme; the defaults of the optional (distributed-claim) operations.
#include <filesystem>

#include "../sqlite/sqlite_url.h"
#include "catalog_backends.h"
#include "facefill/service_settings.h"
#include "facefill/url.h"

namespace facefill {

bool IsPostgresUrl(const std::string& url) {
  const std::string libpq = LibpqUrl(url);
  return libpq.rfind("postgresql://", 0) == 0 || libpq.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<Catalog>> OpenCatalog(const std::string& url, const CatalogOptions& options) {
  if (IsPostgresUrl(url)) return OpenPostgresCatalog(LibpqUrl(url), options);
  if (options.pgvector) return Status(StatusCode::kInvalidArgument, "pgvector needs a PostgreSQL catalog (--db)");
  if (const auto scheme = url.find("://"); scheme != std::string::npos && url.rfind("sqlite://", 0) != 0) {
    return Status(StatusCode::kInvalidArgument, "unsupported scheme '" + url.substr(0, scheme) + "' in catalog URL " +
                                                    RedactUrl(url) +
                                                    ": use sqlite:PATH or postgresql://USER@HOST:PORT/DB");
  }
  const std::string path = SqlitePathFromUrl(url);
  std::error_code ec;
  if (!options.create_if_missing && path != ":memory:" && !std::filesystem::exists(path, ec)) {
    return Status(
        StatusCode::kNotFound,
        "no catalog at " + path + ": run `facefill scan DIR` first to create one, or give --db / $FACEFILL_DB");
  }
  return OpenSqliteCatalog(url);
}

Result<std::vector<AssetRecord>> Catalog::Claim(const ClaimRequest&) {
  return Status(StatusCode::kInvalidArgument, "this catalog does not support distributed claims");
}

Status Catalog::ReleaseLeases(const std::string&) { return Status::Ok(); }

Result<int64_t> Catalog::CountLiveLeases() { return int64_t{0}; }

Status Catalog::RenewLeases(const std::string&, int) { return Status::Ok(); }

Result<std::vector<LeaseHolder>> Catalog::LiveLeases() { return std::vector<LeaseHolder>{}; }
Result<std::vector<AssetRecord>> Catalog::AssetsUnder(const std::string&) {
  return Status(StatusCode::kInvalidArgument, "pruning is only done on the embedded SQLite catalog");
}

Result<std::vector<std::string>> Catalog::RemoveAssets(const std::vector<int64_t>&) {
  return Status(StatusCode::kInvalidArgument, "pruning is only done on the embedded SQLite catalog");
}

Result<std::vector<FailedAsset>> Catalog::ListErrors(int64_t) {
  return Status(StatusCode::kInvalidArgument, "this catalog cannot list failed assets");
}

}  // namespace facefill
