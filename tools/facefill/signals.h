// SIGINT/SIGTERM for long-running commands: the first asks for a drain (in-flight work is committed), the second
// exits at once (the next run resumes from the catalog).
#pragma once

#include <atomic>

namespace facefill::cli {

// Installs the handlers; returns the flag the first signal sets.
const std::atomic<bool>* InstallDrainSignals();

}  // namespace facefill::cli
