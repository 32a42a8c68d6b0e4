// OpenCatalog: the backend by URL scheme; the defaults of the optional (distributed-claim) operations.
#include <regex>

#include "catalog_backends.h"

namespace facefill {

bool IsPostgresUrl(const std::string& url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<Catalog>> OpenCatalog(const std::string& url, const CatalogOptions& options) {
  if (IsPostgresUrl(url)) return OpenPostgresCatalog(url, options);
  if (options.pgvector) return Status(StatusCode::kInvalidArgument, "pgvector needs a PostgreSQL catalog (--db)");
  return OpenSqliteCatalog(url);
}

std::string RedactUrl(const std::string& url) {
  // scheme://user:password@host -> scheme://user:***@host; also password=... in key-value query strings.
  static const std::regex kUserInfo(R"(^([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:]*):[^/@]*@)");
  static const std::regex kParam(R"(([?&](password|api[-_]?key)=)[^&]*)", std::regex::icase);
  std::string out = std::regex_replace(url, kUserInfo, "$1:***@");
  return std::regex_replace(out, kParam, "$1***");
}

Result<std::vector<AssetRecord>> Catalog::Claim(const ClaimRequest&) {
  return Status(StatusCode::kInvalidArgument, "this catalog does not support distributed claims");
}

Status Catalog::ReleaseLeases(const std::string&) { return Status::Ok(); }

Result<int64_t> Catalog::CountLiveLeases() { return int64_t{0}; }

}  // namespace facefill
