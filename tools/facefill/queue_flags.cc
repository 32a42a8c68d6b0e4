// --queue flag and opening the job queue.
#include "queue_flags.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "facefill/service_settings.h"

namespace facefill::cli {

void AddQueueFlag(CLI::App* app, std::string* url) {
  const char* env = std::getenv("FACEFILL_QUEUE");
  if (env != nullptr && *env != '\0') *url = env;
  app->add_option("--queue", *url,
                  "Redis job queue: redis://[:PASSWORD@]HOST:PORT/DB (default $FACEFILL_QUEUE, else the service's "
                  "REDIS_URL with --service-env; the password may come from FACEFILL_REDIS_PASSWORD or "
                  "FACEFILL_REDIS_PASSWORD_FILE)");
}

std::string QueueUrl(const std::string& url, const std::string& service_env) {
  if (!url.empty() || service_env.empty()) return url;
  auto settings = LoadServiceSettings(service_env);
  return settings.ok() ? settings->redis_url : "";
}

std::unique_ptr<JobQueue> OpenQueueOrLog(const std::string& url) {
  if (url.empty()) {
    spdlog::error("no job queue: give --queue redis://HOST:PORT/DB (or $FACEFILL_QUEUE, or --service-env)");
    return nullptr;
  }
  auto queue = OpenJobQueue(url);
  if (!queue.ok()) {
    spdlog::error("{}", queue.status().ToString());
    return nullptr;
  }
  return std::move(queue).value();
}

}  // namespace facefill::cli
