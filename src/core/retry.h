// Retry with exponential backoff for calls to services (PostgreSQL, Qdrant, Redis) that can fail for a moment.
#pragma once

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <utility>

#include "facefill/status.h"

namespace facefill {

struct RetryOptions {
  int attempts = 6;                              // tries in all, the first included
  std::chrono::milliseconds initial_delay{100};  // before the second try; doubles each time
  std::chrono::milliseconds max_delay{5000};
};

// Calls `attempt` (returning Status) until it succeeds, fails with an error `retryable` rejects, or runs out of
// tries; returns the last Status. `on_retry(status, delay)` runs before each wait (logging, reconnecting).
template <typename Attempt, typename Retryable, typename OnRetry>
Status RetryWithBackoff(const RetryOptions& options, Attempt&& attempt, Retryable&& retryable, OnRetry&& on_retry) {
  auto delay = options.initial_delay;
  for (int i = 1;; ++i) {
    Status status = attempt();
    if (status.ok() || i >= options.attempts || !retryable(status)) return status;
    on_retry(status, delay);
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, options.max_delay);
  }
}

// A failure worth another try (a lost connection, a refused connect, a serialisation failure) is kUnavailable, and
// only such failures are: retry loops retry exactly those, and one that outlasts the retries reaches the caller as
// it is, telling it the service is gone.
inline Status RetryableError(std::string message) { return Status(StatusCode::kUnavailable, std::move(message)); }

inline bool IsRetryableError(const Status& s) { return s.code() == StatusCode::kUnavailable; }

}  // namespace facefill
