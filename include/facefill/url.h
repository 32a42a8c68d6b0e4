// Service URLs (qdrant://, redis://, ...) and secrets: parsed once, with clear errors; never printed in full.
#pragma once

#include <map>
#include <string>

#include "facefill/status.h"

namespace facefill {

// scheme://[user[:password]@]host[:port][/path][?key=value&...]
struct ServiceUrl {
  std::string scheme;  // lower case
  std::string user;
  std::string password;
  std::string host;
  int port = 0;      // 0 when absent
  std::string path;  // without the leading '/', percent-decoded
  std::map<std::string, std::string> query;
};

// Errors are kInvalidArgument and quote the URL with its password redacted.
Result<ServiceUrl> ParseServiceUrl(const std::string& url);

// The URL with its password (user:PASSWORD@, everything from the first ':' to the last '@' of the authority) and
// any password= or api_key= query value replaced by "***", and the password removed wherever else it appears.
std::string RedactUrl(const std::string& url);

// A secret from the environment: the variable NAME, or the contents (trailing newline removed) of the file named by
// NAME_FILE. Empty when neither is set; an error when the file cannot be read.
Result<std::string> ReadSecret(const std::string& name);

}  // namespace facefill
