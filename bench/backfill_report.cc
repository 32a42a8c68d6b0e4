// facefill-bench's reporting: JSON, Markdown and a bar chart from the measured results, nothing measured here.
#include "backfill_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <utility>
#include <vector>

namespace facefill::bench {
namespace {

using nlohmann::json;

json RunJson(const BackfillRun& run) {
  if (!run.error.empty()) return {{"error", run.error}};
  return json::parse(run.report_json);
}

json RepeatedJson(const RepeatedBackfill& r) {
  if (!r.error.empty()) return {{"error", r.error}};
  json runs = json::array();
  for (const auto& run : r.runs) runs.push_back(RunJson(run));
  return {{"images_per_second", r.images_per_second},
          {"faces_per_second", r.faces_per_second},
          {"peak_rss_mb", r.peak_rss_mb},
          {"runs", runs},
          {"args", r.args}};
}

json SimilarityJson(const DecodeSimilarity& s) {
  if (s.faces == 0) return {{"faces", 0}};
  return {{"images", s.images},
          {"faces", s.faces},
          {"median_cosine", s.median_cosine},
          {"min_cosine", s.min_cosine},
          {"mean_cosine", s.mean_cosine}};
}

// Busy milliseconds per image of each stage in the pipelined runs (wall time inside the stage summed over its
// threads, divided by the images processed), the median over the runs.
struct StageMs {
  double decode = 0, detect = 0, align = 0, embed = 0;
};
StageMs PipelinedStageMs(const RepeatedBackfill& r) {
  std::map<std::string, std::vector<double>> per_stage;
  for (const auto& run : r.runs) {
    if (!run.error.empty() || run.report_json.empty()) continue;
    const json report = json::parse(run.report_json);
    const double images = std::max(1.0, report.value("processed", 0.0));
    for (const auto& stage : report.value("stages", json::array())) {
      per_stage[stage["stage"].get<std::string>()].push_back(1000 * stage["busy_seconds"].get<double>() / images);
    }
  }
  return {Median(per_stage["decode"]), Median(per_stage["detect"]), Median(per_stage["align"]),
          Median(per_stage["embed"])};
}

json BackendsJson(const BackendComparison& b) {
  if (!b.error.empty()) return {{"error", b.error}};
  return {{"sqlite_images_per_second", b.sqlite_images_per_second},
          {"postgres_pgvector_images_per_second", b.postgres_images_per_second},
          {"postgres_vs_sqlite", b.postgres_vs_sqlite},
          {"sqlite_runs", b.sqlite_runs},
          {"postgres_runs", b.postgres_runs}};
}

}  // namespace

Ratios ComputeRatios(const BenchResults& r) {
  const double pipelined = r.pipelined.images_per_second;
  Ratios ratios;
  ratios.pipelined_vs_sequential = pipelined / std::max(r.sequential.images_per_second, 1e-9);
  ratios.pipelined_vs_sequential_allocator_fixed =
      pipelined / std::max(r.sequential_allocator_fixed.images_per_second, 1e-9);
  ratios.pipelined_vs_ceiling = pipelined / std::max(r.ceiling.images_per_second, 1e-9);
  ratios.pipelined_vs_inference_only = pipelined / std::max(r.inference_only.images_per_second, 1e-9);
  // Share of wall time spent writing (catalog + vectors), from the pipelined runs.
  if (r.pipelined.error.empty()) {
    std::vector<double> write_share;
    for (const auto& run : r.pipelined.runs) {
      if (run.write_utilisation >= 0) write_share.push_back(run.write_utilisation);
    }
    ratios.write_share_of_wall = Median(write_share);
  }
  return ratios;
}

json ToJson(const BenchResults& r) {
  json result = {{"date", r.date},     {"corpus", r.corpus}, {"images", r.images},
                 {"models", r.models}, {"cores", r.cores},   {"repetitions", r.repetitions}};
  if (r.backends) result["backends"] = BackendsJson(*r.backends);
  if (r.backends_only) return result;
  result["decode"] = {{"full_fresh_ms", r.decode.full_fresh_ms},
                      {"half_fresh_ms", r.decode.half_fresh_ms},
                      {"full_reused_ms", r.decode.full_reused_ms},
                      {"half_reused_ms", r.decode.half_reused_ms},
                      {"quarter_reused_ms", r.decode.quarter_reused_ms}};
  const auto& c = r.ceiling;
  result["ceiling"] = {{"decode_ms", c.decode_ms},
                       {"detect_ms", c.detect_ms},
                       {"align_ms", c.align_ms},
                       {"embed_ms", c.embed_ms},
                       {"faces_per_image", c.faces_per_image},
                       {"cpu_ms_per_image", c.cpu_ms_per_image},
                       {"cores", c.cores},
                       {"images_per_second", c.images_per_second}};
  result["inference_only"] = {{"images_per_second", r.inference_only.images_per_second},
                              {"faces_per_second", r.inference_only.faces_per_second},
                              {"threads", r.inference_only.threads}};
  result["pipeline_decode_similarity"] = SimilarityJson(r.pipeline_decode_similarity);
  result["auto_decode_similarity"] = SimilarityJson(r.auto_decode_similarity);
  result["region_decode_similarity"] = SimilarityJson(r.region_decode_similarity);
  if (r.half_decode_similarity_shared) {
    result["half_decode_similarity_shared"] = SimilarityJson(*r.half_decode_similarity_shared);
  }
  result["pipelined"] = RepeatedJson(r.pipelined);
  result["sequential"] = RepeatedJson(r.sequential);
  result["sequential_allocator_fixed"] = RepeatedJson(r.sequential_allocator_fixed);
  result["pipelined_auto_decode"] = RepeatedJson(r.pipelined_auto_decode);
  result["pipelined_region_decode"] = RepeatedJson(r.pipelined_region_decode);
  const StageMs stages = PipelinedStageMs(r.pipelined);
  result["pipelined_stage_ms_per_image"] = {
      {"decode", stages.decode}, {"detect", stages.detect}, {"align", stages.align}, {"embed", stages.embed}};
  json sweep = json::array();
  for (const auto& s : r.sweep) {
    sweep.push_back(
        {{"inference_threads", s.inference_threads}, {"faces_per_call", s.faces_per_call}, {"run", RunJson(s.run)}});
  }
  result["sweep"] = sweep;
  const Ratios ratios = ComputeRatios(r);
  result["ratios"] = {{"pipelined_vs_sequential", ratios.pipelined_vs_sequential},
                      {"pipelined_vs_sequential_allocator_fixed", ratios.pipelined_vs_sequential_allocator_fixed},
                      {"pipelined_vs_ceiling", ratios.pipelined_vs_ceiling},
                      {"pipelined_vs_inference_only", ratios.pipelined_vs_inference_only}};
  if (ratios.write_share_of_wall) result["ratios"]["write_share_of_wall"] = *ratios.write_share_of_wall;
  return result;
}

std::string BackendsMarkdown(const BackendComparison& b) {
  if (!b.error.empty()) return "\nBackend comparison failed: " + b.error + "\n";
  return fmt::format(
      "\n| backend (pipelined) | images/s |\n|---|---|\n| SQLite, local vectors | {:.2f} |\n"
      "| PostgreSQL + pgvector | {:.2f} |\n\nPostgreSQL / SQLite: {:.3f}\n",
      b.sqlite_images_per_second, b.postgres_images_per_second, b.postgres_vs_sqlite);
}

std::string Markdown(const BenchResults& r) {
  std::string md = fmt::format(
      "# facefill benchmark ({}, {} images from {}, models {}, {} cores, medians of {})\n\n"
      "| mode | images/s | faces/s | peak RSS MB |\n|---|---|---|---|\n",
      r.date, r.images, r.corpus, r.models, r.cores, r.repetitions);
  for (const auto& [key, mode] : {std::pair<const char*, const RepeatedBackfill*>{"sequential", &r.sequential},
                                  {"sequential_allocator_fixed", &r.sequential_allocator_fixed},
                                  {"pipelined", &r.pipelined},
                                  {"pipelined --decode-scale 0", &r.pipelined_auto_decode},
                                  {"pipelined --region-decode", &r.pipelined_region_decode}}) {
    md += fmt::format("| {} | {:.2f} | {:.1f} | {:.0f} |\n", key, mode->images_per_second, mode->faces_per_second,
                      mode->peak_rss_mb);
  }
  md += fmt::format("| inference only (pre-decoded) | {:.2f} | {:.1f} | |\n", r.inference_only.images_per_second,
                    r.inference_only.faces_per_second);
  const auto& c = r.ceiling;
  md += fmt::format("| compute ceiling | {:.2f} | | |\n\n", c.images_per_second);
  md += fmt::format(
      "Ceiling, CPU ms per image on one thread: decode {:.1f} + detect {:.1f} + align {:.2f} + embed {:.1f} "
      "({:.2f} faces) = {:.1f} ms.\n\n",
      c.decode_ms, c.detect_ms, c.align_ms, c.embed_ms, c.faces_per_image, c.cpu_ms_per_image);
  const auto& d = r.decode;
  md += fmt::format(
      "Decode alone, ms per image: full into a fresh buffer {:.1f}, 1/2 fresh {:.1f}; full reused {:.1f}, "
      "1/2 reused {:.1f}, 1/4 reused {:.1f}.\n\n",
      d.full_fresh_ms, d.half_fresh_ms, d.full_reused_ms, d.half_reused_ms, d.quarter_reused_ms);
  const Ratios ratios = ComputeRatios(r);
  md += fmt::format(
      "| pipelined ({:.2f} images/s) against | images/s | ratio |\n|---|---|---|\n"
      "| the old sequential loop | {:.2f} | {:.2f}x |\n"
      "| the sequential loop with the allocator fixed | {:.2f} | {:.2f}x |\n"
      "| the ceiling estimate | {:.2f} | {:.2f} |\n\n",
      r.pipelined.images_per_second, r.sequential.images_per_second, ratios.pipelined_vs_sequential,
      r.sequential_allocator_fixed.images_per_second, ratios.pipelined_vs_sequential_allocator_fixed,
      c.images_per_second, ratios.pipelined_vs_ceiling);
  const StageMs stages = PipelinedStageMs(r.pipelined);
  md += fmt::format(
      "| ms per image | decode | detect | align | embed |\n|---|---|---|---|---|\n"
      "| CPU, each step alone on one thread (the ceiling's) | {:.1f} | {:.1f} | {:.2f} | {:.1f} |\n"
      "| busy in the pipelined run (summed over threads) | {:.1f} | {:.1f} | {:.2f} | {:.1f} |\n\n",
      c.decode_ms, c.detect_ms, c.align_ms, c.embed_ms, stages.decode, stages.detect, stages.align, stages.embed);
  md += fmt::format("Pipelined / inference-only {:.2f}; catalog + vector writes {:.1f}% of wall time.\n",
                    ratios.pipelined_vs_inference_only, 100 * ratios.write_share_of_wall.value_or(0.0));
  for (const auto& [similarity, what] :
       {std::pair<const DecodeSimilarity*, const char*>{&r.pipeline_decode_similarity,
                                                        "The pipeline's decode policy (default settings)"},
        {&r.auto_decode_similarity, "Auto decode scale (--decode-scale 0)"},
        {&r.region_decode_similarity, "Region decode (--region-decode)"},
        {r.half_decode_similarity_shared ? &*r.half_decode_similarity_shared : nullptr,
         "Forced 1/2-scale decode on the shared photos"}}) {
    if (similarity == nullptr || similarity->faces == 0) continue;
    md += fmt::format("\n{} against full decode, {} images, {} faces: embedding cosine median {:.4f}, min {:.4f}.\n",
                      what, similarity->images, similarity->faces, similarity->median_cosine, similarity->min_cosine);
  }
  if (!r.sweep.empty()) {
    md += "\n| inference threads | faces per call | images/s | faces/s |\n|---|---|---|---|\n";
    for (const auto& s : r.sweep) {
      md += fmt::format("| {} | {} | {:.2f} | {:.1f} |\n", s.inference_threads, s.faces_per_call,
                        s.run.images_per_second, s.run.faces_per_second);
    }
  }
  if (r.backends) md += BackendsMarkdown(*r.backends);
  return md;
}

void DrawChart(const BenchResults& r, const std::filesystem::path& file) {
  std::vector<std::pair<std::string, double>> bars = {
      {"sequential (old loop)", r.sequential.images_per_second},
      {"sequential, allocator fixed", r.sequential_allocator_fixed.images_per_second},
      {"pipelined backfill", r.pipelined.images_per_second},
      {"pipelined, --decode-scale 0", r.pipelined_auto_decode.images_per_second},
      {"pipelined, --region-decode", r.pipelined_region_decode.images_per_second},
      {"inference only", r.inference_only.images_per_second},
      {"compute ceiling", r.ceiling.images_per_second}};
  for (const auto& s : r.sweep) {
    bars.push_back({fmt::format("pipelined t{} f{}", s.inference_threads, s.faces_per_call), s.run.images_per_second});
  }
  const std::string title = fmt::format("facefill, {} images ({}), {}", r.images, r.profile, r.models);
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

}  // namespace facefill::bench
