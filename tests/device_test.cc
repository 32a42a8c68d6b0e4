// --device: the words it takes, and every reason CUDA cannot be used giving its own clear error and exit code 2 —
// with the CPU build of ONNX Runtime, with the GPU build on a host without CUDA, and with its provider file missing.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "facefill/analyzer.h"
#include "facefill/backfill.h"
#include "facefill/image.h"
#include "facefill/runtime.h"
#include "test_support.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using testing::SharedDir;
using testing::TempDir;

const fs::path kCpuRuntime = FACEFILL_ORT_CPU_LIB;
const fs::path kGpuRuntime = FACEFILL_ORT_GPU_LIB;

// `facefill detect` on one shared photo, with the ONNX Runtime found first in `runtime_dir`; stdout and stderr.
testing::ChildResult Detect(const fs::path& runtime_dir, const std::string& flags, const std::string& env = "") {
  const fs::path photo = SharedDir() / "images/obama/obama.jpg";
  return testing::RunShell("env LD_LIBRARY_PATH=" + runtime_dir.string() + " " + env + " " + FACEFILL_CLI + " detect " +
                           flags + " " + photo.string() + " 2>&1");
}

bool HostHasNvidiaDriver() {
  void* handle = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (handle != nullptr) dlclose(handle);
  return handle != nullptr;
}

TEST(DeviceTest, ParsesTheDeviceWords) {
  EXPECT_EQ(Device::Parse("cpu")->kind, Device::Kind::kCpu);
  EXPECT_EQ(Device::Parse("auto")->kind, Device::Kind::kAuto);
  auto cuda = Device::Parse("cuda");
  ASSERT_TRUE(cuda.ok());
  EXPECT_EQ(cuda->kind, Device::Kind::kCuda);
  EXPECT_EQ(cuda->index, 0);
  auto second = Device::Parse("cuda:1");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->index, 1);
  EXPECT_EQ(second->ToString(), "cuda:1");
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda1", "CPU", ""}) {
    auto parsed = Device::Parse(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    }
  }
  RuntimeOptions options;
  options.cuda.conv_algo_search = "FASTEST";
  EXPECT_FALSE(options.Validate().ok());
}

TEST(DeviceTest, OnAGpuOneInferenceThreadFeedsItInBatchesAndDecodingTakesTheCores) {
  const BackfillOptions defaults;
  BackfillOptions cpu;
  PlanForDevice(Device{}, 16, {}, &cpu);
  EXPECT_EQ(cpu.inference_threads, defaults.inference_threads);
  EXPECT_EQ(cpu.decode_threads, defaults.decode_threads);
  EXPECT_EQ(cpu.images_per_detect_call, 1) << "batches do not pay on the CPU";
  BackfillOptions gpu;
  PlanForDevice(Device{Device::Kind::kCuda, 0}, 16, {}, &gpu);
  EXPECT_EQ(gpu.inference_threads, 1);
  EXPECT_EQ(gpu.decode_threads, 16);
  EXPECT_EQ(gpu.images_per_detect_call, 8);
  BackfillOptions small_host;
  PlanForDevice(Device{Device::Kind::kCuda, 0}, 1, {}, &small_host);
  EXPECT_EQ(small_host.decode_threads, 2);
  BackfillOptions chosen;
  chosen.inference_threads = 3;
  chosen.decode_threads = 5;
  chosen.images_per_detect_call = 2;
  PlanForDevice(Device{Device::Kind::kCuda, 1}, 16, {true, true, true}, &chosen);
  EXPECT_EQ(chosen.inference_threads, 3) << "a thread count the user gave is kept";
  EXPECT_EQ(chosen.decode_threads, 5);
  EXPECT_EQ(chosen.images_per_detect_call, 2);
}

// IoBinding is another call path to the same kernels: on the CPU it gives exactly the plain call's faces and vectors.
TEST(DeviceTest, IoBindingGivesExactlyThePlainCallsFacesAndVectors) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
  FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  auto pack = LocateModelPack({testing::DefaultPackDir(), "", ""});
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  AnalyzerOptions bound;
  bound.detector.runtime.io_binding = true;
  bound.embedder.runtime.io_binding = true;
  auto plain = FaceAnalyzer::Open(*pack);
  auto with_binding = FaceAnalyzer::Open(*pack, bound);
  ASSERT_TRUE(plain.ok() && with_binding.ok());
  size_t faces = 0;
  for (const auto& entry : fs::directory_iterator(SharedDir() / "images/group")) {
    auto image = DecodeImageFile(entry.path());
    ASSERT_TRUE(image.ok()) << entry.path();
    auto a = (*plain)->Analyze(image->bgr);
    auto b = (*with_binding)->Analyze(image->bgr);
    ASSERT_TRUE(a.ok() && b.ok()) << entry.path();
    ASSERT_EQ(a->size(), b->size()) << entry.path();
    for (size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ((*a)[i].detection.score, (*b)[i].detection.score);
      EXPECT_EQ((*a)[i].detection.box.x1, (*b)[i].detection.box.x1);
      EXPECT_EQ((*a)[i].detection.box.y2, (*b)[i].detection.box.y2);
      EXPECT_EQ((*a)[i].embedding, (*b)[i].embedding) << entry.path() << " face " << i;
    }
    faces += a->size();
  }
  EXPECT_GT(faces, 30u);
}

