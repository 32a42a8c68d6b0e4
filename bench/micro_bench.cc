// Micro-benchmark of the inference stages: ms per image for detection and ms per face for embedding, at 1 and 2
// intra-op threads and with 2 model instances in parallel (Google Benchmark ->Threads(2), one clone per thread).
// Models: the default pack (always), plus SCRFD det_500m / det_2.5g from $FACEFILL_SHARED or ../shared if present.
// The batch table (BM_DetectBatch, BM_EmbedBatch: batch 1, 4, 8, 16, 32 at 1 and 2 intra-op threads) runs copies of
// those models made batch-capable with BatchifyModel (`facefill models batchify`) in a temporary folder.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <tuple>

#include "facefill/align.h"
#include "facefill/detector.h"
#include "facefill/embedder.h"
#include "facefill/image.h"
#include "facefill/model_batchify.h"

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

// A batch-capable copy of a model (BatchifyModel into a temporary folder, once per process); empty on failure.
fs::path Batchified(const fs::path& model) {
  static std::mutex mutex;
  static std::map<fs::path, fs::path> done;
  std::lock_guard lock(mutex);
  auto found = done.find(model);
  if (found != done.end()) return found->second;
  const fs::path dir = fs::temp_directory_path() / ("facefill-microbench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  static const struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};
  BatchifyOptions options;
  const fs::path samples = fs::path(FACEFILL_DEFAULT_MODELS_DIR).parent_path().parent_path() / "samples";
  options.sample_images = {fs::exists(SharedDir() / "images") ? SharedDir() / "images" : samples};
  auto report = BatchifyModel(model, dir / model.filename(), options);
  return done[model] = report.ok() ? dir / model.filename() : fs::path();
}

fs::path DetectorPath(const std::string& model) { return SharedDir() / "models/scrfd" / (model + ".onnx"); }

// Detectors by (model, intra-op threads, batched, tight input); each benchmark thread takes its own clone.
std::unique_ptr<FaceDetector> Detector(const std::string& model, int threads, bool batched = false,
                                       bool tight_input = false) {
  static std::mutex mutex;
  static std::map<std::tuple<std::string, int, bool, bool>, std::unique_ptr<FaceDetector>> cache;
  const fs::path path = batched ? Batchified(DetectorPath(model)) : DetectorPath(model);
  std::lock_guard lock(mutex);
  auto& slot = cache[{model, threads, batched, tight_input}];
  if (!slot) {
    DetectorOptions options;
    options.runtime.intra_op_threads = threads;
    options.tight_input = tight_input;
    options.max_batch = 32;
    const fs::path pack = FACEFILL_DEFAULT_MODELS_DIR;
    auto opened = model == "ultralight"
                      ? OpenUltraLightDetector(pack / "fr_detect.onnx", pack / "fr_landmark.onnx", options)
                      : OpenScrfdDetector(path, options);
    if (!opened.ok()) return nullptr;
    slot = std::move(opened).value();
  }
  return slot->Clone();
}

std::unique_ptr<FaceEmbedder> Embedder(int threads, bool batched = false) {
  static std::mutex mutex;
  static std::map<std::pair<int, bool>, std::unique_ptr<FaceEmbedder>> cache;
  const fs::path original = fs::path(FACEFILL_DEFAULT_MODELS_DIR) / "fr_feature.onnx";
  const fs::path path = batched ? Batchified(original) : original;
  std::lock_guard lock(mutex);
  auto& slot = cache[{threads, batched}];
  if (!slot) {
    EmbedderOptions options;
    options.runtime.intra_op_threads = threads;
    options.input_mean = 127.0f, options.input_std = 128.0f;
    auto opened = OpenArcFaceEmbedder(path, options);
    if (!opened.ok()) return nullptr;
    slot = std::move(opened).value();
  }
  return slot->Clone();
}

// Arg: intra-op threads. Reports ms per image per thread; items_per_second is the aggregate image rate. `tight`:
// the used part of the letterbox instead of the whole square (a 4:3 photo: 640x480).
void DetectLoop(benchmark::State& state, const std::string& model, bool tight) {
  auto detector = Detector(model, static_cast<int>(state.range(0)), false, tight);
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

void BM_Detect(benchmark::State& state, const std::string& model) { DetectLoop(state, model, false); }
void BM_DetectTight(benchmark::State& state, const std::string& model) { DetectLoop(state, model, true); }

// Args: intra-op threads, images per model call, on the batchified model. per_image is seconds per image.
void BM_DetectBatch(benchmark::State& state, const std::string& model) {
  auto detector = Detector(model, static_cast<int>(state.range(0)), true);
  if (!detector) {
    state.SkipWithError(("model not available or not batchified: " + model).c_str());
    return;
  }
  const std::vector<cv::Mat> images(static_cast<size_t>(state.range(1)), Photo());
  for (auto _ : state) {
    auto faces = detector->DetectBatch(images);
    if (!faces.ok()) state.SkipWithError(faces.status().ToString().c_str());
    benchmark::DoNotOptimize(faces);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * images.size()));
  state.counters["per_image"] = benchmark::Counter(
      static_cast<double>(images.size()), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

const std::vector<cv::Mat>& Faces() {
  static const std::vector<cv::Mat> faces = [] {
    auto detector = Detector("ultralight", 1);
    auto found = detector->Detect(Photo());
    std::vector<cv::Mat> crops;
    for (int i = 0; i < 64; ++i) crops.push_back(AlignFace(Photo(), (*found)[i % found->size()].landmarks));
    return crops;
  }();
  return faces;
}

// Args: intra-op threads, faces per Embed call. items_per_second is faces per second.
void BM_Embed(benchmark::State& state) {
  auto embedder = Embedder(static_cast<int>(state.range(0)));
  if (!embedder) {
    state.SkipWithError("default pack not available");
    return;
  }
  const auto& faces = Faces();
  const size_t batch = static_cast<size_t>(state.range(1));
  std::span<const cv::Mat> input(faces.data(), batch);
  for (auto _ : state) {
    auto embeddings = embedder->Embed(input);
    benchmark::DoNotOptimize(embeddings);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}

// Args: intra-op threads, faces per model call, on the batchified recogniser. per_face is seconds per face.
void BM_EmbedBatch(benchmark::State& state) {
  auto embedder = Embedder(static_cast<int>(state.range(0)), true);
  if (!embedder || embedder->batch_limit() < state.range(1)) {
    state.SkipWithError("default pack not available or not batchified");
    return;
  }
  const size_t batch = static_cast<size_t>(state.range(1));
  std::span<const cv::Mat> input(Faces().data(), batch);
  for (auto _ : state) {
    auto embeddings = embedder->Embed(input);
    benchmark::DoNotOptimize(embeddings);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
  state.counters["per_face"] = benchmark::Counter(
      static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
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
  for (const std::string model : {"det_500m", "det_2.5g"}) {
    // CPU time is the whole process's (every intra-op thread): on a machine shared with builds, wall time
    // swings with the load, CPU per image much less.
    benchmark::RegisterBenchmark(("BM_DetectTight/" + model).c_str(), BM_DetectTight, model)
        ->ArgName("intra_threads")
        ->Arg(1)
        ->Arg(2)
        ->Unit(benchmark::kMillisecond)
        ->MeasureProcessCPUTime()
        ->UseRealTime();
    benchmark::RegisterBenchmark(("BM_DetectBatch/" + model).c_str(), BM_DetectBatch, model)
        ->ArgNames({"intra_threads", "batch"})
        ->ArgsProduct({{1, 2}, {1, 4, 8, 16, 32}})
        ->Unit(benchmark::kMillisecond)
        ->MeasureProcessCPUTime()
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("BM_EmbedBatch", BM_EmbedBatch)
      ->ArgNames({"intra_threads", "batch"})
      ->ArgsProduct({{1, 2}, {1, 4, 8, 16, 32}})
      ->Unit(benchmark::kMillisecond)
      ->MeasureProcessCPUTime()
      ->UseRealTime();
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
