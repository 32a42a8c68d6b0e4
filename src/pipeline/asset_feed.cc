// Feeding pending assets to a backfill: leases from a shared catalog, or pages of the pending list.
#include "asset_feed.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "thread_boundary.h"

namespace facefill::pipeline {
namespace {

// How often a run waiting for other holders' leases (wait_for_leases) looks again.
constexpr auto kLeasePoll = std::chrono::milliseconds(1000);

// Leases pending assets a few at a time and hands them to `sink` until none is left, the sink refuses or the run
// is cancelled. Leases are taken only as the pipeline has room (and renewed while held), so none expires.
Status FeedClaims(Catalog& catalog, const BackfillOptions& options, const std::string& owner, const StopFn& stopped,
                  const AssetSink& sink) {
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
Status FeedPending(Catalog& catalog, const BackfillOptions& options, const StopFn& stopped, const AssetSink& sink) {
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

}  // namespace

Status FeedAssets(Catalog& catalog, const BackfillOptions& options, const std::string& owner, const StopFn& stopped,
                  const AssetSink& sink) {
  if (!owner.empty()) return FeedClaims(catalog, options, owner, stopped, sink);
  return FeedPending(catalog, options, stopped, sink);
}

Result<std::vector<LeaseHolder>> OtherHolders(Catalog& catalog, const std::string& owner) {
  auto holders = catalog.LiveLeases();
  if (!holders.ok()) return holders.status();
  std::erase_if(*holders, [&](const LeaseHolder& h) { return h.owner == owner; });
  return holders;
}

void StartFeedStage(Catalog& catalog, const BackfillOptions& options, const std::string& owner, StopFn stopped,
                    BoundedQueue<AssetRecord>* out, Status* feed_status, StageThreads* threads) {
  threads->Start("feeder", [&catalog, &options, owner, stopped = std::move(stopped), out, feed_status] {
    *feed_status = CatchEscapes("feeder", [&] {
      return FeedAssets(catalog, options, owner, stopped,
                        [out](AssetRecord asset) { return out->Push(std::move(asset)); });
    });
    out->Close();
    return Status::Ok();
  });
}

}  // namespace facefill::pipeline
