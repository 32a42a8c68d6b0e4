// Pages of ids (IdPage): the keyset page the SQL backends build, and reading every page of a listing.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "facefill/records.h"
#include "facefill/status.h"

namespace facefill {

// Lists one page of ids after `cursor` ("" for the first), at most `limit` of them.
using IdLister = std::function<Result<IdPage>(const std::string& cursor, int limit)>;

// A page read as `ORDER BY id LIMIT limit` after the cursor: a full page continues after its last id.
IdPage KeysetPage(std::vector<std::string> ids, int limit);

// Every id of a listing, page after page.
Result<std::vector<std::string>> ReadAllPages(const IdLister& list, int page_size = 1000);

}  // namespace facefill
