// Recognising the image-search service's database, and creating its tables where the user asks facefill to stand
// alone. The catalog asks this room; it does not embed the service's rules.
#pragma once

#include <pqxx/pqxx>

#include "facefill/status.h"

namespace facefill::service {

enum class DatabaseKind {
  kService,     // migrated by the service's Alembic: its tables are its own, facefill adds face rows only
  kStandalone,  // image_assets and face_instances created by facefill (--standalone, or an older facefill)
};

// Looks at the database in `txn` and returns what it is. A database with neither the service's tables nor
// facefill's is refused unless `standalone`, in which case the service's image_assets, face_instances and persons
// are created exactly as the service's migrations create them (types, defaults, constraints, indexes).
Result<DatabaseKind> RecogniseOrCreate(pqxx::work& txn, bool standalone);

// The longest image_assets.path the database accepts, in characters (0: no limit).
int PathLimit(pqxx::work& txn);

}  // namespace facefill::service
