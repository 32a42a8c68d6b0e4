// Keeps a live backfill's leases from running out: renews them every lease_seconds / 3 while it lives.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "facefill/catalog.h"

namespace facefill::pipeline {

// Renews `owner`'s leases every lease_seconds / 3 from construction to destruction, so the leases of a live run
// never run out and a dead run's come back within lease_seconds. Does nothing when owner is empty (no leases).
class LeaseHeartbeat {
 public:
  LeaseHeartbeat(Catalog& catalog, const std::string& owner, int lease_seconds);
  ~LeaseHeartbeat();
  LeaseHeartbeat(const LeaseHeartbeat&) = delete;
  LeaseHeartbeat& operator=(const LeaseHeartbeat&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable stopped_;
  bool stop_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace facefill::pipeline
