// LeaseHeartbeat: a thread renewing one owner's leases until the run ends.
#include "lease_heartbeat.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "thread_boundary.h"

namespace facefill::pipeline {

LeaseHeartbeat::LeaseHeartbeat(Catalog& catalog, const std::string& owner, int lease_seconds) {
  if (owner.empty()) return;
  thread_ = std::thread([this, &catalog, owner, lease_seconds] {
    const auto period = std::chrono::milliseconds(std::max(1, lease_seconds * 1000 / 3));
    std::unique_lock lock(mutex_);
    while (!stopped_.wait_for(lock, period, [&] { return stop_; })) {
      lock.unlock();
      // Best effort: when the database is away the writer's next commit reports it.
      Status renewed = CatchEscapes("lease heartbeat", [&] { return catalog.RenewLeases(owner, lease_seconds); });
      if (!renewed.ok()) spdlog::warn("renewing the leases of {} failed: {}", owner, renewed.ToString());
      lock.lock();
    }
  });
}

LeaseHeartbeat::~LeaseHeartbeat() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stopped_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace facefill::pipeline
