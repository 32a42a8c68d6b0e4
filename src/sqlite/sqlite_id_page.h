// One keyset page of a text key read from a SQLite table (Catalog::ListPointIds, VectorStore::ListIds).
#pragma once

#include <string>

#include "facefill/records.h"
#include "sqlite_db.h"

namespace facefill::sqlite {

// Up to `limit` values of `key` (a column or an indexed expression) of `table` above `cursor` ("" for the first
// page), ascending. The caller holds the database's mutex.
Result<IdPage> ReadIdPage(Database& db, const std::string& table, const std::string& key, const std::string& cursor,
                          int limit);

}  // namespace facefill::sqlite
