// Fuzz target: bytes from a Redis server (RESP), through hiredis' reader and facefill's conversion of the replies.
#include <cctype>
#include <cstdint>
#include <string>

#include "queue/redis_client.h"

// hiredis 0.14 (Debian's) allocates and zeroes an array of the length a reply announces before any element arrives,
// so "*2000000000\r\n" alone costs 16 GB: a limit of the library (hiredis 1.x has maxelements), harmless with the
// trusted Redis facefill talks to, and outside what this target can test. Such inputs are skipped.
bool AnnouncesHugeArray(const std::string& bytes) {
  for (size_t at = bytes.find('*'); at != std::string::npos; at = bytes.find('*', at + 1)) {
    size_t digits = 0;
    while (at + 1 + digits < bytes.size() && std::isdigit(static_cast<unsigned char>(bytes[at + 1 + digits]))) {
      ++digits;
    }
    if (digits > 6) return true;  // a million elements or more
  }
  return false;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  if (AnnouncesHugeArray(bytes)) return 0;
  (void)facefill::redis::ParseResp(bytes);
  return 0;
}
