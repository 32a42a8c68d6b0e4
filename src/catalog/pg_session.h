// One PostgreSQL connection (libpqxx) with transactions that are retried, on a fresh connection, when the server
// goes away or the transaction loses a serialisation race. Errors become Status values.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <vector>

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

  // One statement in its own transaction (retried like Transact); the rows outlive the transaction.
  template <typename... Args>
  Result<pqxx::result> Query(const std::string& sql, Args&&... args) {
    pqxx::result rows;
    FACEFILL_RETURN_IF_ERROR(Transact([&](pqxx::work& txn) -> Status {
      rows = txn.exec_params(sql, args...);
      return Status::Ok();
    }));
    return rows;
  }

  // One statement whose rows, if any, are not needed.
  template <typename... Args>
  Status Execute(const std::string& sql, Args&&... args) {
    auto rows = Query(sql, std::forward<Args>(args)...);
    return rows.ok() ? Status::Ok() : rows.status();
  }

  // The first column of the first row of a query, as an integer.
  template <typename... Args>
  Result<int64_t> QueryInt(const std::string& sql, Args&&... args) {
    auto rows = Query(sql, std::forward<Args>(args)...);
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return Status(StatusCode::kDatabaseError, "query returned no row: " + sql);
    try {
      return (*rows)[0][0].template as<int64_t>();
    } catch (const std::exception& e) {
      return Status(StatusCode::kDatabaseError, std::string("unexpected value: ") + e.what() + " (" + sql + ")");
    }
  }

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

// Every row of a query through `read`, or the query's error; a value `read` cannot convert (NULL where a number
// was expected, out of range) is a kDatabaseError, not an exception.
template <typename T>
Result<std::vector<T>> Rows(Result<pqxx::result> rows, T (*read)(const pqxx::row&)) {
  if (!rows.ok()) return rows.status();
  std::vector<T> out;
  out.reserve(rows->size());
  try {
    for (const auto& row : *rows) out.push_back(read(row));
  } catch (const std::exception& e) {
    return Status(StatusCode::kDatabaseError, std::string("unexpected value in a row: ") + e.what());
  }
  return out;
}

// A row's first column, as a `read` for Rows.
template <typename T>
T FirstColumn(const pqxx::row& row) {
  return row[0].as<T>();
}

}  // namespace facefill::pg
