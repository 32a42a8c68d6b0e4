// LiveProgress: counts and leases from the catalog, the pace from the polls' history, jobs from the queue.
#include "live_progress.h"

#include <algorithm>
#include <ctime>

namespace facefill::web {
namespace {

// Polls closer together than this add no sample: a page opened twice does not make the pace jumpy.
constexpr std::chrono::milliseconds kMinSampleGap{500};

double UnixNow() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

nlohmann::json JobJson(const JobInfo& job, double now) {
  nlohmann::json j = {{"id", job.id},
                      {"status", std::string(JobStatusName(job.status))},
                      {"total", job.total},
                      {"processed", job.processed},
                      {"faces", job.faces},
                      {"no_faces", job.no_faces},
                      {"errors", job.errors},
                      {"workers", job.live_workers},
                      {"takeovers", job.takeovers},
                      {"created_at", job.created_at},
                      {"started_at", job.started_at},
                      {"finished_at", job.finished_at},
                      {"error", job.error},
                      {"percent", nullptr},
                      {"rate", nullptr}};
  if (job.total > 0) j["percent"] = std::min<int64_t>(100, 100 * job.processed / job.total);
  const double end = job.finished_at > 0 ? job.finished_at : now;
  if (job.started_at > 0 && end - job.started_at >= 1) j["rate"] = job.processed / (end - job.started_at);
  return j;
}

}  // namespace

Result<nlohmann::json> LiveProgress::Poll(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  FACEFILL_ASSIGN_OR_RETURN(CatalogStats stats, catalog_.Stats());
  FACEFILL_ASSIGN_OR_RETURN(int64_t leased, catalog_.CountLiveLeases());
  FACEFILL_ASSIGN_OR_RETURN(auto holders, catalog_.LiveLeases());
  const int64_t processed = stats.scanned + stats.errors;
  const int64_t pending = std::max<int64_t>(0, stats.assets - processed);

  // A count that went down (assets marked for rescan, a catalog replaced) starts the history again.
  if (!samples_.empty() && processed < samples_.back().second) samples_.clear();
  if (samples_.empty() || now - samples_.back().first >= kMinSampleGap) samples_.emplace_back(now, processed);
  while (samples_.size() > 2 && now - samples_[1].first >= options_.rate_window) samples_.pop_front();
  nlohmann::json rate = nullptr, eta = nullptr;
  if (samples_.size() >= 2) {
    const double seconds = std::chrono::duration<double>(samples_.back().first - samples_.front().first).count();
    const double per_second = (samples_.back().second - samples_.front().second) / seconds;
    rate = per_second;
    if (per_second > 0) eta = pending / per_second;
  }

  nlohmann::json j = {{"assets", stats.assets},
                      {"scanned", stats.scanned},
                      {"errors", stats.errors},
                      {"pending", pending},
                      {"processed", processed},
                      {"faces", stats.faces},
                      {"no_faces", stats.no_faces},
                      {"errors_by_reason", stats.errors_by_reason},
                      {"leased", leased},
                      {"holders", nlohmann::json::array()},
                      {"rate", rate},
                      {"eta_s", eta},
                      {"queue", queue_ != nullptr},
                      {"jobs", nlohmann::json::array()}};
  const int64_t unix_now = static_cast<int64_t>(std::time(nullptr));
  for (const LeaseHolder& h : holders) {
    j["holders"].push_back(
        {{"owner", h.owner}, {"assets", h.assets}, {"expires_in_s", std::max<int64_t>(0, h.expires_at - unix_now)}});
  }
  bool job_running = false;
  if (queue_ != nullptr) {
    auto jobs = queue_->List(options_.max_jobs);
    if (jobs.ok()) {
      const double unix_seconds = UnixNow();
      for (const JobInfo& job : *jobs) {
        job_running = job_running || job.status == JobStatus::kRunning;
        j["jobs"].push_back(JobJson(job, unix_seconds));
      }
    } else {
      j["queue_error"] = jobs.status().ToString();
    }
  }
  j["running"] = leased > 0 || job_running || (rate.is_number() && rate.get<double>() > 0 && pending > 0);
  return j;
}

}  // namespace facefill::web
