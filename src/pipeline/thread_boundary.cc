// The test seam of the pipeline's exception boundaries: one optional hook, called at each asset a thread takes.
#include "thread_boundary.h"

#include <atomic>

namespace facefill::pipeline {
namespace {

std::atomic<const StageHook*> g_hook{nullptr};

}  // namespace

void SetStageHookForTesting(StageHook hook) {
  const StageHook* fresh = hook ? new StageHook(std::move(hook)) : nullptr;
  delete g_hook.exchange(fresh);  // only while no backfill runs, so nobody still calls the old one
}

void CallStageHook(std::string_view stage, const AssetRecord& asset) {
  if (const StageHook* hook = g_hook.load(std::memory_order_acquire)) (*hook)(stage, asset);
}

}  // namespace facefill::pipeline
