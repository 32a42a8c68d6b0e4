// Validation of RuntimeOptions.
#include "facefill/runtime.h"

namespace facefill {

Status RuntimeOptions::Validate() const {
  if (intra_op_threads < 0) return Status(StatusCode::kInvalidArgument, "intra_op_threads must be >= 0");
  return Status::Ok();
}

}  // namespace facefill
