// `facefill backfill`: process every pending asset, with live progress, a stage-time summary and clean Ctrl-C.
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "commands.h"
#include "core/process_tuning.h"
#include "facefill/backfill.h"
#include "facefill/calibration.h"
#include "facefill/people.h"
#include "facefill/runtime.h"
#include "facefill/worker.h"
#include "model_flags.h"
#include "pipeline_flags.h"
#include "progress_line.h"
#include "queue_flags.h"
#include "signals.h"
#include "store_flags.h"

namespace facefill::cli {
namespace {

struct BackfillFlags {
  StoreFlags stores;
  ModelFlags models;
  BackfillOptions options;
  bool json = false;
  bool no_people = false;  // --no-people: no incremental cluster assignment after the backfill
  bool quiet = false;
  std::string malloc_tuning = "auto";
  std::string queue;          // enqueue instead of running here
  float min_confidence = -1;  // --min-confidence; < 0: the detector's calibrated default
};

// --min-confidence as given, else the default measured for the pack's detector.
void ResolveMinConfidence(BackfillFlags& flags, const ModelPack& pack) {
  flags.options.min_confidence = flags.min_confidence >= 0 ? flags.min_confidence : DefaultMinConfidence(pack);
  spdlog::debug("min confidence {:.2f}", flags.options.min_confidence);
}

// A terminal gets one line redrawn in place, fitted to its width; a pipe or log gets a line every 10 s.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool terminal) : terminal_(terminal) {}

  void operator()(const BackfillProgress& p) {
    window_.Add(p.elapsed_seconds, p.processed);
    const double rate = window_.Rate();
    const double eta = window_.Eta(p.total - p.processed);
    if (terminal_) {
      const std::string line = FormatProgressLine(p, rate, eta, TerminalColumns());
      std::fprintf(stderr, "\r%s\x1b[K", line.c_str());  // erase what a longer line left behind
      std::fflush(stderr);
    } else {
      spdlog::info("progress {}/{} assets, {:.1f} images/s, {} faces, {} errors, ETA {}", p.processed, p.total, rate,
                   p.faces, p.errors, Duration(eta));
    }
  }

 private:
  bool terminal_;
  RateWindow window_;
};

// A Unix time as "2026-11-29T14:05:09Z".
std::string UtcTime(int64_t unix_seconds) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(static_cast<std::time_t>(unix_seconds)));
}

nlohmann::json ReportJson(const BackfillReport& r) {
  nlohmann::json leased = nlohmann::json::array();
  for (const auto& h : r.leased_elsewhere) {
    leased.push_back({{"owner", h.owner}, {"assets", h.assets}, {"expires_at", UtcTime(h.expires_at)}});
  }
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& s : r.stages) {
    stages.push_back(
        {{"stage", s.name}, {"threads", s.threads}, {"busy_seconds", s.busy_seconds}, {"utilisation", s.utilisation}});
  }
  return {{"total", r.progress.total},
          {"processed", r.progress.processed},
          {"faces", r.progress.faces},
          {"no_faces", r.progress.no_faces},
          {"errors", r.progress.errors},
          {"errors_by_reason", r.errors_by_reason},
          {"kept_not_redetected", r.kept_not_redetected},
          {"model_guard",
           {{"recognizer", r.model_guard.recognizer},
            {"stored_vectors", r.model_guard.stored_vectors},
            {"compared", r.model_guard.compared},
            {"median_similarity", r.model_guard.median_similarity},
            {"forced", r.model_guard.forced}}},
          {"wall_seconds", r.wall_seconds},
          {"images_per_second", r.images_per_second},
          {"faces_per_second", r.faces_per_second},
          {"stages", stages},
          {"bottleneck", r.bottleneck},
          {"detect_calls", r.detect_calls},
          {"peak_rss_mb", PeakResidentMegabytes()},
          {"cancelled", r.cancelled},
          {"leased_elsewhere", leased}};
}

// The first few files this run could not read, so the user need not go looking (`facefill errors` lists all).
constexpr int64_t kFailuresShown = 5;

std::vector<FailedAsset> RecentFailures(Catalog& catalog, const BackfillReport& r) {
  if (r.progress.errors == 0) return {};
  auto failed = catalog.ListErrors(std::min(r.progress.errors, kFailuresShown));
  return failed.ok() ? std::move(failed).value() : std::vector<FailedAsset>{};
}

