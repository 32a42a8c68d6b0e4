// The backfill: every pending asset through decode -> detect -> align -> embed -> write, pipelined and batched
// (or one at a time with --sequential, the old algorithm kept as the baseline).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>

#include "facefill/analyzer.h"
#include "facefill/catalog.h"
#include "facefill/image.h"
#include "facefill/model_guard.h"
#include "facefill/runtime.h"
#include "facefill/vector_store.h"

namespace facefill {

struct BackfillOptions {
  int64_t limit = 0;            // process at most this many pending assets (0: all)
  int64_t offset = 0;           // skip this many pending assets first
  float min_confidence = 0.5f;  // drop faces scoring lower (the service's filter)
  int min_face_size = 20;       // drop faces narrower or shorter than this, in original pixels
  // The words below mean one thing each: a "thread" is a thread of this process (a "worker" is a `facefill worker`
  // process, never a thread); faces, assets and leases are counted per embedder call, per commit and per lease.
  int faces_per_call = 16;  // faces per embedder call, gathered across images (--faces-per-call)
  // Images per detector call, among those already decoded and waiting (none waits to fill a call); more than one
  // image per model call needs a batch-capable detector (`facefill models batchify`), else each runs alone. 1 on the
  // CPU, where batches do not pay; 8 on CUDA unless chosen.
  int images_per_detect_call = 1;
  int decode_threads = 2;         // image decoding threads
  int inference_threads = 0;      // detect/align/embed threads, each with its own model scratch; 0: one per core
  int assets_per_commit = 64;     // assets per catalog transaction (and vector upsert)
  int max_commit_wait_ms = 1000;  // commit a partial batch after this long, so a slow trickle still moves
  bool sequential = false;        // the old algorithm: one image at a time, faces embedded one by one, commit per asset
  bool rescan = false;            // also re-detect assets already scanned; matched faces keep their ids
  bool retry_errors = false;      // also retry assets whose last scan failed
  // Write into a vector store whose vectors another recogniser wrote, or that cannot be checked (the model guard;
  // see model_guard.h). Off: such a store is refused before any image is read.
  bool force_model = false;
  // Files are opened beneath one of these folders, or beneath a root `scan` recorded: symlinks are followed only
  // while they stay inside a root, and a path that leads out (or lies in no root) is refused as
  // permission_denied. With no roots at all, nothing is refused.
  std::vector<std::string> library_roots;
  // Catalogs many processes share (PostgreSQL) hand out pending assets as leases, so any number of backfills and
  // worker processes can run at once without doing an asset twice; not with rescan or offset, which walk the
  // catalog.
  std::string lease_owner;   // who holds the leases; empty: this host, process and a random suffix
  int assets_per_lease = 8;  // assets leased at a time
  // An asset leased but neither committed nor renewed for this long is taken over by another holder. A running
  // backfill renews its leases every lease_seconds / 3 (a heartbeat), so only a dead holder's leases run out.
  int lease_seconds = 30;
  // When nothing is left to lease but other holders still have live leases, wait for them (committed, or expired
  // and then processed here) instead of returning.
  bool wait_for_leases = false;
  // Images are decoded at full resolution: any other detector input moves the landmarks, and with them the
  // embeddings (a 1/2-scale decode of 12 MP photos: median cosine 0.984, minimum 0.87-0.93 against full decode).
  // decode.reduce = 0 (--decode-scale 0) trades that for less decode work: large JPEGs at the largest DCT scale that
  // keeps the shorter side >= 1000 px. With decode.region_decode (--region-decode, which implies --decode-scale 0),
  // detection runs on the reduced decode the detector needs (longer side >= 640 px) and each face is aligned from
  // its region decoded again at full resolution.
  DecodeOptions decode;

  Status Validate() const;
};

// Settings the user chose (on the command line): a plan for the device keeps them.
struct ChosenSettings {
  bool inference_threads = false;
  bool decode_threads = false;
  bool images_per_detect_call = false;
};

// The thread and call plan for where the models run. On a GPU the models are fast and decoding is the bottleneck:
// one inference thread feeds the device (8 images per detector call, faces of many images per embedder call) and
// decode threads take every core. On the CPU the options stay as they are.
void PlanForDevice(const Device& device, unsigned cores, const ChosenSettings& chosen, BackfillOptions* options);

struct BackfillProgress {
  int64_t total = 0;  // assets this run will process
  int64_t processed = 0;
  int64_t faces = 0;
  int64_t no_faces = 0;
  int64_t errors = 0;
  double elapsed_seconds = 0;
};

// Busy time per stage, summed over the threads of that stage.
struct StageTime {
  std::string name;
  int threads = 1;
  double busy_seconds = 0;
  double utilisation = 0;  // busy / (threads * wall): the busiest stage holds the pipeline back
};

struct BackfillReport {
  BackfillProgress progress;
  // Stored faces with a person or a cluster that a re-scan did not find again: kept, never deleted.
  int64_t kept_not_redetected = 0;
  ModelGuardReport model_guard;
  std::map<std::string, int64_t> errors_by_reason;
  std::vector<StageTime> stages;
  std::string bottleneck;
  // Detector calls of the pipelined run: images / detect_calls is how many images a call held on average.
  int64_t detect_calls = 0;
  double wall_seconds = 0;
  double images_per_second = 0;
  double faces_per_second = 0;
  bool cancelled = false;
  // Shared catalogs: live leases other holders still had when this run finished (their assets are not done yet).
  std::vector<LeaseHolder> leased_elsewhere;
};

using ProgressCallback = std::function<void(const BackfillProgress&)>;

// Runs the backfill. `analyzer` is cloned per inference thread; `cancel` (may be null) makes the run stop taking new
// assets, finish and commit what is in flight, and return with report.cancelled. A catalog or vector-store failure
// stops the run with that error after in-flight work is abandoned (nothing half-written: vectors are upserted before
// the transaction that records faces and scan status).
Result<BackfillReport> RunBackfill(Catalog& catalog, VectorStore& vectors, FaceAnalyzer& analyzer,
                                   const BackfillOptions& options, const std::atomic<bool>* cancel = nullptr,
                                   const ProgressCallback& on_progress = {}, double progress_interval_seconds = 1.0);

// A lease owner unique to this process: "HOST:PID:RANDOM".
std::string DefaultLeaseOwner();

// Deterministic face id: UUID v5 of (asset id, integer box, model id).
std::string FaceId(int64_t asset_id, int x, int y, int w, int h, const std::string& model_id);

// The service's quality score: min(1, w*h/40000) * 0.5 + confidence * 0.5.
float QualityScore(int w, int h, float confidence);

}  // namespace facefill
