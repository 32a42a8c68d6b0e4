// JobQueue on Redis. Keys (P = prefix): P:queue (list of queued job ids), P:active (list of taken ones),
// P:jobs (sorted set of every job by creation time), P:job:ID (hash: status, params, counters, times),
// P:job:ID:workers (sorted set: worker -> heartbeat deadline in Unix ms).
#include <fmt/format.h>

#include <chrono>
#include <map>
#include <random>

#include "facefill/job_queue.h"
#include "redis_client.h"

namespace facefill {
namespace {

using redis::Reply;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Seconds(int64_t ms) { return fmt::format("{:.3f}", ms / 1000.0); }

int64_t ToInt(const std::string& s) {
  try {
    return s.empty() ? 0 : std::stoll(s);
  } catch (const std::exception&) {
    return 0;
  }
}

double ToDouble(const std::string& s) {
  try {
    return s.empty() ? 0 : std::stod(s);
  } catch (const std::exception&) {
    return 0;
  }
}

class RedisJobQueue final : public JobQueue {
 public:
  RedisJobQueue(std::unique_ptr<redis::Client> client, QueueOptions options)
      : client_(std::move(client)), options_(std::move(options)), p_(options_.prefix) {}

  Result<std::string> Enqueue(const std::string& params_json) override {
    std::random_device random;
    const int64_t now = NowMs();
    const std::string id = fmt::format("{}-{:06x}", now, random() & 0xffffff);
    FACEFILL_RETURN_IF_ERROR(
        Do({"HSET", Job(id), "id", id, "status", "queued", "params", params_json, "created_at", Seconds(now)}));
    FACEFILL_RETURN_IF_ERROR(Do({"ZADD", p_ + ":jobs", std::to_string(now), id}));
    FACEFILL_RETURN_IF_ERROR(Do({"LPUSH", p_ + ":queue", id}));
    return id;
  }

  Result<std::optional<JobInfo>> Take(const std::string& worker, std::chrono::milliseconds wait) override {
    auto active = client_->Command({"LRANGE", p_ + ":active", "0", "-1"});
    if (!active.ok()) return active.status();
    // Taken jobs are pushed on the left: the oldest is last.
    for (auto it = active->elements.rbegin(); it != active->elements.rend(); ++it) {
      const std::string& id = it->str;
      auto status = Field(id, "status");
      if (!status.ok()) return status.status();
      if (*status != "running") {
        FACEFILL_RETURN_IF_ERROR(Do({"LREM", p_ + ":active", "0", id}));  // finished or gone: tidy up
        continue;
      }
      FACEFILL_RETURN_IF_ERROR(Join(id, worker));
      auto info = Get(id);
      if (!info.ok()) return info.status();
      return std::optional<JobInfo>(std::move(info).value());
    }
    const std::string timeout = fmt::format("{:.3f}", std::max<int64_t>(1, wait.count()) / 1000.0);
    auto moved = client_->BlockingCommand({"BLMOVE", p_ + ":queue", p_ + ":active", "RIGHT", "LEFT", timeout},
                                          static_cast<int>(wait.count()));
    if (!moved.ok()) return moved.status();
    if (moved->nil()) return std::optional<JobInfo>();
    const std::string id = moved->str;
    auto status = Field(id, "status");
    if (!status.ok()) return status.status();
    if (*status != "queued") {  // cancelled while queued
      FACEFILL_RETURN_IF_ERROR(Do({"LREM", p_ + ":active", "0", id}));
      return std::optional<JobInfo>();
    }
    FACEFILL_RETURN_IF_ERROR(Do({"HSET", Job(id), "status", "running", "started_at", Seconds(NowMs())}));
    FACEFILL_RETURN_IF_ERROR(Join(id, worker));
    auto info = Get(id);
    if (!info.ok()) return info.status();
    return std::optional<JobInfo>(std::move(info).value());
  }

  Result<std::string> Report(const std::string& id, const std::string& worker, const JobCounts& d) override {
    FACEFILL_RETURN_IF_ERROR(Heartbeat(id, worker));
    const std::pair<const char*, int64_t> counters[] = {
        {"processed", d.processed}, {"faces", d.faces}, {"no_faces", d.no_faces}, {"errors", d.errors}};
    for (const auto& [field, delta] : counters) {
      if (delta != 0) FACEFILL_RETURN_IF_ERROR(Do({"HINCRBY", Job(id), field, std::to_string(delta)}));
    }
    return Field(id, "status");
  }

  Status Leave(const std::string& id, const std::string& worker) override { return Do({"ZREM", Workers(id), worker}); }

  Status Finish(const std::string& id, bool ok, const std::string& error) override {
    auto status = Field(id, "status");
    if (!status.ok()) return status.status();
    if (*status == "running" || *status == "queued") {
      std::vector<std::string> args = {"HSET",        Job(id),         "status", ok ? "done" : "failed",
                                       "finished_at", Seconds(NowMs())};
      if (!ok) args.insert(args.end(), {"error", error});
      FACEFILL_RETURN_IF_ERROR(Do(args));
    }
    return Do({"LREM", p_ + ":active", "0", id});
  }