void PrintSummary(const BackfillReport& r, bool sequential, const std::vector<FailedAsset>& failures) {
  std::cout << fmt::format(
      "backfill{}: {} assets processed ({} with faces, {} without, {} errors), {} faces\n  in {:.1f} s: {:.2f} "
      "images/s, "
      "{:.2f} faces/s{}\n",
      sequential ? " (sequential)" : "", r.progress.processed,
      r.progress.processed - r.progress.no_faces - r.progress.errors, r.progress.no_faces, r.progress.errors,
      r.progress.faces, r.wall_seconds, r.images_per_second, r.faces_per_second,
      r.cancelled ? "\n  interrupted: in-flight work committed; run again to resume" : "");
  for (const auto& [reason, count] : r.errors_by_reason) std::cout << fmt::format("  error {}: {}\n", reason, count);
  for (const auto& f : failures) std::cout << fmt::format("    {}  {}  {}\n", f.reason, f.path, f.message);
  if (r.progress.errors > static_cast<int64_t>(failures.size())) {
    std::cout << fmt::format("    ... {} more: `facefill errors` lists them all\n",
                             r.progress.errors - static_cast<int64_t>(failures.size()));
  }
  if (r.kept_not_redetected > 0) {
    std::cout << fmt::format("  {} labelled faces (with a person or a cluster) kept, not re-detected\n",
                             r.kept_not_redetected);
  }
  if (r.model_guard.compared > 0) {
    std::cout << fmt::format("  model check: {} stored faces embedded again with {}, median cosine {:.3f}\n",
                             r.model_guard.compared, r.model_guard.recognizer, r.model_guard.median_similarity);
  }
  if (r.model_guard.forced) {
    std::cout << "  model check skipped (--force-model): the store may now hold vectors of two models\n";
  }
  for (const auto& h : r.leased_elsewhere) {
    std::cout << fmt::format("  not done: {} asset(s) leased by {} until {} (--wait waits for them)\n", h.assets,
                             h.owner, UtcTime(h.expires_at));
  }
  std::cout << fmt::format("  peak resident memory {:.0f} MB\n", PeakResidentMegabytes());
  for (const auto& s : r.stages) {
    std::cout << fmt::format("  stage {:<7} {} thread(s)  busy {:8.2f} s  utilisation {:5.1f}%{}\n", s.name, s.threads,
                             s.busy_seconds, 100 * s.utilisation, s.name == r.bottleneck ? "  <- bottleneck" : "");
  }
}

// --queue: the job goes to Redis for `facefill worker` processes; prints its id.
int Enqueue(BackfillFlags& flags) {
  const auto& o = flags.options;
  if (o.rescan || o.offset > 0 || o.sequential || o.limit > 0) {
    spdlog::error("--rescan, --offset, --limit and --sequential cannot be queued (workers share the catalog's leases)");
    return kExitUsage;
  }
  if (flags.models.max_faces != ModelFlags().max_faces) {
    spdlog::error("--max-faces applies where the job runs: pass it to `facefill worker`");
    return kExitUsage;
  }
  const auto pack = LocatePack(flags.models);
  if (!pack) return kExitUsage;
  const std::string model_id = pack->id;
  ResolveMinConfidence(flags, *pack);
  auto queue = OpenQueueOrLog(flags.queue);
  if (!queue) return kExitUsage;
  auto id = queue->Enqueue(JobParamsJson(o, model_id));
  if (!id.ok()) {
    spdlog::error("{}", id.status().ToString());
    return kExitFailure;
  }
  if (flags.json) {
    std::cout << nlohmann::json{{"job", *id}, {"status", "queued"}}.dump() << "\n";
  } else {
    std::cout << *id << "\n";
  }
  return kExitOk;
}

