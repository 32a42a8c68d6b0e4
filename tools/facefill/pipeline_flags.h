// How this machine runs the pipeline (threads, batches, limits, leases): flags shared by `backfill` and `worker`.
#pragma once

#include <CLI/CLI.hpp>

#include "facefill/backfill.h"

namespace facefill::cli {

void AddPipelineFlags(CLI::App* app, BackfillOptions* options);

}  // namespace facefill::cli