TEST(DeviceTest, AnUnknownDeviceWordIsAUsageError) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
  auto result = Detect(kCpuRuntime, "--device gpu");
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_NE(result.out.find("expected cpu, cuda, cuda:N or auto"), std::string::npos) << result.out;
}

TEST(DeviceTest, CudaOnTheCpuBuildSaysItIsCpuOnly) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
  FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  for (const std::string& how : {std::string("--device cuda"), std::string("--device cuda:1")}) {
    auto result = Detect(kCpuRuntime, how);
    EXPECT_EQ(result.exit_code, 2) << how << ": " << result.out;
    EXPECT_NE(result.out.find("CPU-only build"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("scripts/setup.sh --gpu"), std::string::npos) << result.out;
    EXPECT_EQ(result.out.find("face(s)"), std::string::npos) << "no image may be analysed: " << result.out;
  }
  // FACEFILL_DEVICE is the flag's default.
  auto from_env = Detect(kCpuRuntime, "", "FACEFILL_DEVICE=cuda");
  EXPECT_EQ(from_env.exit_code, 2) << from_env.out;
  EXPECT_NE(from_env.out.find("--device cuda:0 cannot be used"), std::string::npos) << from_env.out;
}

TEST(DeviceTest, AutoFallsBackToTheCpuAndSaysWhy) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
  FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  auto result = Detect(kCpuRuntime, "--device auto");
  EXPECT_EQ(result.exit_code, 0) << result.out;
  EXPECT_NE(result.out.find("1 face(s)"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("device auto: running on the CPU, because this ONNX Runtime is a CPU-only build"),
            std::string::npos)
      << result.out;
  auto explicit_cpu = Detect(kCpuRuntime, "--device cpu");
  EXPECT_EQ(explicit_cpu.exit_code, 0) << explicit_cpu.out;
  EXPECT_EQ(explicit_cpu.out.find("device"), std::string::npos) << "--device cpu says nothing: " << explicit_cpu.out;
}

TEST(DeviceTest, TheGpuBuildWithoutCudaNamesTheMissingLibrary) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
  FACEFILL_REQUIRE_PATH(kGpuRuntime / "libonnxruntime_providers_cuda.so", "ONNX Runtime's GPU build (setup.sh --gpu)");
  if (HostHasNvidiaDriver()) GTEST_SKIP() << "this host has an NVIDIA driver: bench/gpu-check.sh is its test";
  auto result = Detect(kGpuRuntime, "--device cuda");
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_NE(result.out.find("the NVIDIA driver (>= 580) is missing: libcuda.so.1 cannot be loaded"), std::string::npos)
      << result.out;
  // The GPU build runs CPU work as the CPU build does: the same face, and auto names the missing driver.
  auto cpu = Detect(kGpuRuntime, "--device cpu --json --embeddings");
  auto reference = Detect(kCpuRuntime, "--device cpu --json --embeddings");
  EXPECT_EQ(cpu.exit_code, 0) << cpu.out;
  EXPECT_EQ(cpu.out, reference.out) << "the GPU build's CPU results differ from the CPU build's";
  auto fallback = Detect(kGpuRuntime, "--device auto");
  EXPECT_EQ(fallback.exit_code, 0) << fallback.out;
  EXPECT_NE(fallback.out.find("device auto: running on the CPU, because the NVIDIA driver"), std::string::npos)
      << fallback.out;
}

TEST(DeviceTest, AMissingProviderFileIsNamed) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
  FACEFILL_REQUIRE_PATH(kGpuRuntime / "libonnxruntime_providers_cuda.so", "ONNX Runtime's GPU build (setup.sh --gpu)");
  TempDir dir;  // the GPU core and its shared provider library, but no CUDA provider beside them
  for (const char* file : {"libonnxruntime.so.1", "libonnxruntime_providers_shared.so"}) {
    fs::create_symlink(kGpuRuntime / file, dir.path() / file);
  }
  auto result = Detect(dir.path(), "--device cuda:0");
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_NE(result.out.find("the CUDA provider file is missing: " +
                            (dir.path() / "libonnxruntime_providers_cuda.so").string()),
            std::string::npos)
      << result.out;
}

// The binary finds ONNX Runtime's GPU build first (unless built with FACEFILL_GPU_RUNTIME=OFF, as the sanitizer
// builds are), then the CPU build, and nothing else: an empty RUNPATH entry (CMake
// pads build trees with ':') would make the loader try the current directory before the system's libraries.
TEST(DeviceTest, TheBinaryLooksForTheGpuBuildFirstAndNeverInTheWorkingDirectory) {
  auto dynamic = testing::RunShell(std::string("readelf -d ") + FACEFILL_CLI + " 2>&1");
  ASSERT_EQ(dynamic.exit_code, 0) << dynamic.out;
  const std::string expected = FACEFILL_GPU_RUNTIME ? "[" + kGpuRuntime.string() + ":" + kCpuRuntime.string() + "]"
                                                    : "[" + kCpuRuntime.string() + "]";
  EXPECT_NE(dynamic.out.find("runpath: " + expected), std::string::npos) << dynamic.out;
}

}  // namespace
}  // namespace facefill
