// Status and Result<T>: how errors cross module boundaries in facefill (no exceptions past a module's edge).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace facefill {

// What went wrong, as a caller would branch on it. Image errors double as the per-asset reason recorded in the
// catalog, so their names are stable (see StatusCodeName).
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // a caller passed something unusable (bad option, bad URL)
  kNotFound,           // a file or record that should exist does not
  kPermissionDenied,   // the file exists but cannot be read, or lies outside the library root
  kIoError,            // a read or write failed below us
  kEmptyFile,          // zero bytes
  kUnsupportedFormat,  // content is not an image format we decode (whatever the extension says)
  kCorruptImage,       // an image format we know, but the data is broken or truncated
  kImageTooLarge,      // pixel count or file size above the configured limit (decompression-bomb guard)
  kPathTooLong,        // the catalog cannot store the file's path (the service's image_assets.path is varchar(500))
  kModelError,         // a model file is missing, malformed or breaks the contract we need
  kInferenceError,     // the runtime failed while running a model
  kDatabaseError,      // the catalog failed
  kVectorStoreError,   // the vector store failed
  kQueueError,         // the job queue failed
  kUnavailable,        // a service cannot be reached for now: retried, and final once the retries run out
  kCancelled,          // the operation was interrupted on request
  kInternal,           // a bug
};

// Stable snake_case name of a code ("corrupt_image"), used in logs, JSON and the catalog.
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "corrupt_image: photo.jpg: truncated JPEG data"
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : data_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(data_);
  }
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace facefill

#define FACEFILL_CONCAT_INNER(a, b) a##b
#define FACEFILL_CONCAT(a, b) FACEFILL_CONCAT_INNER(a, b)

// Returns early with the Status of an expression that failed.
#define FACEFILL_RETURN_IF_ERROR(expr) FACEFILL_RETURN_IF_ERROR_IMPL(FACEFILL_CONCAT(facefill_status_, __LINE__), expr)
#define FACEFILL_RETURN_IF_ERROR_IMPL(var, expr) \
  do {                                           \
    ::facefill::Status var = (expr);             \
    if (!var.ok()) return var;                   \
  } while (0)
