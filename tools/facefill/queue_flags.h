// --queue for `worker` and `jobs`: the Redis job queue URL.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "facefill/job_queue.h"

namespace facefill::cli {

// Adds --queue (default $FACEFILL_QUEUE) to `app`, mandatory when the variable is unset.
void AddQueueFlag(CLI::App* app, std::string* url);

// Opens the queue; prints the error and returns null on failure.
std::unique_ptr<JobQueue> OpenQueueOrLog(const std::string& url);

}  // namespace facefill::cli
