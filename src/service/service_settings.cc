// LoadServiceSettings: the service's .env file and environment, read the way its settings class reads them.
#include "facefill/service_settings.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>

extern char** environ;

namespace facefill {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Trim(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

// One "KEY=VALUE" line of a .env file; false for blank lines and comments.
bool ParseLine(const std::string& raw, std::string* key, std::string* value) {
  std::string line = Trim(raw);
  if (line.empty() || line[0] == '#') return false;
  if (line.rfind("export ", 0) == 0) line = Trim(line.substr(7));
  const size_t eq = line.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  *key = Lower(Trim(line.substr(0, eq)));
  std::string v = Trim(line.substr(eq + 1));
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
    v = v.substr(1, v.size() - 2);
  } else if (const size_t hash = v.find(" #"); hash != std::string::npos) {
    v = Trim(v.substr(0, hash));  // an unquoted value ends at an inline comment
  }
  *value = v;
  return true;
}

}  // namespace

std::string LibpqUrl(const std::string& database_url) {
  const size_t scheme_end = database_url.find("://");
  if (scheme_end == std::string::npos) return database_url;
  const std::string scheme = Lower(database_url.substr(0, scheme_end));
  const size_t plus = scheme.find('+');
  if (plus == std::string::npos) return database_url;
  const std::string base = scheme.substr(0, plus);
  if (base != "postgresql" && base != "postgres") return database_url;
  return "postgresql" + database_url.substr(scheme_end);
}

std::string ServiceSettings::VectorStoreUrl() const {
  std::string url = qdrant_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url + "/" + face_collection;
}

Result<ServiceSettings> LoadServiceSettings(const std::string& env_file) {
  std::map<std::string, std::string> values;
  if (env_file != "-") {
    std::ifstream in(env_file);
    if (!in) return Status(StatusCode::kNotFound, "cannot read the service's settings file " + env_file);
    std::string line, key, value;
    while (std::getline(in, line)) {
      if (ParseLine(line, &key, &value)) values[key] = value;
    }
  }
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry = *e;
    const size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = Lower(entry.substr(0, eq));
    if (key == "database_url" || key == "qdrant_url" || key == "qdrant_api_key" || key == "qdrant_face_collection" ||
        key == "redis_url") {
      values[key] = entry.substr(eq + 1);
    }
  }
  ServiceSettings s;  // the service's own defaults for what its settings leave out
  auto take = [&](const char* key, std::string* field) {
    auto it = values.find(key);
    if (it != values.end() && !it->second.empty()) *field = it->second;
  };
  take("database_url", &s.database_url);
  take("qdrant_url", &s.qdrant_url);
  take("qdrant_api_key", &s.qdrant_api_key);
  take("qdrant_face_collection", &s.face_collection);
  take("redis_url", &s.redis_url);
  s.database_url = LibpqUrl(s.database_url);
  return s;
}

}  // namespace facefill
