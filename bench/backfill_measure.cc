// facefill-bench's measurements: in-process timings of each step, and real backfills as child processes.
#include "backfill_measure.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <pqxx/pqxx>
#include <thread>

#include "child_process.h"
#include "core/process_tuning.h"
#include "facefill/runtime.h"
#include "pipeline/region_align.h"

namespace facefill::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs the facefill CLI as a child; returns its exit code and stdout.
testing::ChildResult RunCli(const std::vector<std::string>& args) {
  return testing::RunCapturingStdout(FACEFILL_CLI, args);
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

}  // namespace

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

BackfillRun RunBackfillProcess(const BackfillSetup& setup, const std::string& label,
                               const std::vector<std::string>& extra_args, bool on_postgres) {
  const std::string postgres_admin = on_postgres ? setup.postgres_admin : "";
  FreshDb db = FreshCatalog(setup.work, label, postgres_admin);
  std::vector<std::string> scan_args = {"scan", "--db", db.url, setup.corpus};
  if (!postgres_admin.empty()) scan_args.push_back("--standalone");  // a database of facefill's own
  BackfillRun result;
  if (RunCli(scan_args).exit_code != 0) {
    result.error = "scan failed";
    return result;
  }
  std::vector<std::string> args = {"backfill", "--db", db.url, "--json", "-q"};
  args.insert(args.end(), setup.model_args.begin(), setup.model_args.end());
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  auto run = RunCli(args);
  db.drop();
  if (run.exit_code != 0) {
    result.error = "backfill exited " + std::to_string(run.exit_code);
    return result;
  }
  const json report = json::parse(run.out);
  result.images_per_second = report["images_per_second"].get<double>();
  result.faces_per_second = report["faces_per_second"].get<double>();
  result.peak_rss_mb = report["peak_rss_mb"].get<double>();
  for (const auto& stage : report.value("stages", json::array())) {
    if (stage["stage"] == "write") result.write_utilisation = stage["utilisation"].get<double>();
  }
  result.report_json = run.out;
  std::cerr << fmt::format("  {}: {:.2f} images/s, {:.1f} faces/s, peak {:.0f} MB\n", label, result.images_per_second,
                           result.faces_per_second, result.peak_rss_mb);
  return result;
}

RepeatedBackfill RepeatBackfill(const BackfillSetup& setup, const std::string& label,
                                const std::vector<std::string>& extra_args, int repetitions) {
  RepeatedBackfill repeated;
  std::vector<double> ips, fps, rss;
  for (int r = 0; r < repetitions; ++r) {
    BackfillRun run = RunBackfillProcess(setup, label, extra_args);
    if (!run.error.empty()) {
      RepeatedBackfill failed;
      failed.error = run.error;
      return failed;
    }
    ips.push_back(run.images_per_second);
    fps.push_back(run.faces_per_second);
    rss.push_back(run.peak_rss_mb);
    repeated.runs.push_back(std::move(run));
  }
  repeated.images_per_second = Median(ips);
  repeated.faces_per_second = Median(fps);
  repeated.peak_rss_mb = Median(rss);
  repeated.args = extra_args;
  return repeated;
}

BackendComparison CompareBackends(const BackfillSetup& setup, int repetitions) {
  BackendComparison comparison;
  for (int r = 0; r < repetitions; ++r) {
    BackfillRun a = RunBackfillProcess(setup, "backend_sqlite", {});
    BackfillRun b = RunBackfillProcess(setup, "backend_postgres", {}, true);
    if (!a.error.empty() || !b.error.empty()) {
      BackendComparison failed;
      failed.error = a.error.empty() ? b.error : a.error;
      return failed;
    }
    comparison.sqlite_runs.push_back(a.images_per_second);
    comparison.postgres_runs.push_back(b.images_per_second);
  }
  comparison.sqlite_images_per_second = Median(comparison.sqlite_runs);
  comparison.postgres_images_per_second = Median(comparison.postgres_runs);
  comparison.postgres_vs_sqlite =
      comparison.postgres_images_per_second / std::max(comparison.sqlite_images_per_second, 1e-9);
  return comparison;
}

