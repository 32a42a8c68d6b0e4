// SqlitePathFromUrl: the file path a SQLite catalog URL names.
#include "sqlite_url.h"

namespace facefill {

std::string SqlitePathFromUrl(const std::string& url) {
  if (url.rfind("sqlite://", 0) == 0) return url.substr(9);
  if (url.rfind("sqlite:", 0) == 0) return url.substr(7);
  return url;
}

}  // namespace facefill
