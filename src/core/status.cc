// Names and formatting of Status codes.
#include "facefill/status.h"

namespace facefill {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kPermissionDenied:
      return "permission_denied";
    case StatusCode::kIoError:
      return "io_error";
    case StatusCode::kEmptyFile:
      return "empty_file";
    case StatusCode::kUnsupportedFormat:
      return "unsupported_format";
    case StatusCode::kCorruptImage:
      return "corrupt_image";
    case StatusCode::kImageTooLarge:
      return "image_too_large";
    case StatusCode::kPathTooLong:
      return "path_too_long";
    case StatusCode::kModelError:
      return "model_error";
    case StatusCode::kInferenceError:
      return "inference_error";
    case StatusCode::kDeviceError:
      return "device_error";
    case StatusCode::kDatabaseError:
      return "database_error";
    case StatusCode::kVectorStoreError:
      return "vector_store_error";
    case StatusCode::kQueueError:
      return "queue_error";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kCancelled:
      return "cancelled";
    case StatusCode::kInternal:
      return "internal";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(StatusCodeName(code_)) + ": " + message_;
}

}  // namespace facefill
