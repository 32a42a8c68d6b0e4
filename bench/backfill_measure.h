// facefill-bench's measurements: each returns a plain results struct; printing them is backfill_report's job.
#pragma once

#include <cstdint>
#include <filesystem>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "facefill/analyzer.h"
#include "facefill/image.h"

namespace facefill::bench {

// Where and how the real backfills run: the CLI's model flags and the corpus they scan.
struct BackfillSetup {
  std::string corpus;
  std::filesystem::path work;           // fresh catalogs are made here
  std::vector<std::string> model_args;  // --models / --detector / --recognizer for the CLI
  std::string postgres_admin;           // set: the catalog is a fresh PostgreSQL database on this server
};

// One backfill of the whole corpus into a fresh catalog, in its own process.
struct BackfillRun {
  std::string error;  // empty when the run succeeded
  double images_per_second = 0;
  double faces_per_second = 0;
  double peak_rss_mb = 0;         // the child's own peak resident memory (VmHWM)
  double write_utilisation = -1;  // the write stage's share of wall time; -1 when the report has none
  std::string report_json;        // the child's whole --json report
};

// Median figures over repetitions of one backfill mode.
struct RepeatedBackfill {
  std::string error;  // the first failed run's error; then nothing else is set
  double images_per_second = 0;
  double faces_per_second = 0;
  double peak_rss_mb = 0;
  std::vector<BackfillRun> runs;
  std::vector<std::string> args;  // the backfill flags of this mode
};

// One point of the inference-threads x faces-per-call sweep.
struct SweepPoint {
  int inference_threads = 0;
  int faces_per_call = 0;
  BackfillRun run;
};

// Decode alone, mean CPU ms per image: into fresh buffers (glibc's default allocator), then reused ones.
struct DecodeTimes {
  double full_fresh_ms = 0, half_fresh_ms = 0;
  double full_reused_ms = 0, half_reused_ms = 0, quarter_reused_ms = 0;
};

// The compute ceiling: each unavoidable step alone on one thread, mean CPU ms per image.
struct Ceiling {
  double decode_ms = 0, detect_ms = 0, align_ms = 0, embed_ms = 0;
  double faces_per_image = 0;
  double cpu_ms_per_image = 0;
  unsigned cores = 1;
  double images_per_second = 0;  // cores / cpu time per image
};

// Detection + alignment + embedding on pre-decoded images, one analyzer clone per core.
struct InferenceOnly {
  double images_per_second = 0;
  double faces_per_second = 0;
  unsigned threads = 1;
};

// Embedding similarity a decode policy keeps against full decode, face by face.
struct DecodeSimilarity {
  int images = 0;
  size_t faces = 0;  // 0: nothing compared, the rest unset
  double median_cosine = 0, min_cosine = 0, mean_cosine = 0;
};

// The pipelined backfill on SQLite and on PostgreSQL + pgvector, runs interleaved.
struct BackendComparison {
  std::string error;
  double sqlite_images_per_second = 0;
  double postgres_images_per_second = 0;
  double postgres_vs_sqlite = 0;
  std::vector<double> sqlite_runs, postgres_runs;
};

// Every measurement of one bench run.
struct BenchResults {
  std::string date, corpus, profile, models;
  size_t images = 0;
  unsigned cores = 1;
  int repetitions = 0;
  bool backends_only = false;  // only `backends` was measured
  std::optional<BackendComparison> backends;
  DecodeTimes decode;
  Ceiling ceiling;
  InferenceOnly inference_only;
  DecodeSimilarity pipeline_decode_similarity;
  DecodeSimilarity auto_decode_similarity;    // the same sample with --decode-scale 0 (the earlier default)
  DecodeSimilarity region_decode_similarity;  // the same sample with --region-decode
  std::optional<DecodeSimilarity> half_decode_similarity_shared;
  RepeatedBackfill pipelined, sequential, sequential_allocator_fixed;
  RepeatedBackfill pipelined_auto_decode;    // pipelined with --decode-scale 0 (the earlier default)
  RepeatedBackfill pipelined_region_decode;  // pipelined with --region-decode
  std::vector<SweepPoint> sweep;
};

// Encoded image files held in memory, for the in-process measurements.
struct Sample {
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<std::string> names;
};
Sample LoadSample(const std::vector<std::filesystem::path>& files, int n);

double Median(std::vector<double> values);

BackfillRun RunBackfillProcess(const BackfillSetup& setup, const std::string& label,
                               const std::vector<std::string>& extra_args, bool on_postgres = false);
RepeatedBackfill RepeatBackfill(const BackfillSetup& setup, const std::string& label,
                                const std::vector<std::string>& extra_args, int repetitions);
BackendComparison CompareBackends(const BackfillSetup& setup, int repetitions);
std::vector<SweepPoint> Sweep(const BackfillSetup& setup);

// Mean CPU milliseconds per image of decoding the sample with `options`.
double DecodeMs(const Sample& sample, const DecodeOptions& options);
// Also keeps the sample's decoded images in `decoded`, for MeasureInferenceOnly.
Ceiling MeasureCeiling(FaceAnalyzer& analyzer, const Sample& sample, const DecodeOptions& decode,
                       std::vector<cv::Mat>* decoded);
InferenceOnly MeasureInferenceOnly(FaceAnalyzer& analyzer, const std::vector<cv::Mat>& images);
// The backfill's own steps under `policy` (its decode, detection on those pixels, alignment from them or, with
// region decode, from full-resolution regions) against detect -> align -> embed on a full decode, on every JPEG
// (those `policy` decodes in full check that the backfill's steps give the same embeddings).
DecodeSimilarity PolicyDecodeSimilarity(FaceAnalyzer& analyzer, const std::vector<std::filesystem::path>& files,
                                        const DecodeOptions& policy);

}  // namespace facefill::bench
