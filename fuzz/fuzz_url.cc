// Fuzz target: service URLs (--queue, --vectors, --db as given on the command line): parsing, redaction and the
// Qdrant URL options must give a value or an error, never crash, and a redacted URL must not keep the password.
#include <cstdint>
#include <string>

#include "facefill/catalog.h"
#include "facefill/url.h"
#include "facefill/vector_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string url(reinterpret_cast<const char*>(data), size);
  auto parsed = facefill::ParseServiceUrl(url);
  if (parsed.ok() && parsed->password.size() >= 3 && url.find('%') == std::string::npos &&
      parsed->password.find('*') == std::string::npos) {
    // A password the parser found must not survive redaction (checked when no escape changed how it was typed and
    // it cannot be mistaken for the "***" that replaces it).
    const std::string redacted = facefill::RedactUrl(url);
    if (url.find(parsed->password) != std::string::npos && redacted.find(parsed->password) != std::string::npos) {
      __builtin_trap();
    }
  }
  (void)facefill::RedactUrl(url);
  if (url.rfind("qdrant", 0) == 0) (void)facefill::OpenVectorStore(url, "");
  return 0;
}