// Before loading models: is there anything to do? Prints why not (nothing scanned, all done, all leased by
// others) and returns false then.
Result<bool> AnythingPending(Catalog& catalog, const BackfillOptions& o, bool json) {
  auto pending = catalog.CountPending(PendingQuery{0, 0, o.retry_errors, o.rescan});
  if (!pending.ok()) return pending.status();
  auto leased = catalog.CountLiveLeases();
  if (!leased.ok()) return leased.status();
  const int64_t todo = *pending - o.offset - (o.rescan || o.offset > 0 ? 0 : *leased);
  if (todo > 0 || (o.wait_for_leases && *leased > 0)) return true;  // --wait: the run waits for those leases
  auto stats = catalog.Stats();
  if (!stats.ok()) return stats.status();
  std::string message;
  if (stats->assets == 0) {
    message = "nothing pending: the catalog has no images yet — run `facefill scan DIR` first";
  } else if (*leased > 0 && !o.rescan && o.offset == 0) {
    message = fmt::format("nothing to take: {} pending asset(s) are leased by other workers ({} of {} scanned)",
                          *leased, stats->scanned, stats->assets);
  } else {
    message = fmt::format("nothing pending: {} of {} assets scanned, {} failed{} — `facefill scan DIR` adds new files",
                          stats->scanned, stats->assets, stats->errors,
                          stats->errors > 0 && !o.retry_errors ? " (`--retry-errors` retries them)" : "");
  }
  // Whose leases those are, and until when, as a finished run reports them.
  std::vector<LeaseHolder> holders;
  if (*leased > 0) {
    auto live = catalog.LiveLeases();
    if (live.ok()) holders = std::move(live).value();
  }
  if (json) {
    nlohmann::json by_holder = nlohmann::json::array();
    for (const auto& h : holders) {
      by_holder.push_back({{"owner", h.owner}, {"assets", h.assets}, {"expires_at", UtcTime(h.expires_at)}});
    }
    std::cout << nlohmann::json{{"total", 0},
                                {"processed", 0},
                                {"nothing_pending", true},
                                {"message", message},
                                {"leased_by_others", *leased},
                                {"leased_elsewhere", by_holder}}
                     .dump()
              << "\n";
  } else {
    std::cout << message << "\n";
    for (const auto& h : holders) {
      std::cout << fmt::format("  not done: {} asset(s) leased by {} until {} (--wait waits for them)\n", h.assets,
                               h.owner, UtcTime(h.expires_at));
    }
  }
  return false;
}

// People after a backfill (embedded catalog that has clusters): new faces join existing clusters by Immich's rule
// (see `facefill cluster --incremental`). A failure here is reported but does not fail the backfill.
std::optional<nlohmann::json> AssignPeople(const StoreFlags& stores) {
  auto report = AssignAfterBackfill(stores.db, stores.vectors);
  if (!report.ok()) {
    spdlog::warn("assigning new faces to clusters: {} (`facefill cluster --incremental` retries)",
                 report.status().ToString());
    return std::nullopt;
  }
  if (!*report) return std::nullopt;
  const AssignReport& r = **report;
  return nlohmann::json{{"pending", r.pending},
                        {"assigned", r.assigned},
                        {"waiting", r.waiting},
                        {"ran_full", r.ran_full},
                        {"summary", fmt::format("people: {} new faces, {} joined clusters, {} waiting{}", r.pending,
                                                r.assigned, r.waiting, r.ran_full ? " (full clustering run)" : "")}};
}

