#include "vector_backends.h"
namespace facefill {
Result<std::unique_ptr<VectorStore>> OpenQdrantStore(const std::string&) {
  return Status(StatusCode::kInvalidArgument, "todo");
}
}  // namespace facefill
