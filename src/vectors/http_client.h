// Minimal HTTP/JSON over libcurl: one request at a time per HttpClient (each thread uses its own).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "facefill/status.h"

namespace facefill::http {

struct Response {
  long status = 0;  // HTTP status; 0 when no answer arrived
  std::string body;
};

struct ClientOptions {
  std::chrono::milliseconds timeout{30000};  // whole request
  std::chrono::milliseconds connect_timeout{5000};
  std::map<std::string, std::string> headers;  // sent with every request (never logged)
};

// Process-wide libcurl initialisation, before any thread starts a request.
void GlobalInit();

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // A transport failure (refused, reset, timeout, TLS) is kUnavailable; any HTTP answer is a Response.
  Result<Response> Send(const std::string& method, const std::string& url, const std::string& json_body);

 private:
  ClientOptions options_;
  void* curl_;  // CURL*
};

}  // namespace facefill::http
