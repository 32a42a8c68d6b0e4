// CUDA execution provider: the checks that name why it cannot be used, and the provider options facefill sets.
#include "execution_device.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace facefill::inference {
namespace {

constexpr const char* kCudaProviderName = "CUDAExecutionProvider";
constexpr const char* kSetupHint = "scripts/setup.sh --gpu installs ONNX Runtime's GPU build";

// The folder of the libonnxruntime.so this process loaded (where ONNX Runtime looks for its provider files).
std::filesystem::path LoadedRuntimeFolder() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&OrtGetApiBase), &info) == 0 || info.dli_fname == nullptr) return {};
  return std::filesystem::path(info.dli_fname).parent_path();
}

struct HostLibrary {
  const char* file;
  const char* what;
};

// What the CUDA provider of ONNX Runtime 1.29 needs from the host, the driver first.
constexpr std::array<HostLibrary, 6> kHostLibraries = {{
    {"libcuda.so.1", "the NVIDIA driver (>= 580)"},
    {"libcudart.so.13", "the CUDA 13 runtime"},
    {"libcublas.so.13", "cuBLAS (CUDA 13)"},
    {"libcublasLt.so.13", "cuBLASLt (CUDA 13)"},
    {"libcurand.so.10", "cuRAND (CUDA 13)"},
    {"libcudnn.so.9", "cuDNN 9"},
}};

struct LibraryCloser {
  void operator()(void* handle) const {
    if (handle != nullptr) dlclose(handle);
  }
};
using LibraryHandle = std::unique_ptr<void, LibraryCloser>;

Status CountDevices(void* cudart, int index) {
  using GetDeviceCount = int (*)(int*);
  auto get_count = reinterpret_cast<GetDeviceCount>(dlsym(cudart, "cudaGetDeviceCount"));
  if (get_count == nullptr) return Status::DeviceError("libcudart.so.13 has no cudaGetDeviceCount");
  int count = 0;
  if (const int rc = get_count(&count); rc != 0) {
    return Status::DeviceError("no usable CUDA device: cudaGetDeviceCount failed with CUDA error " +
                               std::to_string(rc) + " (no GPU visible, or a driver older than CUDA 13 needs)");
  }
  if (count == 0) return Status::DeviceError("no CUDA device is visible to this process");
  if (index >= count) {
    return Status::DeviceError("cuda:" + std::to_string(index) + " does not exist: " + std::to_string(count) +
                               " CUDA device(s), numbered from 0");
  }
  return Status::Ok();
}

// Throws Ort::Exception when ONNX Runtime refuses the provider.
void AppendCuda(int device_index, const CudaOptions& options, Ort::SessionOptions* session_options) {
  const OrtApi& api = Ort::GetApi();
  OrtCUDAProviderOptionsV2* raw = nullptr;
  Ort::ThrowOnError(api.CreateCUDAProviderOptions(&raw));
  std::unique_ptr<OrtCUDAProviderOptionsV2, decltype(api.ReleaseCUDAProviderOptions)> cuda(
      raw, api.ReleaseCUDAProviderOptions);
  const std::string device_id = std::to_string(device_index);
  const std::vector<const char*> keys = {"device_id", "cudnn_conv_algo_search", "prefer_nhwc",
                                         "use_tf32",  "arena_extend_strategy",  "do_copy_in_default_stream"};
  const std::vector<const char*> values = {device_id.c_str(),
                                           options.conv_algo_search.c_str(),
                                           options.prefer_nhwc ? "1" : "0",
                                           options.use_tf32 ? "1" : "0",
                                           options.arena_same_as_requested ? "kSameAsRequested" : "kNextPowerOfTwo",
                                           "1"};
  Ort::ThrowOnError(api.UpdateCUDAProviderOptions(cuda.get(), keys.data(), values.data(), keys.size()));
  session_options->AppendExecutionProvider_CUDA_V2(*cuda);
}

}  // namespace

Status CheckCudaUsable(int index) {
  const std::vector<std::string> providers = Ort::GetAvailableProviders();
  if (std::find(providers.begin(), providers.end(), kCudaProviderName) == providers.end()) {
    return Status::DeviceError(
        std::string("this ONNX Runtime is a CPU-only build (no CUDA execution provider in it); ") + kSetupHint +
        " beside it");
  }
  const std::filesystem::path folder = LoadedRuntimeFolder();
  for (const char* file : {"libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"}) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(folder / file, ec)) {
      return Status::DeviceError("the CUDA provider file is missing: " + (folder / file).string() + " (" + kSetupHint +
                                 " with its providers)");
    }
  }
  LibraryHandle cudart;
  for (const HostLibrary& library : kHostLibraries) {
    LibraryHandle handle(dlopen(library.file, RTLD_LAZY | RTLD_LOCAL));
    if (!handle) {
      const char* error = dlerror();
      return Status::DeviceError(std::string(library.what) + " is missing: " + library.file + " cannot be loaded (" +
                                 (error != nullptr ? error : "not found") +
                                 "); install it on the host or add its folder to LD_LIBRARY_PATH");
    }
    if (std::string_view(library.file) == "libcudart.so.13") cudart = std::move(handle);
  }
  return CountDevices(cudart.get(), index);
}

Result<Device> ConfigureDevice(const RuntimeOptions& options, Ort::SessionOptions* session_options) {
  Device device = options.device;
  if (device.kind == Device::Kind::kCpu) return device;
  Status usable = CheckCudaUsable(device.kind == Device::Kind::kAuto ? 0 : device.index);
  if (device.kind == Device::Kind::kAuto) {
    if (!usable.ok()) {
      static std::once_flag said;
      std::call_once(said, [&] { spdlog::warn("device auto: running on the CPU, because {}", usable.message()); });
      return Device{};
    }
    device = Device{Device::Kind::kCuda, 0};
  } else if (!usable.ok()) {
    return Status::DeviceError("--device " + device.ToString() + " cannot be used: " + usable.message());
  }
  try {
    AppendCuda(device.index, options.cuda, session_options);
  } catch (const Ort::Exception& e) {
    return Status::DeviceError("--device " + device.ToString() +
                               ": ONNX Runtime cannot start its CUDA provider: " + e.what());
  }
  return device;
}

}  // namespace facefill::inference
