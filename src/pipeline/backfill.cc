// The backfill pipeline: feeder -> decode pool -> inference workers (detect, align, embed batched across images)
// -> one writer (vectors upsert, then one catalog transaction per batch), joined by bounded queues.
#include "facefill/backfill.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "bounded_queue.h"
#include "containment.h"
#include "face_records.h"
#include "facefill/model_guard.h"
#include "facefill/runtime.h"
#include "stage_clock.h"
#include "thread_boundary.h"

namespace facefill {
namespace {

using pipeline::BoundedQueue;
using pipeline::CallStageHook;
using pipeline::CatchEscapes;
using pipeline::StageClock;
using Clock = std::chrono::steady_clock;

struct DecodedAsset {
  AssetRecord asset;
  Result<DecodedImage> image = Status(StatusCode::kInternal, "not decoded");
};

bool Cancelled(const std::atomic<bool>* cancel) { return cancel != nullptr && cancel->load(); }

// How often a run waiting for other holders' leases (wait_for_leases) looks again.
constexpr auto kLeasePoll = std::chrono::milliseconds(1000);

// Live leases held by anyone but `owner`.
Result<std::vector<LeaseHolder>> OtherHolders(Catalog& catalog, const std::string& owner) {
  auto holders = catalog.LiveLeases();
  if (!holders.ok()) return holders.status();
  std::erase_if(*holders, [&](const LeaseHolder& h) { return h.owner == owner; });
  return holders;
}

// Renews `owner`'s leases every lease_seconds / 3 while it lives, so the leases of a live run never run out and a
// dead run's come back within lease_seconds. Nothing when owner is empty (no leases).
class LeaseHeartbeat {
 public:
  LeaseHeartbeat(Catalog& catalog, const std::string& owner, int lease_seconds) {
    if (owner.empty()) return;
    thread_ = std::thread([this, &catalog, owner, lease_seconds] {
      const auto period = std::chrono::milliseconds(std::max(1, lease_seconds * 1000 / 3));
      std::unique_lock lock(mutex_);
      while (!stopped_.wait_for(lock, period, [&] { return stop_; })) {
        lock.unlock();
        // Best effort: when the database is away the writer's next commit reports it.
        Status renewed = CatchEscapes("lease heartbeat", [&] { return catalog.RenewLeases(owner, lease_seconds); });
        if (!renewed.ok()) spdlog::warn("renewing the leases of {} failed: {}", owner, renewed.ToString());
        lock.lock();
      }
    });
  }
  ~LeaseHeartbeat() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    stopped_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  LeaseHeartbeat(const LeaseHeartbeat&) = delete;
  LeaseHeartbeat& operator=(const LeaseHeartbeat&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable stopped_;
  bool stop_ = false;
  std::thread thread_;
};

// Reads and decodes one asset's file, refusing files that lead outside the library roots.
Result<DecodedImage> DecodeAsset(const AssetRecord& asset, const pipeline::Containment& containment,
                                 const BackfillOptions& options, StageClock* clock) {
  auto timer = clock->Start("decode");
  // Opened once, beneath its library root, and decoded from that descriptor: nothing to swap in between.
  auto file = containment.Open(asset.path);
  if (!file.ok()) return file.status();
  std::vector<uint8_t> bytes;
  FACEFILL_RETURN_IF_ERROR(ReadOpenFileBytes(file->get(), asset.path, options.decode.max_file_bytes, &bytes));
  return DecodeImage(bytes, asset.path, options.decode);
}

// How many assets this run will process: pending ones after offset, capped by limit.
Result<int64_t> PlannedTotal(Catalog& catalog, const BackfillOptions& options) {
  auto pending = catalog.CountPending(PendingQuery{0, 0, options.retry_errors, options.rescan});
  if (!pending.ok()) return pending.status();
  int64_t total = std::max<int64_t>(0, *pending - options.offset);
  return options.limit > 0 ? std::min(total, options.limit) : total;
}

// The roots `scan` recorded plus those given in the options.
Result<pipeline::Containment> LoadContainment(Catalog& catalog, const BackfillOptions& options) {
  auto roots = catalog.LibraryRoots();
  if (!roots.ok()) return roots.status();
  roots->insert(roots->end(), options.library_roots.begin(), options.library_roots.end());
  return pipeline::Containment(*roots);
}

bool UsesClaims(const Catalog& catalog, const BackfillOptions& options) {
  return catalog.SupportsClaims() && !options.rescan && options.offset == 0;
}

// Whether the feed should stop: the run was cancelled or is stopping on an error.
using StopFn = std::function<bool()>;

// Leases pending assets a few at a time and hands them to `sink` until none is left, the sink refuses or the run
// is cancelled. Leases are taken only as the pipeline has room (and renewed while held), so none expires.
template <typename Sink>
Status FeedClaims(Catalog& catalog, const BackfillOptions& options, const std::string& owner, const StopFn& stopped,
                  Sink&& sink) {
  ClaimRequest request;
  request.owner = owner;
  request.limit = options.claim_batch;
  request.lease_seconds = options.lease_seconds;
  if (options.retry_errors) {
    request.retry_errors_before =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  int64_t fed = 0;
  while (!stopped()) {
    if (options.limit > 0) request.limit = static_cast<int>(std::min<int64_t>(request.limit, options.limit - fed));
    if (request.limit <= 0) break;
    auto claimed = catalog.Claim(request);
    if (!claimed.ok()) return claimed.status();
    if (claimed->empty()) {
      if (!options.wait_for_leases) break;
      // Others still hold leases: wait for them to be committed, or to expire and come back to be claimed here.
      auto others = OtherHolders(catalog, owner);
      if (!others.ok()) return others.status();
      if (others->empty()) break;
      for (auto waited = std::chrono::milliseconds(0); waited < kLeasePoll && !stopped();
           waited += std::chrono::milliseconds(100)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      continue;
    }
    for (auto& asset : *claimed) {
      if (stopped() || !sink(std::move(asset))) return Status::Ok();
      ++fed;
    }
  }
  return Status::Ok();
}

// Builds the pending list page by page and hands assets to `sink` until it refuses or the run is cancelled.
template <typename Sink>
Status FeedPending(Catalog& catalog, const BackfillOptions& options, const StopFn& stopped, Sink&& sink) {
  PendingQuery query;
  query.rescan = options.rescan;
  query.retry_errors = options.retry_errors;
  int64_t skipped = 0, fed = 0;
  while (!stopped()) {
    auto page = catalog.ListPending(query);
    if (!page.ok()) return page.status();
    if (page->empty()) break;
    for (auto& asset : *page) {
      query.after_id = asset.id;
      if (skipped < options.offset) {
        ++skipped;
        continue;
      }
      if (options.limit > 0 && fed >= options.limit) return Status::Ok();
      if (stopped() || !sink(std::move(asset))) return Status::Ok();
      ++fed;
    }
  }
  return Status::Ok();
}

// Hands pending assets to `sink`: leased from a shared catalog when `owner` is set, listed otherwise.
template <typename Sink>
Status Feed(Catalog& catalog, const BackfillOptions& options, const std::string& owner, const StopFn& stopped,
            Sink&& sink) {
  if (!owner.empty()) return FeedClaims(catalog, options, owner, stopped, std::forward<Sink>(sink));
  return FeedPending(catalog, options, stopped, std::forward<Sink>(sink));
}

// The writer's half: match stored faces, upsert vectors, commit the batch, delete vectors of faces that went away.
class BatchWriter {
 public:
  BatchWriter(Catalog& catalog, VectorStore& vectors, std::string model_id, std::string lease_owner, StageClock* clock)
      : catalog_(catalog),
        vectors_(vectors),
        model_id_(std::move(model_id)),
        lease_owner_(std::move(lease_owner)),
        clock_(clock) {}

  Status Write(std::vector<ScanOutcome>* batch, BackfillReport* report) {
    if (batch->empty()) return Status::Ok();
    auto timer = clock_->Start("write");
    std::vector<int64_t> ids;
    for (const auto& o : *batch) ids.push_back(o.asset.id);
    auto stored = catalog_.FacesOfAssets(ids);
    if (!stored.ok()) return stored.status();
    std::vector<const FaceRecord*> new_points, kept_points;
    for (auto& o : *batch) {
      if (o.state == ScanState::kError) continue;
      pipeline::MatchStoredFaces(&o, (*stored)[o.asset.id], catalog_.IsServiceDatabase());
      for (const auto& f : o.faces) (f.stored ? kept_points : new_points).push_back(&f);
    }
    // Vectors first: a crash after this leaves overwritable vectors, never a face row without its vector. A kept
    // face's point is updated in place, so the payload the service owns stays as it is.
    const bool own_vectors = !vectors_.WrittenByCatalog();
    if (own_vectors) {
      FACEFILL_RETURN_IF_ERROR(vectors_.Upsert(new_points));
      FACEFILL_RETURN_IF_ERROR(vectors_.UpdateVectors(kept_points));
    }
    std::vector<std::string> deleted;
    FACEFILL_RETURN_IF_ERROR(catalog_.CommitScans(*batch, model_id_, lease_owner_, &deleted));
    if (own_vectors) FACEFILL_RETURN_IF_ERROR(vectors_.Delete(deleted));
    for (const auto& o : *batch) report->kept_not_redetected += o.kept_not_redetected;
    for (const auto& o : *batch) {
      ++report->progress.processed;
      report->progress.faces += static_cast<int64_t>(o.faces.size());
      if (o.state == ScanState::kNoFaces) ++report->progress.no_faces;
      if (o.state == ScanState::kError) {
        ++report->progress.errors;
        ++report->errors_by_reason[std::string(StatusCodeName(o.error.code()))];
      }
    }
    batch->clear();
    return Status::Ok();
  }

 private:
  Catalog& catalog_;
  VectorStore& vectors_;
  std::string model_id_;
  std::string lease_owner_;
  StageClock* clock_;
};

ScanOutcome ErrorOutcome(AssetRecord asset, Status error) {
  ScanOutcome o;
  o.asset = std::move(asset);
  o.state = ScanState::kError;
  o.error = std::move(error);
  return o;
}

// Detects and aligns the faces of one decoded image into `outcome` and `crops`: the analyzer's own steps, with the
// service's filters between detection and alignment.
Status DetectAndAlign(FaceAnalyzer& analyzer, const DecodedImage& image, const BackfillOptions& options,
                      StageClock* clock, ScanOutcome* outcome, std::vector<cv::Mat>* crops) {
  Result<std::vector<FaceDetection>> detections = Status(StatusCode::kInternal, "");
  {
    auto timer = clock->Start("detect");
    detections = analyzer.Detect(image.bgr);
  }
  if (!detections.ok()) return detections.status();
  std::vector<size_t> kept;
  outcome->faces =
      pipeline::ToFaceRecords(outcome->asset, *detections, image.scale, options, analyzer.pack().id, &kept);
  outcome->state = outcome->faces.empty() ? ScanState::kNoFaces : ScanState::kDone;
  auto timer = clock->Start("align");
  for (size_t i : kept) crops->push_back(analyzer.Align(image.bgr, (*detections)[i].landmarks));
  return Status::Ok();
}

// Embeds `crops` in calls of at most batch_size faces and assigns them, in order, to the outcomes' faces.
Status EmbedInto(FaceAnalyzer& analyzer, const std::vector<cv::Mat>& crops, int batch_size, StageClock* clock,
                 std::vector<ScanOutcome>* outcomes) {
  auto timer = clock->Start("embed");
  FACEFILL_ASSIGN_OR_RETURN(std::vector<Embedding> embeddings, analyzer.Embed(crops, batch_size));
  size_t next = 0;
  for (auto& o : *outcomes) {
    for (auto& f : o.faces) f.embedding = std::move(embeddings[next++]);
  }
  return Status::Ok();
}

void FinishReport(const StageClock& clock, const std::vector<std::pair<std::string, int>>& stage_threads,
                  Clock::time_point start, BackfillReport* report) {
  report->wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report->progress.elapsed_seconds = report->wall_seconds;
  const double wall = std::max(report->wall_seconds, 1e-9);
  report->images_per_second = report->progress.processed / wall;
  report->faces_per_second = report->progress.faces / wall;
  double worst = -1;
  for (const auto& [name, threads] : stage_threads) {
    StageTime stage{name, threads, clock.Seconds(name), 0};
    stage.utilisation = stage.busy_seconds / (threads * wall);
    if (stage.utilisation > worst) worst = stage.utilisation, report->bottleneck = name;
    report->stages.push_back(stage);
  }
}

Result<BackfillReport> RunSequential(Catalog& catalog, VectorStore& vectors, FaceAnalyzer& analyzer,
                                     const BackfillOptions& options, const std::string& owner,
                                     const std::atomic<bool>* cancel, const ProgressCallback& on_progress,
                                     double interval) {
  BackfillReport report;
  StageClock clock;
  const auto start = Clock::now();
  auto last_progress = start;
  BatchWriter writer(catalog, vectors, analyzer.pack().id, owner, &clock);
  auto containment = LoadContainment(catalog, options);
  if (!containment.ok()) return containment.status();
  auto total = PlannedTotal(catalog, options);
  if (!total.ok()) return total.status();
  report.progress.total = *total;
  Status write_status;
  Status fed = Feed(
      catalog, options, owner, [&] { return Cancelled(cancel); },
      [&](AssetRecord asset) {
        std::vector<ScanOutcome> one;
        Status status = CatchEscapes(asset.path, [&]() -> Status {
          ScanOutcome outcome;
          outcome.asset = asset;
          CallStageHook("decode", asset);
          Result<DecodedImage> image = DecodeAsset(asset, *containment, options, &clock);
          std::vector<cv::Mat> crops;
          CallStageHook("detect", asset);
          FACEFILL_RETURN_IF_ERROR(image.ok() ? DetectAndAlign(analyzer, *image, options, &clock, &outcome, &crops)
                                              : image.status());
          // The old algorithm: every face embedded in its own call.
          one.push_back(std::move(outcome));
          return EmbedInto(analyzer, crops, 1, &clock, &one);
        });
        if (!status.ok()) {
          one.clear();
          one.push_back(ErrorOutcome(std::move(asset), status));
        }
        // One commit and one vector write per asset.
        write_status = CatchEscapes("writer", [&] { return writer.Write(&one, &report); });
        if (on_progress && std::chrono::duration<double>(Clock::now() - last_progress).count() >= interval) {
          last_progress = Clock::now();
          report.progress.elapsed_seconds = std::chrono::duration<double>(last_progress - start).count();
          on_progress(report.progress);
        }
        return write_status.ok();
      });
  FACEFILL_RETURN_IF_ERROR(fed);
  FACEFILL_RETURN_IF_ERROR(write_status);
  report.cancelled = Cancelled(cancel);
  FinishReport(clock, {{"decode", 1}, {"detect", 1}, {"align", 1}, {"embed", 1}, {"write", 1}}, start, &report);
  if (on_progress) on_progress(report.progress);
  return report;
}

Result<BackfillReport> RunPipelined(Catalog& catalog, VectorStore& vectors, FaceAnalyzer& analyzer,
                                    const BackfillOptions& options, const std::string& owner,
                                    const std::atomic<bool>* cancel, const ProgressCallback& on_progress,
                                    double interval) {
  const int workers = options.workers > 0 ? options.workers : std::max(1u, std::thread::hardware_concurrency());
  BackfillReport report;
  StageClock clock;
  const auto start = Clock::now();
  auto containment = LoadContainment(catalog, options);
  if (!containment.ok()) return containment.status();
  auto total = PlannedTotal(catalog, options);
  if (!total.ok()) return total.status();
  report.progress.total = *total;

  // Queue sizes bound memory: at most ~2 decoded images per worker wait for inference.
  BoundedQueue<AssetRecord> to_decode(static_cast<size_t>(4 * options.decode_threads));
  BoundedQueue<DecodedAsset> to_infer(static_cast<size_t>(2 * workers));
  BoundedQueue<ScanOutcome> to_write(static_cast<size_t>(2 * options.write_batch));
  std::atomic<bool> abort{false};  // set when the writer fails: everyone stops
  std::atomic<int> decoders_left{options.decode_threads}, workers_left{workers};

  // Every thread body has an exception boundary: an escape in one asset's work is that asset's error; one
  // anywhere else is the run's error (thread_status) and stops the run like a failed write.
  std::mutex thread_status_mutex;
  Status thread_status;
  auto stop_run = [&](Status status) {
    {
      std::lock_guard lock(thread_status_mutex);
      if (thread_status.ok()) thread_status = std::move(status);
    }
    abort = true;
    to_decode.Close();
    to_infer.Close();
    to_write.Close();
  };

  std::vector<std::unique_ptr<FaceAnalyzer>> locals;  // one analyzer per inference thread
  for (int t = 0; t < workers; ++t) locals.push_back(analyzer.Clone());
  // Whatever leaves this function (an exception included), the threads are stopped and joined first.
  std::vector<std::thread> threads;
  struct JoinAll {
    std::vector<std::thread>& threads;
    std::function<void()> stop;
    ~JoinAll() {
      bool running = false;
      for (auto& t : threads) running |= t.joinable();
      if (running) stop();
      for (auto& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } join_all{threads, [&] { stop_run(Status(StatusCode::kInternal, "the backfill stopped unexpectedly")); }};

  Status feed_status;
  threads.emplace_back([&] {
    // A feeder error (or exception) ends the feed: what is in flight still drains and is committed.
    feed_status = CatchEscapes("feeder", [&] {
      return Feed(
          catalog, options, owner, [&] { return Cancelled(cancel) || abort.load(); },
          [&](AssetRecord asset) { return to_decode.Push(std::move(asset)); });
    });
    to_decode.Close();
  });
  for (int t = 0; t < options.decode_threads; ++t) {
    threads.emplace_back([&] {
      Status escaped = CatchEscapes("decode thread", [&] {
        while (auto asset = to_decode.Pop()) {
          DecodedAsset item{std::move(*asset)};
          Status decoded = CatchEscapes(item.asset.path, [&] {
            CallStageHook("decode", item.asset);
            item.image = DecodeAsset(item.asset, *containment, options, &clock);
          });
          if (!decoded.ok()) item.image = decoded;
          if (!to_infer.Push(std::move(item))) break;
        }
      });
      if (!escaped.ok()) stop_run(escaped);
      if (--decoders_left == 0) to_infer.Close();
    });
  }
  for (int t = 0; t < workers; ++t) {
    threads.emplace_back([&, local = locals[t].get()] {
      Status escaped = CatchEscapes("inference thread", [&] {
        FlushDenormalsOnThisThread();
        // Images are taken one at a time (so both workers stay busy); their faces are held until batch_size crops
        // are waiting or no image is ready, then embedded in one call (fill, then flush).
        std::vector<ScanOutcome> held;
        std::vector<cv::Mat> crops;
        bool open = true;
        auto flush = [&] {
          Status status =
              CatchEscapes("embed", [&] { return EmbedInto(*local, crops, options.batch_size, &clock, &held); });
          if (!status.ok()) {
            for (auto& o : held) {
              if (o.state != ScanState::kError) o = ErrorOutcome(std::move(o.asset), status);
            }
          }
          for (auto& o : held) {
            if (!to_write.Push(std::move(o))) open = false;
          }
          held.clear();
          crops.clear();
        };
        while (open) {
          auto item = held.empty() ? to_infer.Pop() : to_infer.TryPop();
          if (!item) {
            if (held.empty()) break;  // closed and drained
            flush();
            continue;
          }
          ScanOutcome outcome;
          outcome.asset = item->asset;
          const size_t crops_before = crops.size();
          Status status = CatchEscapes(item->asset.path, [&] {
            CallStageHook("detect", item->asset);
            return item->image.ok() ? DetectAndAlign(*local, *item->image, options, &clock, &outcome, &crops)
                                    : item->image.status();
          });
          if (!status.ok()) crops.resize(crops_before);  // an error outcome has no faces to embed
          item.reset();                                  // free the pixels before waiting for more
          held.push_back(status.ok() ? std::move(outcome) : ErrorOutcome(std::move(outcome.asset), status));
          if (static_cast<int>(crops.size()) >= options.batch_size) flush();
        }
      });
      if (!escaped.ok()) stop_run(escaped);
      if (--workers_left == 0) to_write.Close();
    });
  }

  // The writer runs here: batches of write_batch outcomes, or fewer after max_write_wait_ms.
  BatchWriter writer(catalog, vectors, analyzer.pack().id, owner, &clock);
  std::vector<ScanOutcome> batch;
  Status write_status;
  auto batch_started = Clock::now(), last_progress = start;
  const auto max_wait = std::chrono::milliseconds(options.max_write_wait_ms);
  while (true) {
    bool closed = false;
    auto outcome = to_write.PopFor(std::chrono::milliseconds(100), &closed);
    if (outcome) {
      if (batch.empty()) batch_started = Clock::now();
      batch.push_back(std::move(*outcome));
    }
    const bool due = static_cast<int>(batch.size()) >= options.write_batch ||
                     (!batch.empty() && Clock::now() - batch_started >= max_wait) || closed;
    if (due && write_status.ok()) {
      write_status = CatchEscapes("writer", [&] { return writer.Write(&batch, &report); });
      // A failed write is sticky: stop everything, commit nothing more, report the error.
      if (!write_status.ok()) stop_run(write_status);
    }
    if (on_progress && std::chrono::duration<double>(Clock::now() - last_progress).count() >= interval) {
      last_progress = Clock::now();
      report.progress.elapsed_seconds = std::chrono::duration<double>(last_progress - start).count();
      Status reported = CatchEscapes("progress callback", [&] { on_progress(report.progress); });
      if (!reported.ok() && write_status.ok()) {
        write_status = reported;
        stop_run(reported);
      }
    }
    if (closed) break;
  }
  for (auto& t : threads) t.join();
  FACEFILL_RETURN_IF_ERROR(write_status);
  FACEFILL_RETURN_IF_ERROR(thread_status);
  FACEFILL_RETURN_IF_ERROR(feed_status);
  report.cancelled = Cancelled(cancel);
  FinishReport(
      clock,
      {{"decode", options.decode_threads}, {"detect", workers}, {"align", workers}, {"embed", workers}, {"write", 1}},
      start, &report);
  if (on_progress) on_progress(report.progress);
  return report;
}

}  // namespace

std::string DefaultLeaseOwner() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::random_device random;
  return fmt::format("{}:{}:{:08x}", host, getpid(), random());
}

Result<BackfillReport> RunBackfill(Catalog& catalog, VectorStore& vectors, FaceAnalyzer& analyzer,
                                   const BackfillOptions& options, const std::atomic<bool>* cancel,
                                   const ProgressCallback& on_progress, double interval) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  // Before any image is read: the store takes this model's vectors, and holds no other model's.
  ModelGuardOptions guard_options;
  guard_options.force = options.force_model;
  auto guard = GuardVectorModel(catalog, vectors, analyzer, guard_options);
  if (!guard.ok()) return guard.status();
  std::string owner;
  if (UsesClaims(catalog, options)) owner = options.lease_owner.empty() ? DefaultLeaseOwner() : options.lease_owner;
  Result<BackfillReport> report = Status(StatusCode::kInternal, "not run");
  {
    LeaseHeartbeat heartbeat(catalog, owner, options.lease_seconds);
    Status run = CatchEscapes("backfill", [&] {
      report = options.sequential
                   ? RunSequential(catalog, vectors, analyzer, options, owner, cancel, on_progress, interval)
                   : RunPipelined(catalog, vectors, analyzer, options, owner, cancel, on_progress, interval);
    });
    if (!run.ok()) report = run;
  }
  if (report.ok()) report->model_guard = *guard;
  if (owner.empty()) return report;
  // Leases on assets this run did not commit (cancelled, or stopped by an error) go back at once rather than when
  // they expire. Best effort: when the database is gone they expire on their own.
  (void)CatchEscapes("releasing leases", [&] { return catalog.ReleaseLeases(owner); });
  if (report.ok()) {
    // Assets others still hold are not done: say whose and until when (best effort, like the release).
    (void)CatchEscapes("listing leases", [&]() -> Status {
      auto others = OtherHolders(catalog, owner);
      if (others.ok()) report->leased_elsewhere = std::move(others).value();
      return others.status();
    });
  }
  return report;
}

Status BackfillOptions::Validate() const {
  if (limit < 0 || offset < 0) return Status(StatusCode::kInvalidArgument, "limit and offset must be >= 0");
  if (batch_size < 1) return Status(StatusCode::kInvalidArgument, "batch size must be >= 1");
  if (decode_threads < 1) return Status(StatusCode::kInvalidArgument, "decode threads must be >= 1");
  if (workers < 0) return Status(StatusCode::kInvalidArgument, "workers must be >= 0");
  if (write_batch < 1) return Status(StatusCode::kInvalidArgument, "write batch must be >= 1");
  if (min_face_size < 0) return Status(StatusCode::kInvalidArgument, "min face size must be >= 0");
  if (claim_batch < 1 || lease_seconds < 1) {
    return Status(StatusCode::kInvalidArgument, "claim batch and lease seconds must be >= 1");
  }
  return decode.Validate();
}

}  // namespace facefill
