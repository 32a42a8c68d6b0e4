// PostgreSQL session: connect, retry, translate libpqxx exceptions into Status at this module's edge.
#include "pg_session.h"

#include <spdlog/spdlog.h>

#include "facefill/url.h"

namespace facefill::pg {
namespace {

// Errors that are worth running the transaction again for (SQLSTATE class 08 = connection, 40001 = serialisation
// failure, 40P01 = deadlock, 57P01..03 = server shutting down / cannot connect now).
bool RetryableState(const std::string& state) {
  return state.rfind("08", 0) == 0 || state == "40001" || state == "40P01" || state.rfind("57P0", 0) == 0;
}

// libpq's messages span lines ("...failed: Connection refused\n\tIs the server running...?\n"): one line.
std::string OneLine(const std::string& text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

}  // namespace

Session::Session(std::string url, RetryOptions retry)
    : url_(std::move(url)), redacted_url_(RedactUrl(url_)), retry_(retry) {}

Result<std::unique_ptr<Session>> Session::Open(const std::string& url, const RetryOptions& retry) {
  std::unique_ptr<Session> session(new Session(url, retry));
  std::lock_guard lock(session->mutex_);
  Status status = RetryWithBackoff(
      retry, [&] { return session->Connect(); }, IsRetryableError,
      [&](const Status& s, auto delay) {
        spdlog::debug("PostgreSQL {}: {}; retrying in {} ms", session->redacted_url_, s.message(), delay.count());
      });
  if (status.code() == StatusCode::kUnavailable) {
    return Status(status.code(), "PostgreSQL at " + session->redacted_url_ + " not reachable after " +
                                     std::to_string(retry.attempts) + " tries: " + status.message());
  }
  if (!status.ok()) return status;
  return session;
}

Status Session::Connect() {
  conn_.reset();
  try {
    auto conn = std::make_unique<pqxx::connection>(url_);
    pqxx::nontransaction setup(*conn);
    setup.exec("SET TIME ZONE 'UTC'");
    setup.exec("SET application_name = 'facefill'");
    conn_ = std::move(conn);
    return Status::Ok();
  } catch (const pqxx::broken_connection& e) {
    return RetryableError("cannot connect: " + OneLine(e.what()));
  } catch (const std::exception& e) {
    return Status(StatusCode::kDatabaseError, "PostgreSQL setup failed: " + OneLine(e.what()));
  }
}

Status Session::Transact(const std::function<Status(pqxx::work&)>& body) {
  std::lock_guard lock(mutex_);
  auto attempt = [&]() -> Status {
    if (conn_ == nullptr || !conn_->is_open()) FACEFILL_RETURN_IF_ERROR(Connect());
    try {
      pqxx::work txn(*conn_);
      Status status = body(txn);
      if (!status.ok()) return status;  // the transaction is rolled back when txn goes out of scope
      txn.commit();
      return Status::Ok();
    } catch (const pqxx::in_doubt_error& e) {
      // Every facefill transaction is an idempotent upsert, so running it again is safe.
      conn_.reset();
      return RetryableError(std::string("commit outcome unknown: ") + e.what());
    } catch (const pqxx::broken_connection& e) {
      conn_.reset();
      return RetryableError(std::string("connection lost: ") + e.what());
    } catch (const pqxx::sql_error& e) {
      if (RetryableState(e.sqlstate())) {
        if (e.sqlstate().rfind("08", 0) == 0 || e.sqlstate().rfind("57P0", 0) == 0) conn_.reset();
        return RetryableError(std::string(e.what()) + " (SQLSTATE " + e.sqlstate() + ")");
      }
      return Status(StatusCode::kDatabaseError, std::string(e.what()) + " (SQLSTATE " + e.sqlstate() + ")");
    } catch (const std::exception& e) {
      return Status(StatusCode::kDatabaseError, e.what());
    }
  };
  Status status = RetryWithBackoff(retry_, attempt, IsRetryableError, [&](const Status& s, auto delay) {
    spdlog::warn("PostgreSQL {}: {}; retrying in {} ms", redacted_url_, s.message(), delay.count());
  });
  return status;
}

}  // namespace facefill::pg
