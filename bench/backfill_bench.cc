// facefill-bench: how fast the backfill is, against what, and where the time goes, on one corpus in one run.
// Measures the compute ceiling (CPU time of each unavoidable step alone), inference on pre-decoded images, decode
// at full and reduced scale (and the embedding similarity reduced decode keeps), and the real backfill (pipelined,
// sequential as the old service ran it, and sequential with only the allocator fixed) as separate processes for
// honest peak-memory figures (backfill_measure), then writes JSON, a Markdown table and a PNG chart
// (backfill_report).
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>
#include <iostream>
#include <thread>

#include "backfill_measure.h"
#include "backfill_report.h"
#include "core/process_tuning.h"
#include "facefill/backfill.h"
#include "facefill/corpus.h"
#include "facefill/runtime.h"

namespace {

namespace fs = std::filesystem;
using namespace facefill;
using namespace facefill::bench;

struct Flags {
  std::string corpus;
  int generate = 0;
  std::string profile = "12mp";
  std::string models_dir, detector, recognizer;
  int repetitions = 3;
  int sample = 30;
  std::string out = "bench-results";
  std::string shared;
  bool sweep = true;
  std::string postgres;        // admin URL of a PostgreSQL server: also compare the PostgreSQL + pgvector backend
  bool backends_only = false;  // only the SQLite vs PostgreSQL comparison
};

std::vector<fs::path> CorpusFiles(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".jpg") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<fs::path> PhotosUnder(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> ModelArgs(const Flags& f) {
  std::vector<std::string> a;
  if (!f.models_dir.empty()) a.insert(a.end(), {"--models", f.models_dir});
  if (!f.detector.empty()) a.insert(a.end(), {"--detector", f.detector});
  if (!f.recognizer.empty()) a.insert(a.end(), {"--recognizer", f.recognizer});
  return a;
}

// Generates the corpus when asked; 0, or the exit code of a failure.
int PrepareCorpus(Flags& f, const fs::path& out) {
  if (f.shared.empty() && fs::exists(fs::path(FACEFILL_SOURCE_DIR).parent_path() / "shared/images")) {
    f.shared = (fs::path(FACEFILL_SOURCE_DIR).parent_path() / "shared/images").string();
  }
  if (f.generate <= 0) return 0;
  auto options = CorpusOptions::ForProfile(f.profile);
  if (!options.ok()) return std::cerr << options.status().ToString() << "\n", 2;
  options->count = f.generate;
  std::vector<fs::path> faces, backgrounds;
  if (!f.shared.empty()) {
    for (const char* d : {"obama", "biden", "celeb", "group", "dlib_voc", "misc"})
      faces.push_back(fs::path(f.shared) / d);
    backgrounds.push_back(fs::path(f.shared) / "noface");
  } else {
    faces.push_back(fs::path(FACEFILL_DEFAULT_MODELS_DIR).parent_path().parent_path() / "samples");
  }
  if (f.corpus.empty()) f.corpus = (out / ("corpus-" + f.profile + "-" + std::to_string(f.generate))).string();
  std::cerr << "generating " << f.generate << " " << f.profile << " images in " << f.corpus << "\n";
  auto report = GenerateCorpus(faces, backgrounds, f.corpus, *options);
  if (!report.ok()) return std::cerr << report.status().ToString() << "\n", 2;
  return 0;
}

// Every measurement, in the order that keeps each from disturbing the next.
void Measure(const Flags& f, const std::vector<fs::path>& files, FaceAnalyzer& analyzer, const BackfillSetup& setup,
             BenchResults* r) {
  // Decode alone, first with glibc's default allocator (fresh mappings), then tuned (reused buffers).
  const Sample sample = LoadSample(files, f.sample);
  DecodeOptions full, half, quarter, pipeline_decode = BackfillOptions().decode;
  half.reduce = 2;
  quarter.reduce = 4;
  r->decode.full_fresh_ms = DecodeMs(sample, full);
  r->decode.half_fresh_ms = DecodeMs(sample, half);
  TuneAllocatorForLargeBuffers();
  (void)DecodeMs(sample, full);  // warm the reused heap
  r->decode.full_reused_ms = DecodeMs(sample, full);
  r->decode.half_reused_ms = DecodeMs(sample, half);
  r->decode.quarter_reused_ms = DecodeMs(sample, quarter);
  std::cerr << "  decode: " << ToJson(*r)["decode"].dump() << "\n";

  std::vector<cv::Mat> decoded;
  r->ceiling = MeasureCeiling(analyzer, sample, pipeline_decode, &decoded);
  std::cerr << "  ceiling: " << ToJson(*r)["ceiling"].dump() << "\n";
  r->inference_only = MeasureInferenceOnly(analyzer, decoded);
  std::cerr << "  inference only: " << ToJson(*r)["inference_only"].dump() << "\n";
  decoded.clear();
  // What reduced decode costs in accuracy: the pipeline's own policy on this corpus, and a forced 1/2 decode on
  // the (mostly small) shared photos, where it is not used by default.
  std::vector<fs::path> sample_files(files.begin(), files.begin() + std::min<size_t>(files.size(), f.sample));
  r->pipeline_decode_similarity = PolicyDecodeSimilarity(analyzer, sample_files, pipeline_decode);
  std::cerr << "  pipeline decode similarity: " << ToJson(*r)["pipeline_decode_similarity"].dump() << "\n";
  DecodeOptions auto_decode = pipeline_decode;  // the earlier default, --decode-scale 0
  auto_decode.reduce = 0;
  r->auto_decode_similarity = PolicyDecodeSimilarity(analyzer, sample_files, auto_decode);
  std::cerr << "  auto decode similarity: " << ToJson(*r)["auto_decode_similarity"].dump() << "\n";
  DecodeOptions region_decode = auto_decode;
  region_decode.region_decode = true;
  r->region_decode_similarity = PolicyDecodeSimilarity(analyzer, sample_files, region_decode);
  std::cerr << "  region decode similarity: " << ToJson(*r)["region_decode_similarity"].dump() << "\n";
  if (!f.shared.empty()) {
    r->half_decode_similarity_shared = PolicyDecodeSimilarity(analyzer, PhotosUnder(f.shared), half);
    std::cerr << "  1/2 decode similarity (shared photos): " << ToJson(*r)["half_decode_similarity_shared"].dump()
              << "\n";
  }

  r->pipelined = RepeatBackfill(setup, "pipelined", {}, f.repetitions);
  r->pipelined_auto_decode = RepeatBackfill(setup, "pipelined_auto_decode", {"--decode-scale", "0"}, f.repetitions);
  r->pipelined_region_decode = RepeatBackfill(setup, "pipelined_region_decode", {"--region-decode"}, f.repetitions);
  r->sequential = RepeatBackfill(setup, "sequential", {"--sequential", "--decode-scale", "1"}, f.repetitions);
  r->sequential_allocator_fixed =
      RepeatBackfill(setup, "sequential_allocator_fixed",
                     {"--sequential", "--decode-scale", "1", "--malloc-tuning", "on"}, f.repetitions);
  if (f.sweep) r->sweep = Sweep(setup);
}

int Run(Flags& f) {
  const fs::path out = f.out;
  fs::create_directories(out);
  if (int failed = PrepareCorpus(f, out); failed != 0) return failed;
  if (f.corpus.empty()) return std::cerr << "give --corpus DIR or --generate N\n", 2;
  const auto files = CorpusFiles(f.corpus);
  if (files.empty()) return std::cerr << f.corpus << ": no .jpg files\n", 2;

  auto pack = LocateModelPack({f.models_dir, f.detector, f.recognizer});
  if (!pack.ok()) return std::cerr << pack.status().ToString() << "\n", 2;
  auto analyzer = FaceAnalyzer::Open(*pack);
  if (!analyzer.ok()) return std::cerr << analyzer.status().ToString() << "\n", 2;
  BenchResults r;
  r.date = fmt::format("{:%Y-%m-%d}", fmt::localtime(std::time(nullptr)));
  r.corpus = f.corpus;
  r.profile = f.profile;
  r.images = files.size();
  r.models = pack->id;
  r.cores = std::thread::hardware_concurrency();
  r.repetitions = f.repetitions;
  r.backends_only = f.backends_only;
  std::cerr << "facefill-bench: " << files.size() << " images, models " << pack->id << "\n";
  const BackfillSetup setup{f.corpus, out / "work", ModelArgs(f), f.postgres};
  fs::create_directories(setup.work);
  if (!f.postgres.empty()) {
    r.backends = CompareBackends(setup, f.repetitions);
    std::cerr << "  backends: " << ToJson(r)["backends"].dump() << "\n";
  }
  if (f.backends_only) {
    fs::remove_all(setup.work);
    std::ofstream(out / "bench.json") << ToJson(r).dump(2) << "\n";
    const std::string md = r.backends ? BackendsMarkdown(*r.backends) : "";
    std::ofstream(out / "bench.md") << md;
    std::cout << md;
    return !r.backends || !r.backends->error.empty() ? 1 : 0;
  }
  Measure(f, files, **analyzer, setup, &r);
  fs::remove_all(setup.work);

  std::ofstream(out / "bench.json") << ToJson(r).dump(2) << "\n";
  const std::string md = Markdown(r);
  std::ofstream(out / "bench.md") << md;
  std::cout << md;
  DrawChart(r, out / "bench.png");
  std::cerr << "wrote " << (out / "bench.json") << ", bench.md, bench.png\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"facefill-bench: pipelined backfill against the sequential baseline and the compute ceiling"};
  app.add_option("--corpus", f.corpus, "Folder of .jpg images (generated with --generate if empty)");
  app.add_option("--generate", f.generate, "Generate this many images first (100, 1000, 10000)");
  app.add_option("--profile", f.profile, "Corpus profile: 12mp or 3mp")->capture_default_str();
  app.add_option("--models", f.models_dir, "Model pack folder");
  app.add_option("--detector", f.detector, "Detector .onnx");
  app.add_option("--recognizer", f.recognizer, "Recogniser .onnx");
  app.add_option("--repetitions", f.repetitions, "Runs per backfill mode (medians)")->capture_default_str();
  app.add_option("--sample", f.sample, "Images for the in-process measurements")->capture_default_str();
  app.add_option("--out", f.out, "Folder for bench.json, bench.md, bench.png")->capture_default_str();
  app.add_option("--shared", f.shared, "Real photos for the reduced-decode similarity check");
  app.add_flag("!--no-sweep", f.sweep, "Skip the inference-threads x faces-per-call sweep");
  app.add_option("--postgres", f.postgres,
                 "Admin URL of a PostgreSQL server (with pgvector): also compare the PostgreSQL + pgvector backend");
  app.add_flag("--backends-only", f.backends_only, "Only the SQLite vs PostgreSQL comparison (needs --postgres)");
  CLI11_PARSE(app, argc, argv);
  return Run(f);
}
