// ParseServiceUrl (on libcurl's URL API) and ReadSecret.
#include "facefill/url.h"

#include <curl/curl.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>

namespace facefill {
namespace {

Status Invalid(const std::string& url, const std::string& why) {
  return Status(StatusCode::kInvalidArgument, "invalid URL '" + RedactUrl(url) + "': " + why);
}

using UrlHandle = std::unique_ptr<CURLU, decltype(&curl_url_cleanup)>;

// One part of a parsed URL: its text, empty when absent, or curl's error.
Result<std::string> Part(CURLU* handle, CURLUPart part, unsigned flags, const std::string& url) {
  char* raw = nullptr;
  const CURLUcode rc = curl_url_get(handle, part, &raw, flags);
  std::unique_ptr<char, decltype(&curl_free)> owned(raw, curl_free);
  if (rc == CURLUE_OK) return std::string(raw);
  if (rc == CURLUE_NO_USER || rc == CURLUE_NO_PASSWORD || rc == CURLUE_NO_PORT || rc == CURLUE_NO_QUERY ||
      rc == CURLUE_NO_FRAGMENT || rc == CURLUE_NO_OPTIONS) {
    return std::string();
  }
  return Invalid(url, curl_url_strerror(rc));
}

// curl decodes well-formed %XX escapes and passes malformed ones through; we refuse those.
bool ValidEscapes(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') continue;
    if (i + 2 >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      return false;
    }
    i += 2;
  }
  return true;
}

// Decodes %XX escapes of text already checked by ValidEscapes.
std::string Unescape(const std::string& text) {
  int length = 0;
  std::unique_ptr<char, decltype(&curl_free)> decoded(
      curl_easy_unescape(nullptr, text.data(), static_cast<int>(text.size()), &length), curl_free);
  return decoded ? std::string(decoded.get(), static_cast<size_t>(length)) : std::string();
}

}  // namespace

Result<ServiceUrl> ParseServiceUrl(const std::string& url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos || scheme_end == 0) return Invalid(url, "expected scheme://host");
  // The scheme ends at the first "://" for RedactUrl too, so curl must not find another one.
  for (size_t i = 0; i < scheme_end; ++i) {
    const unsigned char c = static_cast<unsigned char>(url[i]);
    if (!std::isalnum(c) && c != '+' && c != '-' && c != '.') return Invalid(url, "bad scheme");
  }
  // curl skips a third slash ("scheme:///user:pw@host"); a service URL names its host right after "//", which is
  // also where RedactUrl looks for the password.
  if (url.compare(scheme_end + 3, 1, "/") == 0) return Invalid(url, "expected scheme://host, not scheme:///");
  // curl reads a C string: whatever follows a NUL byte would be parsed by nobody but redacted by RedactUrl.
  if (url.find('\0') != std::string::npos) return Invalid(url, "contains a NUL byte");
  UrlHandle handle(curl_url(), curl_url_cleanup);
  if (!handle) return Status(StatusCode::kInternal, "out of memory");
  // Any scheme (redis://, qdrant://, ...), the path exactly as written.
  const CURLUcode rc =
      curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS);
  if (rc != CURLUE_OK) return Invalid(url, curl_url_strerror(rc));
  ServiceUrl out;
  std::string raw[5];  // scheme, user, password, path, query, as written (escapes not decoded)
  const CURLUPart parts[5] = {CURLUPART_SCHEME, CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_PATH, CURLUPART_QUERY};
  for (int i = 0; i < 5; ++i) {
    auto part = Part(handle.get(), parts[i], 0, url);
    if (!part.ok()) return part.status();
    raw[i] = std::move(part).value();
  }
  for (char c : raw[0]) out.scheme.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (!ValidEscapes(raw[1])) return Invalid(url, "bad escape in user");
  if (!ValidEscapes(raw[2])) return Invalid(url, "bad escape in password");
  // curl ends the authority at the first '#'; RedactUrl, which must work on text no parser accepts, does not. A
  // password in a URL with a raw '#' could then be read by one and missed by the other (a fuzzer finding).
  if (!raw[2].empty() && url.find('#') != std::string::npos) {
    return Invalid(url, "a '#' in a URL with a password: escape it as %23");
  }
  if (!ValidEscapes(raw[3])) return Invalid(url, "bad escape in path");
  if (!ValidEscapes(raw[4])) return Invalid(url, "bad escape in query");
  out.user = Unescape(raw[1]);
  out.password = Unescape(raw[2]);
  out.path = Unescape(raw[3].starts_with('/') ? raw[3].substr(1) : raw[3]);
  auto host = Part(handle.get(), CURLUPART_HOST, 0, url);
  if (!host.ok()) return host.status();
  out.host = std::move(host).value();
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);  // IPv6, as the caller connects to it
  }
  if (out.host.empty()) return Invalid(url, "no host");
  auto port = Part(handle.get(), CURLUPART_PORT, 0, url);
  if (!port.ok()) return port.status();
  if (!port->empty()) {
    out.port = std::atoi(port->c_str());  // curl has checked it is a number up to 65535
    if (out.port < 1 || out.port > 65535) return Invalid(url, "port out of range");
  }
  std::stringstream pairs(raw[4]);
  for (std::string pair; std::getline(pairs, pair, '&');) {
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    out.query[Unescape(pair.substr(0, eq))] = eq == std::string::npos ? std::string() : Unescape(pair.substr(eq + 1));
  }
  return out;
}

std::string RedactUrl(const std::string& url) {
  std::string out = url;
  std::string password;
  if (const size_t scheme = url.find("://"); scheme != std::string::npos) {
    const size_t start = scheme + 3;
    // The authority ends where ParseServiceUrl ends it: at the first '/' or '?'.
    const size_t end = std::min(url.find_first_of("/?", start), url.size());
    const size_t at = url.rfind('@', end == url.size() ? std::string::npos : end);
    if (at != std::string::npos && at >= start) {
      const size_t colon = url.find(':', start);
      if (colon != std::string::npos && colon < at) {
        password = url.substr(colon + 1, at - colon - 1);
        out = url.substr(0, colon + 1) + "***" + url.substr(at);
      }
    }
  }
  static const std::regex kParam(R"(([?&](password|api[-_]?key)=)[^&]*)", std::regex::icase);
  out = std::regex_replace(out, kParam, "$1***");
  // The same password anywhere else in the text (a URL pasted twice, a path that repeats it) goes too.
  if (password.size() >= 3) {
    for (size_t at = out.find(password); at != std::string::npos; at = out.find(password, at + 3)) {
      out.replace(at, password.size(), "***");
    }
  }
  return out;
}

Result<std::string> ReadSecret(const std::string& name) {
  if (const char* value = std::getenv(name.c_str()); value != nullptr && *value != '\0') return std::string(value);
  const std::string file_var = name + "_FILE";
  const char* file = std::getenv(file_var.c_str());
  if (file == nullptr || *file == '\0') return std::string();
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, file_var + ": cannot read " + file);
  std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  return secret;
}

}  // namespace facefill