int Run(BackfillFlags& flags) {
  if (!flags.queue.empty()) return Enqueue(flags);
  // Installed first, so a signal during start-up also ends cleanly (nothing is in flight yet).
  const std::atomic<bool>* cancel = InstallDrainSignals();
  // auto: tuned for the pipeline; the sequential baseline runs with the allocator as the old service had it.
  if (flags.malloc_tuning == "on" || (flags.malloc_tuning == "auto" && !flags.options.sequential)) {
    TuneAllocatorForLargeBuffers();
  }
  // The models are located before anything else is opened: a wrong --models touches no catalog.
  const auto pack = LocatePack(flags.models);
  if (!pack) return kExitUsage;
  ResolveMinConfidence(flags, *pack);
  Stores stores;
  if (int rc = OpenStoresOrExit(flags.stores, &stores); rc != kExitOk) return rc;
  // The vector store is reached now, so an unreachable one fails here, even with nothing to do.
  if (auto count = stores.vectors->Count(); !count.ok()) {
    spdlog::error("vector store {}: {}", stores.vectors->Describe(), count.status().ToString());
    return kExitFailure;
  }
  auto pending = AnythingPending(*stores.catalog, flags.options, flags.json);
  if (!pending.ok()) {
    spdlog::error("{}", pending.status().ToString());
    return kExitFailure;
  }
  if (!*pending) return kExitOk;
  // The pipeline runs one model call per core at a time (1 thread each); the sequential baseline runs like the
  // service's InsightFace, whose ONNX Runtime sessions use every core for each call.
  const int threads = flags.models.threads >= 0 ? flags.models.threads : (flags.options.sequential ? 0 : 1);
  auto analyzer = OpenAnalyzer(flags.models, threads);
  if (!analyzer) return kExitUsage;
  const bool terminal = isatty(STDERR_FILENO) && !flags.quiet && !flags.json;
  // On a terminal, commits come at least every 250 ms so the count moves steadily rather than in write batches.
  if (terminal) flags.options.max_commit_wait_ms = std::min(flags.options.max_commit_wait_ms, 250);
  ProgressCallback progress;
  if (!flags.quiet) progress = ProgressPrinter(terminal);
  auto report =
      RunBackfill(*stores.catalog, *stores.vectors, *analyzer, flags.options, cancel, progress, terminal ? 0.25 : 10.0);
  if (terminal) std::fputc('\n', stderr);
  if (!report.ok()) {
    spdlog::error("backfill stopped: {}", report.status().ToString());
    return kExitFailure;
  }
  const auto failures = RecentFailures(*stores.catalog, *report);
  const auto people = flags.no_people ? std::nullopt : AssignPeople(flags.stores);
  if (flags.json) {
    auto j = ReportJson(*report);
    if (people) j["people"] = *people;
    j["first_errors"] = nlohmann::json::array();
    for (const auto& f : failures) {
      j["first_errors"].push_back({{"path", f.path}, {"reason", f.reason}, {"message", f.message}});
    }
    std::cout << j.dump() << "\n";
  } else {
    PrintSummary(*report, flags.options.sequential, failures);
    if (people) std::cout << people->value("summary", "") << "\n";
  }
  return kExitOk;
}

}  // namespace

void RegisterBackfill(CLI::App* app) {
  auto flags = std::make_shared<BackfillFlags>();
  auto& o = flags->options;
  CLI::App* cmd = app->add_subcommand("backfill", "Detect, embed and store the faces of every pending asset");
  AddStoreFlags(cmd, &flags->stores);
  AddModelFlags(cmd, &flags->models);
  AddMaxFacesFlag(cmd, &flags->models);
  cmd->add_option("--limit", o.limit, "Process at most N pending assets (0: all)")->capture_default_str();
  cmd->add_option("--offset", o.offset, "Skip the first N pending assets")->capture_default_str();
  cmd->add_option("--min-confidence", flags->min_confidence,
                  "Drop faces scoring lower (default: measured per detector, see the README's Calibration)");
  cmd->add_option("--min-face-size", o.min_face_size, "Drop faces smaller than this (px)")->capture_default_str();
  AddPipelineFlags(cmd, &o);
  cmd->add_option("--malloc-tuning", flags->malloc_tuning,
                  "Reuse large buffers instead of fresh mappings: auto (on unless --sequential), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  cmd->add_flag("--sequential", o.sequential, "The old algorithm, one image at a time (baseline)");
  cmd->add_flag("--rescan", o.rescan, "Re-detect scanned assets too; matched faces keep their ids");
  cmd->add_flag("--retry-errors", o.retry_errors, "Retry assets whose last scan failed");
  cmd->add_flag("--wait", o.wait_for_leases,
                "Shared catalogs: when other holders still lease assets, wait until they commit them or their leases "
                "expire (then process them here)");
  cmd->add_flag("--json", flags->json, "Print the final report as JSON");
  cmd->add_flag("-q,--quiet", flags->quiet, "No progress output");
  cmd->add_flag("--no-people", flags->no_people,
                "Embedded catalog with clusters: do not assign the new faces to clusters afterwards");
  cmd->add_option("--queue", flags->queue,
                  "Queue the job on this Redis (redis://HOST:PORT/DB) for `facefill worker` processes, print its id "
                  "and return");
  cmd->final_callback([flags, cmd] {
    PlanPipelineForDevice(*cmd, flags->models.device, &flags->options);
    throw CommandResult(Run(*flags));
  });
}

}  // namespace facefill::cli
