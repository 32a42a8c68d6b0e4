// Fuzz target: Qdrant's answers. The first byte picks the HTTP status class; the rest is the body, parsed as every
// answer facefill reads (collection info, query, scroll, count). Errors are values; nothing may crash.
#include <cstdint>
#include <string>

#include "vectors/qdrant_api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const long kStatuses[] = {200, 201, 400, 404, 409, 429, 500, 503};
  const long status = kStatuses[data[0] % 8];
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  auto result = facefill::qdrant::ParseResult(status, body);
  if (!result.ok()) return 0;
  (void)facefill::qdrant::ParseVectorSize(*result);
  (void)facefill::qdrant::ParseQueryResult(*result);
  (void)facefill::qdrant::ParseScrollResult(*result);
  (void)facefill::qdrant::ParseCountResult(*result);
  return 0;
}
