// The image-search service's own settings (its .env file and its environment), so that pointing facefill at a
// running service is one flag: `--service-env FILE`.
#pragma once

#include <string>

#include "facefill/status.h"

namespace facefill {

// What facefill takes from the service's settings; the defaults are the service's own (its config module).
struct ServiceSettings {
  // DATABASE_URL, as libpq takes it ("postgresql+asyncpg://" -> "postgresql://")
  std::string database_url = "postgresql://postgres:postgres@localhost:5432/image_search";
  std::string qdrant_url = "http://localhost:6333";    // QDRANT_URL as the service writes it
  std::string qdrant_api_key;                          // QDRANT_API_KEY; never printed
  std::string face_collection = "faces";               // QDRANT_FACE_COLLECTION
  std::string redis_url = "redis://localhost:6379/0";  // REDIS_URL

  // The vector store URL facefill opens for the service's collection: QDRANT_URL/COLLECTION.
  std::string VectorStoreUrl() const;
};

// Reads `env_file` (KEY=VALUE lines; '#' comments, "export " and quotes allowed, names case-insensitive as the
// service reads them), then the process environment, whose values win as in the service; "-" reads the
// environment alone. A file that cannot be read is kNotFound.
Result<ServiceSettings> LoadServiceSettings(const std::string& env_file);

// "postgresql+asyncpg://..." and "postgresql+psycopg2://..." (SQLAlchemy's driver forms) -> "postgresql://...".
std::string LibpqUrl(const std::string& database_url);

}  // namespace facefill
