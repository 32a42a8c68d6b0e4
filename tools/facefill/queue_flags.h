// --queue for `worker` and `jobs`: the Redis job queue URL.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "facefill/job_queue.h"

namespace facefill::cli {

// Adds --queue (default $FACEFILL_QUEUE) to `app`.
void AddQueueFlag(CLI::App* app, std::string* url);

// The queue to open: `url` when given, else the service's REDIS_URL when `service_env` (--service-env) is set.
std::string QueueUrl(const std::string& url, const std::string& service_env);

// Opens the queue; prints the error and returns null on failure.
std::unique_ptr<JobQueue> OpenQueueOrLog(const std::string& url);

}  // namespace facefill::cli
