// KeysetPage and ReadAllPages.
#include "id_pages.h"

namespace facefill {

IdPage KeysetPage(std::vector<std::string> ids, int limit) {
  IdPage page;
  if (limit > 0 && ids.size() == static_cast<size_t>(limit)) page.next = ids.back();
  page.ids = std::move(ids);
  return page;
}

Result<std::vector<std::string>> ReadAllPages(const IdLister& list, int page_size) {
  std::vector<std::string> all;
  std::string cursor;
  do {
    FACEFILL_ASSIGN_OR_RETURN(IdPage page, list(cursor, page_size));
    all.insert(all.end(), std::make_move_iterator(page.ids.begin()), std::make_move_iterator(page.ids.end()));
    cursor = std::move(page.next);
  } while (!cursor.empty());
  return all;
}

}  // namespace facefill
