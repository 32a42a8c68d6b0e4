// ReadIdPage: a keyset page, `key > cursor ORDER BY key LIMIT limit`.
#include "sqlite_id_page.h"

#include "../core/id_pages.h"

namespace facefill::sqlite {

Result<IdPage> ReadIdPage(Database& db, const std::string& table, const std::string& key, const std::string& cursor,
                          int limit) {
  auto stmt = db.Prepare("SELECT " + key + " FROM " + table + (cursor.empty() ? "" : " WHERE " + key + " > ?2") +
                         " ORDER BY " + key + " LIMIT ?1");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, int64_t{limit});
  if (!cursor.empty()) stmt->Bind(2, cursor);
  std::vector<std::string> ids;
  FACEFILL_RETURN_IF_ERROR(stmt->ForEachRow([&] { ids.push_back(stmt->Text(0)); }));
  return KeysetPage(std::move(ids), limit);
}

}  // namespace facefill::sqlite