std::vector<SweepPoint> Sweep(const BackfillSetup& setup) {
  std::vector<SweepPoint> sweep;
  for (int threads : {1, 2}) {
    for (int faces : {1, 16}) {
      BackfillRun run = RunBackfillProcess(
          setup, fmt::format("threads{}_faces{}", threads, faces),
          {"--inference-threads", std::to_string(threads), "--faces-per-call", std::to_string(faces)});
      sweep.push_back({threads, faces, std::move(run)});
    }
  }
  return sweep;
}

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

double DecodeMs(const Sample& s, const DecodeOptions& options) {
  double cpu = 0;
  for (size_t i = 0; i < s.bytes.size(); ++i) {
    double t0 = ThreadCpuSeconds();
    auto d = DecodeImage(s.bytes[i], s.names[i], options);
    cpu += ThreadCpuSeconds() - t0;
  }
  return 1000 * cpu / std::max<size_t>(1, s.bytes.size());
}

Ceiling MeasureCeiling(FaceAnalyzer& analyzer, const Sample& s, const DecodeOptions& decode,
                       std::vector<cv::Mat>* decoded) {
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
  Ceiling c;
  c.decode_ms = 1000 * decode_cpu / n;
  c.detect_ms = 1000 * detect_cpu / n;
  c.align_ms = 1000 * align_cpu / n;
  c.embed_ms = 1000 * embed_cpu / n;
  c.faces_per_image = faces / n;
  c.cpu_ms_per_image = 1000 * (decode_cpu + detect_cpu + align_cpu + embed_cpu) / n;
  c.cores = std::max(1u, std::thread::hardware_concurrency());
  c.images_per_second = c.cores * 1000.0 / c.cpu_ms_per_image;
  return c;
}

InferenceOnly MeasureInferenceOnly(FaceAnalyzer& analyzer, const std::vector<cv::Mat>& images) {
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
  return {total / wall, faces / wall, cores};
}

DecodeSimilarity PolicyDecodeSimilarity(FaceAnalyzer& analyzer, const std::vector<fs::path>& files,
                                        const DecodeOptions& policy) {
  std::vector<double> cosines;
  int images = 0;
  for (const auto& file : files) {
    std::vector<uint8_t> bytes;
    if (!ReadFileBytes(file, policy.max_file_bytes, &bytes).ok()) continue;
    DecodeOptions full;
    auto a = DecodeImage(bytes, file.string(), full);
    auto b = DecodeImageKeepingBytes(bytes, file.string(), policy);
    // Photos the policy decodes in full count too: they check that the pipeline's steps give Analyze's embeddings.
    if (!a.ok() || !b.ok() || a->format != ImageFormat::kJpeg) continue;
    auto fa = analyzer.Analyze(a->bgr);
    auto detections = analyzer.Detect(b->bgr);
    if (!fa.ok() || !detections.ok()) continue;
    std::vector<FiveLandmarks> landmarks;
    for (const auto& d : *detections) landmarks.push_back(d.landmarks);
    std::vector<cv::Mat> crops;
    if (!pipeline::AlignFaces(analyzer, *b, landmarks, file.string(), &crops).ok()) continue;
    auto embeddings = analyzer.Embed(crops);
    if (!embeddings.ok()) continue;
    ++images;
    const auto k = static_cast<float>(1 / b->scale);
    for (const auto& x : *fa) {
      if (x.detection.score < 0.5f) continue;
      float best_iou = 0;
      size_t best = 0;
      for (size_t i = 0; i < detections->size(); ++i) {
        const BoxF& y = (*detections)[i].box;
        const float iou = BoxIou(x.detection.box, BoxF{y.x1 * k, y.y1 * k, y.x2 * k, y.y2 * k});
        if (iou > best_iou) best_iou = iou, best = i;
      }
      if (best_iou > 0.5f) cosines.push_back(CosineSimilarity(x.embedding, (*embeddings)[best]));
    }
  }
  if (cosines.empty()) return {};
  return {images, cosines.size(), Median(cosines), *std::min_element(cosines.begin(), cosines.end()),
          std::accumulate(cosines.begin(), cosines.end(), 0.0) / cosines.size()};
}

}  // namespace facefill::bench
