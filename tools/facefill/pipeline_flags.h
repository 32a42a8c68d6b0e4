// How this machine runs the pipeline (threads, batches, limits, leases): flags shared by `backfill` and `worker`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "facefill/backfill.h"

namespace facefill::cli {

void AddPipelineFlags(CLI::App* app, BackfillOptions* options);

// After parsing: the thread plan for the --device the user chose (PlanForDevice), keeping the settings
// the user gave. A device word that does not parse is left for the model flags to report.
void PlanPipelineForDevice(const CLI::App& app, const std::string& device, BackfillOptions* options);

}  // namespace facefill::cli
