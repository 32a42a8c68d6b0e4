// --queue flag and opening the job queue.
#include "queue_flags.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace facefill::cli {

void AddQueueFlag(CLI::App* app, std::string* url) {
  const char* env = std::getenv("FACEFILL_QUEUE");
  if (env != nullptr && *env != '\0') *url = env;
  auto* option = app->add_option("--queue", *url,
                                 "Redis job queue: redis://[:PASSWORD@]HOST:PORT/DB (default $FACEFILL_QUEUE; the "
                                 "password may come from FACEFILL_REDIS_PASSWORD or FACEFILL_REDIS_PASSWORD_FILE)");
  if (url->empty()) option->required();
}

std::unique_ptr<JobQueue> OpenQueueOrLog(const std::string& url) {
  auto queue = OpenJobQueue(url);
  if (!queue.ok()) {
    spdlog::error("{}", queue.status().ToString());
    return nullptr;
  }
  return std::move(queue).value();
}

}  // namespace facefill::cli