  Status Cancel(const std::string& id) override {
    auto status = Field(id, "status");
    if (!status.ok()) return status.status();
    if (status->empty()) return Status(StatusCode::kNotFound, "no job " + id);
    if (*status == "queued" || *status == "running") {
      FACEFILL_RETURN_IF_ERROR(Do({"HSET", Job(id), "status", "cancelled", "finished_at", Seconds(NowMs())}));
    }
    FACEFILL_RETURN_IF_ERROR(Do({"LREM", p_ + ":queue", "0", id}));
    return Do({"LREM", p_ + ":active", "0", id});
  }

  Result<JobInfo> Get(const std::string& id) override {
    auto all = client_->Command({"HGETALL", Job(id)});
    if (!all.ok()) return all.status();
    if (all->elements.empty()) return Status(StatusCode::kNotFound, "no job " + id);
    std::map<std::string, std::string> h;
    for (size_t i = 0; i + 1 < all->elements.size(); i += 2) h[all->elements[i].str] = all->elements[i + 1].str;
    JobInfo info;
    info.id = id;
    info.status = h["status"];
    info.params = h["params"];
    info.total = ToInt(h["total"]);
    info.processed = ToInt(h["processed"]);
    info.faces = ToInt(h["faces"]);
    info.no_faces = ToInt(h["no_faces"]);
    info.errors = ToInt(h["errors"]);
    info.takeovers = ToInt(h["takeovers"]);
    info.created_at = ToDouble(h["created_at"]);
    info.started_at = ToDouble(h["started_at"]);
    info.finished_at = ToDouble(h["finished_at"]);
    info.error = h["error"];
    auto live = client_->Command({"ZRANGEBYSCORE", Workers(id), std::to_string(NowMs()), "+inf"});
    if (!live.ok()) return live.status();
    for (const auto& w : live->elements) info.live_workers.push_back(w.str);
    return info;
  }

  Result<std::vector<JobInfo>> List(int limit) override {
    auto ids = client_->Command({"ZREVRANGE", p_ + ":jobs", "0", std::to_string(std::max(1, limit) - 1)});
    if (!ids.ok()) return ids.status();
    std::vector<JobInfo> jobs;
    for (const auto& id : ids->elements) {
      auto info = Get(id.str);
      if (info.ok()) jobs.push_back(std::move(info).value());
    }
    return jobs;
  }

  Status SetTotal(const std::string& id, int64_t total) override {
    return Do({"HSETNX", Job(id), "total", std::to_string(total)});
  }

 private:
  std::string Job(const std::string& id) const { return p_ + ":job:" + id; }
  std::string Workers(const std::string& id) const { return Job(id) + ":workers"; }

  Status Do(const std::vector<std::string>& args) {
    auto reply = client_->Command(args);
    return reply.ok() ? Status::Ok() : reply.status();
  }

  Result<std::string> Field(const std::string& id, const std::string& field) {
    auto reply = client_->Command({"HGET", Job(id), field});
    if (!reply.ok()) return reply.status();
    return reply->str;
  }

  Status Heartbeat(const std::string& id, const std::string& worker) {
    const int64_t deadline =
        NowMs() + std::chrono::duration_cast<std::chrono::milliseconds>(options_.visibility_timeout).count();
    return Do({"ZADD", Workers(id), std::to_string(deadline), worker});
  }

  // Joins a running job; when every earlier worker has stopped heartbeating, this is a takeover.
  Status Join(const std::string& id, const std::string& worker) {
    FACEFILL_RETURN_IF_ERROR(Do({"ZREMRANGEBYSCORE", Workers(id), "-inf", "(" + std::to_string(NowMs())}));
    auto live = client_->Command({"ZCARD", Workers(id)});
    if (!live.ok()) return live.status();
    auto had = Field(id, "had_workers");
    if (!had.ok()) return had.status();
    if (live->integer == 0 && *had == "1") FACEFILL_RETURN_IF_ERROR(Do({"HINCRBY", Job(id), "takeovers", "1"}));
    FACEFILL_RETURN_IF_ERROR(Do({"HSET", Job(id), "had_workers", "1"}));
    return Heartbeat(id, worker);
  }

  std::unique_ptr<redis::Client> client_;
  QueueOptions options_;
  std::string p_;
};

}  // namespace

Result<std::unique_ptr<JobQueue>> OpenJobQueue(const std::string& url, const QueueOptions& options) {
  auto client = redis::Client::Open(url);
  if (!client.ok()) return client.status();
  return std::unique_ptr<JobQueue>(new RedisJobQueue(std::move(client).value(), options));
}

}  // namespace facefill
