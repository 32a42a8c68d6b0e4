// One PostgreSQL connection (libpqxx) with transactions that are retried, on a fresh connection, when the server
// goes away or the transaction loses a serialisation race. Errors become Status values.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>

#include "../core/retry.h"
#include "facefill/status.h"

namespace facefill::pg {

class Session {
 public:
  // Connects (with retries) and sets the session up: UTC time zone, application_name=facefill.
  static Result<std::unique_ptr<Session>> Open(const std::string& url, const RetryOptions& retry = {});

  // Runs `body` in one transaction and commits it. When the connection breaks, or the server reports a
  // serialisation failure or deadlock, the whole transaction is run again (so `body` must be repeatable). Calls
  // are serialised: one transaction at a time per session.
  Status Transact(const std::function<Status(pqxx::work&)>& body);

  const std::string& redacted_url() const { return redacted_url_; }

 private:
  Session(std::string url, RetryOptions retry);
  Status Connect();

  std::mutex mutex_;
  std::string url_;
  std::string redacted_url_;
  RetryOptions retry_;
  std::unique_ptr<pqxx::connection> conn_;
};

// The text of a PostgreSQL array literal of integers ("{1,2,3}"), to bind as one parameter cast to int[] / uuid[].
template <typename Container>
std::string ArrayLiteral(const Container& values) {
  std::string out = "{";
  for (const auto& v : values) {
    if (out.size() > 1) out += ',';
    if constexpr (std::is_arithmetic_v<std::decay_t<decltype(v)>>) {
      out += std::to_string(v);
    } else {
      out += v;  // only for values without quotes, commas or braces (uuids)
    }
  }
  return out + "}";
}

}  // namespace facefill::pg
