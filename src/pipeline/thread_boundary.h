// Exception boundaries for the bodies of pipeline threads: an exception that escapes becomes a Status (recorded
// as an asset's error or the run's error) instead of ending the process, plus a test seam to inject one.
#pragma once

#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>

#include "facefill/records.h"
#include "facefill/status.h"

namespace facefill::pipeline {

// Runs `body` (returning Status or void); an exception escaping it is returned as kInternal naming `where`.
template <typename Body>
Status CatchEscapes(std::string_view where, Body&& body) noexcept {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<Body>>) {
      body();
      return Status::Ok();
    } else {
      return body();
    }
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string(where) + ": unexpected exception: " + e.what());
  } catch (...) {
    return Status(StatusCode::kInternal, std::string(where) + ": unexpected exception of unknown type");
  }
}

// Tests only: called by the backfill's threads with the stage ("decode", "detect") and the asset each time they
// take one; it may throw, to check the boundaries. Set it only while no backfill runs; an empty hook removes it.
using StageHook = std::function<void(std::string_view stage, const AssetRecord& asset)>;
void SetStageHookForTesting(StageHook hook);
void CallStageHook(std::string_view stage, const AssetRecord& asset);

}  // namespace facefill::pipeline
