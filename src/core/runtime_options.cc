// Validation of RuntimeOptions, and the --device words.
#include <charconv>

#include "facefill/runtime.h"

namespace facefill {

Result<Device> Device::Parse(std::string_view text) {
  Device device;
  if (text == "cpu") return device;
  if (text == "auto") {
    device.kind = Kind::kAuto;
    return device;
  }
  if (text.substr(0, 4) == "cuda") {
    device.kind = Kind::kCuda;
    std::string_view rest = text.substr(4);
    if (rest.empty()) return device;
    if (rest[0] == ':' && rest.size() > 1) {
      const char* end = rest.data() + rest.size();
      auto [ptr, ec] = std::from_chars(rest.data() + 1, end, device.index);
      if (ec == std::errc() && ptr == end && device.index >= 0) return device;
    }
  }
  return Status::InvalidArgument("device '" + std::string(text) + "': expected cpu, cuda, cuda:N or auto");
}

std::string Device::ToString() const {
  switch (kind) {
    case Kind::kCpu:
      return "cpu";
    case Kind::kAuto:
      return "auto";
    case Kind::kCuda:
      return "cuda:" + std::to_string(index);
  }
  return "cpu";
}

Status RuntimeOptions::Validate() const {
  if (intra_op_threads < 0) return Status::InvalidArgument("intra_op_threads must be >= 0");
  if (cuda.conv_algo_search != "EXHAUSTIVE" && cuda.conv_algo_search != "HEURISTIC" &&
      cuda.conv_algo_search != "DEFAULT") {
    return Status::InvalidArgument("cuDNN algorithm search '" + cuda.conv_algo_search +
                                   "': expected EXHAUSTIVE, HEURISTIC or DEFAULT");
  }
  return Status::Ok();
}

}  // namespace facefill
