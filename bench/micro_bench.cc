// Micro-benchmark of the inference stages: ms per image for detection and ms per face for embedding, at 1 and 2
// intra-op threads and with 2 model instances in parallel (Google Benchmark ->Threads(2), one clone per thread).
// Models: the default pack (always), plus SCRFD det_500m / det_2.5g from $FACEFILL_SHARED or ../shared if present.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "facefill/align.h"
#include "facefill/detector.h"
#include "facefill/embedder.h"
#include "facefill/image.h"

namespace {

namespace fs = std::filesystem;
using namespace facefill;

fs::path SharedDir() {
  if (const char* env = std::getenv("FACEFILL_SHARED")) return env;
  return fs::path(FACEFILL_SOURCE_DIR).parent_path() / "shared";
}

const cv::Mat& Photo() {
  static cv::Mat photo = [] {
    auto decoded =
        DecodeImageFile(fs::path(FACEFILL_DEFAULT_MODELS_DIR).parent_path().parent_path() / "samples" / "sample2.jpg");
    if (!decoded.ok()) std::abort();
    return decoded->bgr;
  }();
  return photo;
}

// Detectors by (model, intra-op threads); each benchmark thread takes its own clone.
std::unique_ptr<FaceDetector> Detector(const std::string& model, int threads) {
  static std::mutex mutex;
  static std::map<std::pair<std::string, int>, std::unique_ptr<FaceDetector>> cache;
  std::lock_guard lock(mutex);
  auto& slot = cache[{model, threads}];
  if (!slot) {
    DetectorOptions options;
    options.runtime.intra_op_threads = threads;
    const fs::path pack = FACEFILL_DEFAULT_MODELS_DIR;
    auto opened = model == "ultralight"
                      ? OpenUltraLightDetector(pack / "fr_detect.onnx", pack / "fr_landmark.onnx", options)
                      : OpenScrfdDetector(SharedDir() / "models/scrfd" / (model + ".onnx"), options);
    if (!opened.ok()) return nullptr;
    slot = std::move(opened).value();
  }
  return slot->Clone();
}

std::unique_ptr<FaceEmbedder> Embedder(int threads) {
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<FaceEmbedder>> cache;
  std::lock_guard lock(mutex);
  auto& slot = cache[threads];
  if (!slot) {
    EmbedderOptions options;
    options.runtime.intra_op_threads = threads;
    options.input_mean = 127.0f, options.input_std = 128.0f;
    auto opened = OpenArcFaceEmbedder(fs::path(FACEFILL_DEFAULT_MODELS_DIR) / "fr_feature.onnx", options);
    if (!opened.ok()) return nullptr;
    slot = std::move(opened).value();
  }
  return slot->Clone();
}

// Arg: intra-op threads. Reports ms per image per thread; items_per_second is the aggregate image rate.
void BM_Detect(benchmark::State& state, const std::string& model) {
  auto detector = Detector(model, static_cast<int>(state.range(0)));
  if (!detector) {
    state.SkipWithError(("model not available: " + model).c_str());
    return;
  }
  for (auto _ : state) {
    auto faces = detector->Detect(Photo());
    benchmark::DoNotOptimize(faces);
  }
  state.SetItemsProcessed(state.iterations());
}

// Args: intra-op threads, faces per Embed call. items_per_second is faces per second.
void BM_Embed(benchmark::State& state) {
  auto embedder = Embedder(static_cast<int>(state.range(0)));
  if (!embedder) {
    state.SkipWithError("default pack not available");
    return;
  }
  static const std::vector<cv::Mat> faces = [] {
    auto detector = Detector("ultralight", 1);
    auto found = detector->Detect(Photo());
    std::vector<cv::Mat> crops;
    for (int i = 0; i < 64; ++i) crops.push_back(AlignFace(Photo(), (*found)[i % found->size()].landmarks));
    return crops;
  }();
  const size_t batch = static_cast<size_t>(state.range(1));
  std::span<const cv::Mat> input(faces.data(), batch);
  for (auto _ : state) {
    auto embeddings = embedder->Embed(input);
    benchmark::DoNotOptimize(embeddings);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}

}  // namespace

int main(int argc, char** argv) {
  for (const std::string model : {"ultralight", "det_500m", "det_2.5g"}) {
    // Time is per image; with ->Threads(2) each thread has its own clone and items_per_second is the aggregate.
    benchmark::RegisterBenchmark(("BM_Detect/" + model).c_str(), BM_Detect, model)
        ->ArgName("intra_threads")
        ->Arg(1)
        ->Arg(2)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("BM_Detect/" + model + "/2_instances").c_str(), BM_Detect, model)
        ->ArgName("intra_threads")
        ->Arg(1)
        ->Threads(2)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("BM_Embed", BM_Embed)
      ->ArgNames({"intra_threads", "faces_per_call"})
      ->Args({1, 1})
      ->Args({1, 16})
      ->Args({2, 1})
      ->Args({2, 16})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_Embed/2_instances", BM_Embed)
      ->ArgNames({"intra_threads", "faces_per_call"})
      ->Args({1, 1})
      ->Args({1, 16})
      ->Threads(2)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
