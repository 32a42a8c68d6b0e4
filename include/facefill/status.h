// Status and Result<T>: how errors cross module boundaries in facefill (no exceptions past a module's edge).
#pragma once

#include <cassert>
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
  kDeviceError,        // the requested device (CUDA) cannot be used; the message names the cause
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
  // One named factory per code, as leveldb has: `return Status::NotFound("no job " + id);`.
  static Status InvalidArgument(std::string message) { return {StatusCode::kInvalidArgument, std::move(message)}; }
  static Status NotFound(std::string message) { return {StatusCode::kNotFound, std::move(message)}; }
  static Status PermissionDenied(std::string message) { return {StatusCode::kPermissionDenied, std::move(message)}; }
  static Status IoError(std::string message) { return {StatusCode::kIoError, std::move(message)}; }
  static Status EmptyFile(std::string message) { return {StatusCode::kEmptyFile, std::move(message)}; }
  static Status UnsupportedFormat(std::string message) { return {StatusCode::kUnsupportedFormat, std::move(message)}; }
  static Status CorruptImage(std::string message) { return {StatusCode::kCorruptImage, std::move(message)}; }
  static Status ImageTooLarge(std::string message) { return {StatusCode::kImageTooLarge, std::move(message)}; }
  static Status PathTooLong(std::string message) { return {StatusCode::kPathTooLong, std::move(message)}; }
  static Status ModelError(std::string message) { return {StatusCode::kModelError, std::move(message)}; }
  static Status InferenceError(std::string message) { return {StatusCode::kInferenceError, std::move(message)}; }
  static Status DeviceError(std::string message) { return {StatusCode::kDeviceError, std::move(message)}; }
  static Status DatabaseError(std::string message) { return {StatusCode::kDatabaseError, std::move(message)}; }
  static Status VectorStoreError(std::string message) { return {StatusCode::kVectorStoreError, std::move(message)}; }
  static Status QueueError(std::string message) { return {StatusCode::kQueueError, std::move(message)}; }
  static Status Unavailable(std::string message) { return {StatusCode::kUnavailable, std::move(message)}; }
  static Status Cancelled(std::string message) { return {StatusCode::kCancelled, std::move(message)}; }
  static Status Internal(std::string message) { return {StatusCode::kInternal, std::move(message)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "corrupt_image: photo.jpg: truncated JPEG data"
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value or a non-OK Status. An OK status holds no value, so it is refused: a debug build asserts, and a
// release build keeps it as kInternal (never a Result that is neither a value nor an error).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}                   // NOLINT(google-explicit-constructor)
  Result(Status status) : data_(RefuseOk(std::move(status))) {}  // NOLINT(google-explicit-constructor)

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
  static Status RefuseOk(Status status) {
    assert(!status.ok() && "a Result needs a value or an error, not an OK status");
    return status.ok() ? Status::Internal("a Result was given an OK status and no value") : status;
  }

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

// `FACEFILL_ASSIGN_OR_RETURN(auto info, queue.Get(id));`: declares or assigns `lhs` from a Result's value, or
// returns its Status early. One statement (not usable as the body of an unbraced if).
#define FACEFILL_ASSIGN_OR_RETURN(lhs, expr) \
  FACEFILL_ASSIGN_OR_RETURN_IMPL(FACEFILL_CONCAT(facefill_result_, __LINE__), lhs, expr)
#define FACEFILL_ASSIGN_OR_RETURN_IMPL(var, lhs, expr) \
  auto var = (expr);                                   \
  if (!var.ok()) return var.status();                  \
  lhs = std::move(var).value()
