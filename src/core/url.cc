// ParseServiceUrl and ReadSecret.
#include "facefill/url.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

namespace facefill {
namespace {

Status Invalid(const std::string& url, const std::string& why) {
  return Status(StatusCode::kInvalidArgument, "invalid URL '" + RedactUrl(url) + "': " + why);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes; false when an escape is malformed.
bool PercentDecode(const std::string& in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

}  // namespace

Result<ServiceUrl> ParseServiceUrl(const std::string& url) {
  ServiceUrl out;
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos || scheme_end == 0) return Invalid(url, "expected scheme://host");
  for (size_t i = 0; i < scheme_end; ++i) {
    const char c = url[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return Invalid(url, "bad scheme");
    }
    out.scheme.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  std::string rest = url.substr(scheme_end + 3);
  std::string query;
  if (const size_t q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest.resize(q);
  }
  std::string authority = rest, path;
  if (const size_t slash = rest.find('/'); slash != std::string::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  if (const size_t at = authority.rfind('@'); at != std::string::npos) {
    const std::string userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const size_t colon = userinfo.find(':');
    if (!PercentDecode(userinfo.substr(0, colon), &out.user)) return Invalid(url, "bad escape in user");
    if (colon != std::string::npos && !PercentDecode(userinfo.substr(colon + 1), &out.password)) {
      return Invalid(url, "bad escape in password");
    }
  }
  std::string port;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    const size_t close = authority.find(']');
    if (close == std::string::npos) return Invalid(url, "unclosed '[' in host");
    out.host = authority.substr(1, close - 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Invalid(url, "junk after ']'");
      port = after.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string::npos) {
    out.host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  } else {
    out.host = authority;
  }
  if (out.host.empty()) return Invalid(url, "no host");
  if (!port.empty()) {
    if (port.size() > 5) return Invalid(url, "port out of range");
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return Invalid(url, "port is not a number");
    }
    out.port = std::stoi(port);
    if (out.port < 1 || out.port > 65535) return Invalid(url, "port out of range");
  }
  if (!PercentDecode(path, &out.path)) return Invalid(url, "bad escape in path");
  std::stringstream pairs(query);
  for (std::string pair; std::getline(pairs, pair, '&');) {
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string key, value;
    if (!PercentDecode(pair.substr(0, eq), &key) ||
        (eq != std::string::npos && !PercentDecode(pair.substr(eq + 1), &value))) {
      return Invalid(url, "bad escape in query");
    }
    out.query[key] = value;
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
