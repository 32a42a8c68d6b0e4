// Where a backfill's assets come from: leased a few at a time from a shared catalog, or listed page by page.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "bounded_queue.h"
#include "facefill/backfill.h"
#include "facefill/catalog.h"
#include "run_control.h"

namespace facefill::pipeline {

// Whether the feed should stop: the run was cancelled or is stopping on an error.
using StopFn = std::function<bool()>;
// Takes one asset; false refuses it and ends the feed.
using AssetSink = std::function<bool(AssetRecord)>;

// Hands pending assets to `sink` until none is left, the sink refuses or `stopped`: leased (and renewed by the
// caller's heartbeat) from a shared catalog when `owner` is set, taken only as the sink has room so no lease
// expires; listed after `offset` otherwise. At most options.limit assets (0: all).
Status FeedAssets(Catalog& catalog, const BackfillOptions& options, const std::string& owner, const StopFn& stopped,
                  const AssetSink& sink);

// Live leases held by anyone but `owner`.
Result<std::vector<LeaseHolder>> OtherHolders(Catalog& catalog, const std::string& owner);

// The feed stage of a pipelined run: one thread feeding `out`, which it closes when done. A feed error (or
// exception) ends the feed only: what is in flight still drains and is committed, and the error is left in
// `feed_status` for the run to return.
void StartFeedStage(Catalog& catalog, const BackfillOptions& options, const std::string& owner, StopFn stopped,
                    BoundedQueue<AssetRecord>* out, Status* feed_status, StageThreads* threads);

}  // namespace facefill::pipeline
