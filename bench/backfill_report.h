// facefill-bench's reporting: the measured results as bench.json, the Markdown table and the PNG bar chart.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "backfill_measure.h"

namespace facefill::bench {

// Ratios between the measured rates (derived, never measured).
struct Ratios {
  double pipelined_vs_sequential = 0;
  double pipelined_vs_sequential_allocator_fixed = 0;
  double pipelined_vs_ceiling = 0;
  double pipelined_vs_inference_only = 0;
  std::optional<double> write_share_of_wall;  // median over the pipelined runs; unset when they failed
};
Ratios ComputeRatios(const BenchResults& results);

// bench.json: everything measured, the child processes' own reports included.
nlohmann::json ToJson(const BenchResults& results);
// bench.md: the tables and sentences a reader compares.
std::string Markdown(const BenchResults& results);
// Only the backend comparison's table (--backends-only).
std::string BackendsMarkdown(const BackendComparison& backends);
// bench.png: images/s of each mode and sweep point as bars.
void DrawChart(const BenchResults& results, const std::filesystem::path& file);

}  // namespace facefill::bench
