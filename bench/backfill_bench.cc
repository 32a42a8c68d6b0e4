// facefill-bench: how fast the backfill is, against what, and where the time goes, on one corpus in one run.
// Measures the compute ceiling (CPU time of each unavoidable step alone), inference on pre-decoded images, decode
// at full and reduced scale (and the embedding similarity reduced decode keeps), and the real backfill (pipelined,
// sequential as the old service ran it, and sequential with only the allocator fixed) as separate processes for
// honest peak-memory figures. Writes JSON, a Markdown table and a PNG chart.
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "facefill/analyzer.h"
#include "facefill/backfill.h"
#include "facefill/corpus.h"
#include "facefill/image.h"
#include "facefill/runtime.h"

namespace {

namespace fs = std::filesystem;
using namespace facefill;
using nlohmann::json;

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

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::vector<fs::path> CorpusFiles(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".jpg") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Runs the facefill CLI as a child; returns its exit code and stdout.
struct ChildRun {
  int exit_code = -1;
  std::string out;
};
ChildRun RunCli(const std::vector<std::string>& args) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    close(pipe_fds[0]);
    std::vector<char*> argv;
    std::string cli = FACEFILL_CLI;
    argv.push_back(cli.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(cli.c_str(), argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  ChildRun run;
  char buffer[4096];
  ssize_t n;
  while ((n = read(pipe_fds[0], buffer, sizeof buffer)) > 0) run.out.append(buffer, static_cast<size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::vector<std::string> ModelArgs(const Flags& f) {
  std::vector<std::string> a;
  if (!f.models_dir.empty()) a.insert(a.end(), {"--models", f.models_dir});
  if (!f.detector.empty()) a.insert(a.end(), {"--detector", f.detector});
  if (!f.recognizer.empty()) a.insert(a.end(), {"--recognizer", f.recognizer});
  return a;
}

// A fresh, empty catalog for one run: a SQLite file under `work`, or (postgres_admin set) a new database on that
// PostgreSQL server. `drop` removes it afterwards.
struct FreshDb {
  std::string url;
  std::function<void()> drop;
};
FreshDb FreshCatalog(const fs::path& work, const std::string& label, const std::string& postgres_admin) {
  if (postgres_admin.empty()) {
    const fs::path db = work / (label + ".db");
    auto remove = [db] {
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db.string() + suffix);
    };
    remove();
    return {"sqlite:" + db.string(), remove};
  }
  const std::string name = "bench_" + label;
  auto exec = [postgres_admin](const std::string& sql) {
    pqxx::connection conn(postgres_admin);
    pqxx::nontransaction txn(conn);
    txn.exec(sql);
  };
  exec("DROP DATABASE IF EXISTS " + name);
  exec("CREATE DATABASE " + name);
  return {postgres_admin.substr(0, postgres_admin.rfind('/') + 1) + name,
          [exec, name] { exec("DROP DATABASE IF EXISTS " + name); }};
}

// One backfill of the whole corpus into a fresh catalog, in its own process.
json BackfillRun(const Flags& f, const fs::path& work, const std::string& label, std::vector<std::string> extra,
                 const std::string& postgres_admin = "") {
  FreshDb db = FreshCatalog(work, label, postgres_admin);
  std::vector<std::string> scan_args = {"scan", "--db", db.url, f.corpus};
  if (!postgres_admin.empty()) scan_args.push_back("--standalone");  // a database of facefill's own
  auto scan = RunCli(scan_args);
  if (scan.exit_code != 0) return {{"error", "scan failed"}};
  std::vector<std::string> args = {"backfill", "--db", db.url, "--json", "-q"};
  auto models = ModelArgs(f);
  args.insert(args.end(), models.begin(), models.end());
  args.insert(args.end(), extra.begin(), extra.end());
  auto run = RunCli(args);
  db.drop();
  if (run.exit_code != 0) return {{"error", "backfill exited " + std::to_string(run.exit_code)}};
  json report = json::parse(run.out);  // includes the child's own peak_rss_mb (VmHWM)
  std::cerr << fmt::format("  {}: {:.2f} images/s, {:.1f} faces/s, peak {:.0f} MB\n", label,
                           report["images_per_second"].get<double>(), report["faces_per_second"].get<double>(),
                           report["peak_rss_mb"].get<double>());
  return report;
}

// Median figures over repetitions of one backfill mode.
json RepeatedBackfill(const Flags& f, const fs::path& work, const std::string& label,
                      const std::vector<std::string>& extra) {
  std::vector<double> ips, fps, rss;
  json runs = json::array();
  for (int r = 0; r < f.repetitions; ++r) {
    json run = BackfillRun(f, work, label, extra);
    if (run.contains("error")) return run;
    ips.push_back(run["images_per_second"]);
    fps.push_back(run["faces_per_second"]);
    rss.push_back(run["peak_rss_mb"]);
    runs.push_back(run);
  }
  return {{"images_per_second", Median(ips)},
          {"faces_per_second", Median(fps)},
          {"peak_rss_mb", Median(rss)},
          {"runs", runs},
          {"args", extra}};
}

struct Sample {
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<std::string> names;
};

Sample LoadSample(const std::vector<fs::path>& files, int n) {
  Sample s;
  for (int i = 0; i < n && i < static_cast<int>(files.size()); ++i) {
    std::vector<uint8_t> b;
    if (ReadFileBytes(files[i], int64_t{1} << 30, &b).ok()) {
      s.bytes.push_back(std::move(b));
      s.names.push_back(files[i].string());
    }
  }
  return s;
}

// Mean CPU milliseconds per image of decoding the sample with `options`.
double DecodeMs(const Sample& s, const DecodeOptions& options) {
  double cpu = 0;
  for (size_t i = 0; i < s.bytes.size(); ++i) {
    double t0 = ThreadCpuSeconds();
    auto d = DecodeImage(s.bytes[i], s.names[i], options);
    cpu += ThreadCpuSeconds() - t0;
  }
  return 1000 * cpu / std::max<size_t>(1, s.bytes.size());
}

// The compute ceiling: each unavoidable step alone on one thread, at the pipeline's settings.
json Ceiling(FaceAnalyzer& analyzer, const Sample& s, const DecodeOptions& decode, std::vector<cv::Mat>* decoded) {
  double decode_cpu = 0, detect_cpu = 0, align_cpu = 0, embed_cpu = 0;
  int64_t faces = 0;
  FlushDenormalsOnThisThread();
  for (size_t i = 0; i < s.bytes.size(); ++i) {
    double t0 = ThreadCpuSeconds();
    auto image = DecodeImage(s.bytes[i], s.names[i], decode);
    double t1 = ThreadCpuSeconds();
    decode_cpu += t1 - t0;
    if (!image.ok()) continue;
    auto dets = analyzer.Detect(image->bgr);
    double t2 = ThreadCpuSeconds();
    detect_cpu += t2 - t1;
    std::vector<cv::Mat> crops;
    for (const auto& d : *dets) {
      if (d.score >= 0.5f) crops.push_back(analyzer.Align(image->bgr, d.landmarks));
    }
    double t3 = ThreadCpuSeconds();
    align_cpu += t3 - t2;
    if (!crops.empty()) (void)analyzer.Embed(crops);
    embed_cpu += ThreadCpuSeconds() - t3;
    faces += static_cast<int64_t>(crops.size());
    decoded->push_back(image->bgr.clone());  // kept for inference-only; the timed buffer is freed and reused
  }
  const double n = static_cast<double>(std::max<size_t>(1, s.bytes.size()));
  const double total_ms = 1000 * (decode_cpu + detect_cpu + align_cpu + embed_cpu) / n;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  return {{"decode_ms", 1000 * decode_cpu / n},
          {"detect_ms", 1000 * detect_cpu / n},
          {"align_ms", 1000 * align_cpu / n},
          {"embed_ms", 1000 * embed_cpu / n},
          {"faces_per_image", faces / n},
          {"cpu_ms_per_image", total_ms},
          {"cores", cores},
          {"images_per_second", cores * 1000.0 / total_ms}};
}

// Detection + alignment + embedding on pre-decoded images, one analyzer clone per core.
json InferenceOnly(FaceAnalyzer& analyzer, const std::vector<cv::Mat>& images) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const size_t total = std::max<size_t>(images.size() * 2, 40);
  std::atomic<size_t> next{0};
  std::atomic<int64_t> faces{0};
  double start = WallSeconds();
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < cores; ++t) {
    threads.emplace_back([&, local = std::shared_ptr<FaceAnalyzer>(analyzer.Clone())] {
      FlushDenormalsOnThisThread();
      for (size_t i = next++; i < total; i = next++) {
        auto result = local->Analyze(images[i % images.size()]);
        if (result.ok()) faces += static_cast<int64_t>(result->size());
      }
    });
  }
  for (auto& t : threads) t.join();
  const double wall = WallSeconds() - start;
  return {{"images_per_second", total / wall}, {"faces_per_second", faces / wall}, {"threads", cores}};
}

std::vector<fs::path> PhotosUnder(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Embedding similarity that a reduced decode keeps against full decode, face by face (faces matched by IoU).
json ReducedDecodeSimilarity(FaceAnalyzer& analyzer, const std::vector<fs::path>& files, const DecodeOptions& reduced) {
  std::vector<double> cosines;
  int images = 0;
  for (const auto& file : files) {
    DecodeOptions full;
    auto a = DecodeImageFile(file, full);
    auto b = DecodeImageFile(file, reduced);
    if (!a.ok() || !b.ok() || a->format != ImageFormat::kJpeg || b->scale == 1.0) continue;
    auto fa = analyzer.Analyze(a->bgr), fb = analyzer.Analyze(b->bgr);
    if (!fa.ok() || !fb.ok()) continue;
    ++images;
    for (const auto& x : *fa) {
      if (x.detection.score < 0.5f) continue;
      const auto& bx = x.detection.box;
      float best_iou = 0;
      const AnalyzedFace* best = nullptr;
      for (const auto& y : *fb) {
        const float k = static_cast<float>(1 / b->scale);
        BoxF scaled{y.detection.box.x1 * k, y.detection.box.y1 * k, y.detection.box.x2 * k, y.detection.box.y2 * k};
        float iou = BoxIou(bx, scaled);
        if (iou > best_iou) best_iou = iou, best = &y;
      }
      if (best != nullptr && best_iou > 0.5f) cosines.push_back(CosineSimilarity(x.embedding, best->embedding));
    }
  }
  if (cosines.empty()) return {{"faces", 0}};
  return {{"images", images},
          {"faces", cosines.size()},
          {"median_cosine", Median(cosines)},
          {"min_cosine", *std::min_element(cosines.begin(), cosines.end())},
          {"mean_cosine", std::accumulate(cosines.begin(), cosines.end(), 0.0) / cosines.size()}};
}

// A bar chart (images/s) of the modes and of the batch-size / worker sweep.
void DrawChart(const std::vector<std::pair<std::string, double>>& bars, const std::string& title,
               const fs::path& file) {
  const int width = 1000, bar_h = 36, top = 70, left = 330;
  const int height = top + static_cast<int>(bars.size()) * (bar_h + 14) + 40;
  cv::Mat img(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  cv::putText(img, title, cv::Point(20, 40), cv::FONT_HERSHEY_SIMPLEX, 0.8, cv::Scalar(0, 0, 0), 2, cv::LINE_AA);
  double max_value = 1e-9;
  for (const auto& b : bars) max_value = std::max(max_value, b.second);
  for (size_t i = 0; i < bars.size(); ++i) {
    const int y = top + static_cast<int>(i) * (bar_h + 14);
    const int w = static_cast<int>((width - left - 140) * bars[i].second / max_value);
    cv::putText(img, bars[i].first, cv::Point(20, y + 25), cv::FONT_HERSHEY_SIMPLEX, 0.55, cv::Scalar(30, 30, 30), 1,
                cv::LINE_AA);
    cv::rectangle(img, cv::Rect(left, y, std::max(w, 1), bar_h), cv::Scalar(180, 120, 40), cv::FILLED);
    cv::putText(img, fmt::format("{:.1f} img/s", bars[i].second), cv::Point(left + w + 8, y + 25),
                cv::FONT_HERSHEY_SIMPLEX, 0.55, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  cv::imwrite(file.string(), img);
}

// The pipelined backfill on SQLite (local vectors) and on PostgreSQL + pgvector, runs interleaved so both see the
// same machine noise; medians and their ratio.
json CompareBackends(const Flags& f, const fs::path& work) {
  std::vector<double> sqlite, postgres;
  for (int r = 0; r < f.repetitions; ++r) {
    json a = BackfillRun(f, work, "backend_sqlite", {});
    json b = BackfillRun(f, work, "backend_postgres", {}, f.postgres);
    if (a.contains("error") || b.contains("error")) return {{"error", a.value("error", b.value("error", ""))}};
    sqlite.push_back(a["images_per_second"]);
    postgres.push_back(b["images_per_second"]);
  }
  return {{"sqlite_images_per_second", Median(sqlite)},
          {"postgres_pgvector_images_per_second", Median(postgres)},
          {"postgres_vs_sqlite", Median(postgres) / std::max(Median(sqlite), 1e-9)},
          {"sqlite_runs", sqlite},
          {"postgres_runs", postgres}};
}

std::string BackendsMarkdown(const json& b) {
  if (b.contains("error")) return "\nBackend comparison failed: " + b["error"].get<std::string>() + "\n";
  return fmt::format(
      "\n| backend (pipelined) | images/s |\n|---|---|\n| SQLite, local vectors | {:.2f} |\n"
      "| PostgreSQL + pgvector | {:.2f} |\n\nPostgreSQL / SQLite: {:.3f}\n",
      b["sqlite_images_per_second"].get<double>(), b["postgres_pgvector_images_per_second"].get<double>(),
      b["postgres_vs_sqlite"].get<double>());
}

int Run(Flags& f) {
  const fs::path out = f.out;
  fs::create_directories(out);
  if (f.shared.empty() && fs::exists(fs::path(FACEFILL_SOURCE_DIR).parent_path() / "shared/images")) {
    f.shared = (fs::path(FACEFILL_SOURCE_DIR).parent_path() / "shared/images").string();
  }
  if (f.generate > 0) {
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
  }
  if (f.corpus.empty()) return std::cerr << "give --corpus DIR or --generate N\n", 2;
  const auto files = CorpusFiles(f.corpus);
  if (files.empty()) return std::cerr << f.corpus << ": no .jpg files\n", 2;

  auto pack = LocateModelPack({f.models_dir, f.detector, f.recognizer});
  if (!pack.ok()) return std::cerr << pack.status().ToString() << "\n", 2;
  auto analyzer = FaceAnalyzer::Open(*pack);
  if (!analyzer.ok()) return std::cerr << analyzer.status().ToString() << "\n", 2;
  json result = {{"date", fmt::format("{:%Y-%m-%d}", fmt::localtime(std::time(nullptr)))},
                 {"corpus", f.corpus},
                 {"images", files.size()},
                 {"models", pack->id},
                 {"cores", std::thread::hardware_concurrency()},
                 {"repetitions", f.repetitions}};
  std::cerr << "facefill-bench: " << files.size() << " images, models " << pack->id << "\n";
  const fs::path work = out / "work";
  fs::create_directories(work);
  if (!f.postgres.empty()) {
    result["backends"] = CompareBackends(f, work);
    std::cerr << "  backends: " << result["backends"].dump() << "\n";
  }
  if (f.backends_only) {
    fs::remove_all(work);
    std::ofstream(out / "bench.json") << result.dump(2) << "\n";
    const std::string md = BackendsMarkdown(result["backends"]);
    std::ofstream(out / "bench.md") << md;
    std::cout << md;
    return result["backends"].contains("error") ? 1 : 0;
  }

  // Decode alone, first with glibc's default allocator (fresh mappings), then tuned (reused buffers).
  const Sample sample = LoadSample(files, f.sample);
  DecodeOptions full, half, quarter, pipeline_decode = BackfillOptions().decode;
  half.reduce = 2;
  quarter.reduce = 4;
  json decode = {{"full_fresh_ms", DecodeMs(sample, full)}, {"half_fresh_ms", DecodeMs(sample, half)}};
  TuneAllocatorForLargeBuffers();
  (void)DecodeMs(sample, full);  // warm the reused heap
  decode["full_reused_ms"] = DecodeMs(sample, full);
  decode["half_reused_ms"] = DecodeMs(sample, half);
  decode["quarter_reused_ms"] = DecodeMs(sample, quarter);
  result["decode"] = decode;
  std::cerr << "  decode: " << decode.dump() << "\n";

  std::vector<cv::Mat> decoded;
  result["ceiling"] = Ceiling(**analyzer, sample, pipeline_decode, &decoded);
  std::cerr << "  ceiling: " << result["ceiling"].dump() << "\n";
  result["inference_only"] = InferenceOnly(**analyzer, decoded);
  std::cerr << "  inference only: " << result["inference_only"].dump() << "\n";
  decoded.clear();
  // What reduced decode costs in accuracy: the pipeline's own policy on this corpus, and a forced 1/2 decode on
  // the (mostly small) shared photos, where it is not used by default.
  std::vector<fs::path> sample_files(files.begin(), files.begin() + std::min<size_t>(files.size(), f.sample));
  result["pipeline_decode_similarity"] = ReducedDecodeSimilarity(**analyzer, sample_files, pipeline_decode);
  std::cerr << "  pipeline decode similarity: " << result["pipeline_decode_similarity"].dump() << "\n";
  if (!f.shared.empty()) {
    result["half_decode_similarity_shared"] = ReducedDecodeSimilarity(**analyzer, PhotosUnder(f.shared), half);
    std::cerr << "  1/2 decode similarity (shared photos): " << result["half_decode_similarity_shared"].dump() << "\n";
  }

  result["pipelined"] = RepeatedBackfill(f, work, "pipelined", {});
  result["sequential"] = RepeatedBackfill(f, work, "sequential", {"--sequential", "--decode-scale", "1"});
  result["sequential_allocator_fixed"] = RepeatedBackfill(
      f, work, "sequential_allocator_fixed", {"--sequential", "--decode-scale", "1", "--malloc-tuning", "on"});
  json sweep = json::array();
  if (f.sweep) {
    for (int workers : {1, 2}) {
      for (int batch : {1, 16}) {
        json run = BackfillRun(f, work, fmt::format("workers{}_batch{}", workers, batch),
                               {"--workers", std::to_string(workers), "--batch-size", std::to_string(batch)});
        sweep.push_back({{"workers", workers}, {"batch_size", batch}, {"run", run}});
      }
    }
  }
  result["sweep"] = sweep;
  fs::remove_all(work);

  auto ips = [&](const char* key) { return result[key].value("images_per_second", 0.0); };
  const double pipelined = ips("pipelined");
  result["ratios"] = {
      {"pipelined_vs_sequential", pipelined / std::max(ips("sequential"), 1e-9)},
      {"pipelined_vs_sequential_allocator_fixed", pipelined / std::max(ips("sequential_allocator_fixed"), 1e-9)},
      {"pipelined_vs_ceiling", pipelined / std::max(result["ceiling"]["images_per_second"].get<double>(), 1e-9)},
      {"pipelined_vs_inference_only",
       pipelined / std::max(result["inference_only"]["images_per_second"].get<double>(), 1e-9)}};
  // Share of wall time spent writing (catalog + vectors), from the pipelined runs.
  if (result["pipelined"].contains("runs")) {
    std::vector<double> write_share;
    for (const auto& run : result["pipelined"]["runs"]) {
      for (const auto& stage : run["stages"]) {
        if (stage["stage"] == "write") write_share.push_back(stage["utilisation"].get<double>());
      }
    }
    result["ratios"]["write_share_of_wall"] = Median(write_share);
  }

  std::ofstream(out / "bench.json") << result.dump(2) << "\n";
  const auto& c = result["ceiling"];
  std::string md = fmt::format(
      "# facefill benchmark ({}, {} images from {}, models {}, {} cores, medians of {})\n\n"
      "| mode | images/s | faces/s | peak RSS MB |\n|---|---|---|---|\n",
      result["date"].get<std::string>(), files.size(), f.corpus, pack->id, result["cores"].get<unsigned>(),
      f.repetitions);
  for (const char* key : {"sequential", "sequential_allocator_fixed", "pipelined"}) {
    md += fmt::format("| {} | {:.2f} | {:.1f} | {:.0f} |\n", key, ips(key), result[key].value("faces_per_second", 0.0),
                      result[key].value("peak_rss_mb", 0.0));
  }
  md += fmt::format("| inference only (pre-decoded) | {:.2f} | {:.1f} | |\n",
                    result["inference_only"]["images_per_second"].get<double>(),
                    result["inference_only"]["faces_per_second"].get<double>());
  md += fmt::format("| compute ceiling | {:.2f} | | |\n\n", c["images_per_second"].get<double>());
  md += fmt::format(
      "Ceiling, CPU ms per image on one thread: decode {:.1f} + detect {:.1f} + align {:.2f} + embed {:.1f} "
      "({:.2f} faces) = {:.1f} ms.\n\n",
      c["decode_ms"].get<double>(), c["detect_ms"].get<double>(), c["align_ms"].get<double>(),
      c["embed_ms"].get<double>(), c["faces_per_image"].get<double>(), c["cpu_ms_per_image"].get<double>());
  md += fmt::format(
      "Decode alone, ms per image: full into a fresh buffer {:.1f}, 1/2 fresh {:.1f}; full reused {:.1f}, "
      "1/2 reused {:.1f}, 1/4 reused {:.1f}.\n\n",
      decode["full_fresh_ms"].get<double>(), decode["half_fresh_ms"].get<double>(),
      decode["full_reused_ms"].get<double>(), decode["half_reused_ms"].get<double>(),
      decode["quarter_reused_ms"].get<double>());
  const auto& r = result["ratios"];
  md += fmt::format(
      "Ratios: pipelined / sequential {:.2f}x; pipelined / sequential with the allocator fixed {:.2f}x; pipelined / "
      "ceiling {:.2f}; pipelined / inference-only {:.2f}; catalog + vector writes {:.1f}% of wall time.\n",
      r["pipelined_vs_sequential"].get<double>(), r["pipelined_vs_sequential_allocator_fixed"].get<double>(),
      r["pipelined_vs_ceiling"].get<double>(), r["pipelined_vs_inference_only"].get<double>(),
      100 * r.value("write_share_of_wall", 0.0));
  for (const auto& [key, what] :
       {std::pair<std::string, std::string>{"pipeline_decode_similarity", "The pipeline's decode policy (auto scale)"},
        {"half_decode_similarity_shared", "Forced 1/2-scale decode on the shared photos"}}) {
    if (!result.contains(key) || result[key]["faces"].get<size_t>() == 0) continue;
    const auto& s = result[key];
    md += fmt::format("\n{} against full decode, {} images, {} faces: embedding cosine median {:.4f}, min {:.4f}.\n",
                      what, s["images"].get<int>(), s["faces"].get<size_t>(), s["median_cosine"].get<double>(),
                      s["min_cosine"].get<double>());
  }
  if (!sweep.empty()) {
    md += "\n| workers | batch size | images/s | faces/s |\n|---|---|---|---|\n";
    for (const auto& s : sweep) {
      md += fmt::format("| {} | {} | {:.2f} | {:.1f} |\n", s["workers"].get<int>(), s["batch_size"].get<int>(),
                        s["run"].value("images_per_second", 0.0), s["run"].value("faces_per_second", 0.0));
    }
  }
  if (result.contains("backends")) md += BackendsMarkdown(result["backends"]);
  std::ofstream(out / "bench.md") << md;
  std::cout << md;

  std::vector<std::pair<std::string, double>> bars = {
      {"sequential (old loop)", ips("sequential")},
      {"sequential, allocator fixed", ips("sequential_allocator_fixed")},
      {"pipelined backfill", pipelined},
      {"inference only", result["inference_only"]["images_per_second"].get<double>()},
      {"compute ceiling", c["images_per_second"].get<double>()}};
  for (const auto& s : sweep) {
    bars.push_back({fmt::format("pipelined w{} b{}", s["workers"].get<int>(), s["batch_size"].get<int>()),
                    s["run"].value("images_per_second", 0.0)});
  }
  DrawChart(bars, fmt::format("facefill, {} images ({}), {}", files.size(), f.profile, pack->id), out / "bench.png");
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
  app.add_flag("!--no-sweep", f.sweep, "Skip the workers x batch-size sweep");
  app.add_option("--postgres", f.postgres,
                 "Admin URL of a PostgreSQL server (with pgvector): also compare the PostgreSQL + pgvector backend");
  app.add_flag("--backends-only", f.backends_only, "Only the SQLite vs PostgreSQL comparison (needs --postgres)");
  CLI11_PARSE(app, argc, argv);
  return Run(f);
}
