// JobQueue on Redis. Keys (P = prefix): P:queue (list of queued job ids, oldest on the right), P:active (list of
// taken ones), P:jobs (sorted set of every job by creation time), P:job:ID (hash: status, params, counters, times),
// P:job:ID:workers (sorted set: worker -> heartbeat deadline in Unix ms), P:job:ID:reports (hash: reporter -> last
// report applied), P:taking:W (list: jobs worker W moved off the queue and has not claimed yet), P:takers (sorted
// set: worker -> when its P:taking:W counts as abandoned).
//
// Every state change is one Lua script, so it is atomic (a cancel cannot land between a read and a write), and safe
// to run twice (the client retries a command whose reply was lost): Enqueue is keyed by the job id, a take by the
// worker, a report by its sequence number; Finish, Cancel, SetTotal, Leave and heartbeats set rather than add.
#include "redis_job_queue.h"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <mutex>
#include <random>

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

// Shared by the scripts: ARGV[1] is the key prefix. The scripts name keys they derive from job ids, so they run on
// a single Redis (not a cluster), as the queue always has.
constexpr const char* kScriptPrelude = R"lua(
local P = ARGV[1]
local function job(id) return P .. ':job:' .. id end
local function workers(id) return job(id) .. ':workers' end
-- Joins a running job: lapsed workers are dropped; joining a job that had workers and has none left is a takeover.
local function join(id, worker, now_text, deadline)
  redis.call('ZREMRANGEBYSCORE', workers(id), '-inf', '(' .. now_text)
  if redis.call('ZCARD', workers(id)) == 0 and redis.call('HGET', job(id), 'had_workers') == '1' then
    redis.call('HINCRBY', job(id), 'takeovers', 1)
  end
  redis.call('HSET', job(id), 'had_workers', '1')
  redis.call('ZADD', workers(id), deadline, worker)
end
)lua";

// ARGV: prefix, id, params, created_at (s), created (ms). Returns 1 when queued, 0 when a retry found it queued.
constexpr const char* kEnqueue = R"lua(
local id = ARGV[2]
if redis.call('ZADD', P .. ':jobs', 'NX', ARGV[5], id) == 0 then return 0 end
redis.call('HSET', job(id), 'id', id, 'status', 'queued', 'params', ARGV[3], 'created_at', ARGV[4])
redis.call('LPUSH', P .. ':queue', id)
return 1
)lua";

// ARGV: prefix, worker, now (ms), heartbeat deadline (ms), now (s). Returns the id of the job joined, or false.
// 1. Jobs this worker moved off the queue (its BLMOVE, a retried one included) are claimed: the oldest queued one
//    starts running, the others go back to the head of the queue. 2. Jobs moved off the queue by a worker that died
//    before claiming them go back to the head of the queue. 3. The worker joins the running job it already belongs
//    to (a retried take), else the one it just claimed, else the oldest running one; finished ones are tidied away.
constexpr const char* kTake = R"lua(
local worker, now_text, deadline = ARGV[2], ARGV[3], ARGV[4]
local now = tonumber(now_text)
local queue, active, takers = P .. ':queue', P .. ':active', P .. ':takers'
local taking = P .. ':taking:' .. worker
local claimed = nil
while claimed == nil do
  local id = redis.call('RPOP', taking)
  if not id then break end
  if redis.call('HGET', job(id), 'status') == 'queued' then
    claimed = id
    redis.call('HSET', job(id), 'status', 'running', 'started_at', ARGV[5])
    redis.call('LPUSH', active, id)
  end
end
for _, id in ipairs(redis.call('LRANGE', taking, 0, -1)) do
  if redis.call('HGET', job(id), 'status') == 'queued' then redis.call('RPUSH', queue, id) end
end
redis.call('DEL', taking)
redis.call('ZREM', takers, worker)
for _, other in ipairs(redis.call('ZRANGEBYSCORE', takers, '-inf', '(' .. now_text)) do
  local list = P .. ':taking:' .. other
  for _, id in ipairs(redis.call('LRANGE', list, 0, -1)) do redis.call('RPUSH', queue, id) end
  redis.call('DEL', list)
  redis.call('ZREM', takers, other)
end
local running = {}
local ids = redis.call('LRANGE', active, 0, -1)
for i = #ids, 1, -1 do
  local id = ids[i]
  if redis.call('HGET', job(id), 'status') == 'running' then
    local score = redis.call('ZSCORE', workers(id), worker)
    if score and tonumber(score) >= now then
      join(id, worker, now_text, deadline)
      return id
    end
    table.insert(running, id)
  else
    redis.call('LREM', active, 0, id)
  end
end
local chosen = claimed or running[1]
if chosen == nil then return false end
join(chosen, worker, now_text, deadline)
return chosen
)lua";

// ARGV: prefix, id, worker, heartbeat deadline (ms), reporter, sequence, processed, faces, no_faces, errors.
// Renews the heartbeat, adds the counts once per (reporter, sequence), returns the job's status (false: no job).
constexpr const char* kReport = R"lua(
local id = ARGV[2]
local status = redis.call('HGET', job(id), 'status')
if not status then return false end
redis.call('ZADD', workers(id), ARGV[4], ARGV[3])
local reports = job(id) .. ':reports'
local last = redis.call('HGET', reports, ARGV[5])
if not last or tonumber(last) < tonumber(ARGV[6]) then
  local fields = {'processed', 'faces', 'no_faces', 'errors'}
  for i, field in ipairs(fields) do
    local delta = tonumber(ARGV[6 + i])
    if delta ~= 0 then redis.call('HINCRBY', job(id), field, delta) end
  end
  redis.call('HSET', reports, ARGV[5], ARGV[6])
end
return status
)lua";

// ARGV: prefix, id, final status (done or failed), finished_at (s), error. A queued or running job takes the final
// status; a cancelled or finished one keeps its own. Returns the status before, false when there is no such job.
constexpr const char* kFinish = R"lua(
local id = ARGV[2]
local status = redis.call('HGET', job(id), 'status')
if status == 'queued' or status == 'running' then
  redis.call('HSET', job(id), 'status', ARGV[3], 'finished_at', ARGV[4])
  if ARGV[3] == 'failed' then redis.call('HSET', job(id), 'error', ARGV[5]) end
end
redis.call('LREM', P .. ':queue', 0, id)
redis.call('LREM', P .. ':active', 0, id)
return status
)lua";

// ARGV: prefix, id, finished_at (s). Cancels a queued or running job. Returns the status before (false: no job).
constexpr const char* kCancel = R"lua(
local id = ARGV[2]
local status = redis.call('HGET', job(id), 'status')
if not status then return false end
if status == 'queued' or status == 'running' then
  redis.call('HSET', job(id), 'status', 'cancelled', 'finished_at', ARGV[3])
end
redis.call('LREM', P .. ':queue', 0, id)
redis.call('LREM', P .. ':active', 0, id)
return status
)lua";

std::string Script(const char* body) { return std::string(kScriptPrelude) + body; }

class RedisJobQueue final : public JobQueue {
 public:
  RedisJobQueue(std::unique_ptr<redis::Client> client, QueueOptions options)
      : client_(std::move(client)), options_(std::move(options)), p_(options_.prefix) {
    std::random_device random;
    reporter_ = fmt::format("{:08x}{:08x}", random(), random());
  }

  Result<std::string> Enqueue(const std::string& params_json) override {
    std::random_device random;
    const int64_t now = NowMs();
    const std::string id = fmt::format("{}-{:06x}", now, random() & 0xffffff);
    FACEFILL_RETURN_IF_ERROR(Run(kEnqueue, {id, params_json, Seconds(now), std::to_string(now)}).status());
    return id;
  }

  Result<std::optional<JobInfo>> Take(const std::string& worker, std::chrono::milliseconds wait) override {
    const auto give_up = std::chrono::steady_clock::now() + wait;
    while (true) {
      const int64_t now = NowMs();
      FACEFILL_ASSIGN_OR_RETURN(Reply taken, Run(kTake, {worker, std::to_string(now), Deadline(now), Seconds(now)}));
      if (!taken.nil()) {
        FACEFILL_ASSIGN_OR_RETURN(JobInfo info, Get(taken.str));
        return std::optional<JobInfo>(std::move(info));
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::optional<JobInfo>();
      // Wait for a job on the queue, moving it to this worker's own list: a move whose reply is lost (or repeated by
      // a retry) leaves the job there, where the next take script claims it, or puts it back should this worker die.
      const std::string abandoned = std::to_string(NowMs() + left.count() + VisibilityMs());
      FACEFILL_RETURN_IF_ERROR(client_->Command({"ZADD", p_ + ":takers", abandoned, worker}).status());
      FACEFILL_RETURN_IF_ERROR(client_
                                   ->BlockingCommand({"BLMOVE", p_ + ":queue", p_ + ":taking:" + worker, "RIGHT",
                                                      "LEFT", fmt::format("{:.3f}", left.count() / 1000.0)},
                                                     static_cast<int>(left.count()))
                                   .status());
    }
  }

  Result<JobStatus> Report(const std::string& id, const std::string& worker, const JobCounts& d) override {
    int64_t sequence;
    {
      std::lock_guard lock(mutex_);
      sequence = ++report_sequence_[id + '\n' + worker];
    }
    FACEFILL_ASSIGN_OR_RETURN(
        Reply reply, Run(kReport, {id, worker, Deadline(NowMs()), reporter_ + ":" + worker, std::to_string(sequence),
                                   std::to_string(d.processed), std::to_string(d.faces), std::to_string(d.no_faces),
                                   std::to_string(d.errors)}));
    if (reply.nil()) return Status::NotFound("no job " + id);
    return ParseStatus(id, reply.str);
  }

  Status Leave(const std::string& id, const std::string& worker) override {
    return client_->Command({"ZREM", Workers(id), worker}).status();
  }

  Status Finish(const std::string& id, bool ok, const std::string& error) override {
    return Run(kFinish, {id, ok ? "done" : "failed", Seconds(NowMs()), error}).status();
  }

  Status Cancel(const std::string& id) override {
    FACEFILL_ASSIGN_OR_RETURN(Reply before, Run(kCancel, {id, Seconds(NowMs())}));
    if (before.nil()) return Status::NotFound("no job " + id);
    return Status::Ok();
  }

  Result<JobInfo> Get(const std::string& id) override {
    FACEFILL_ASSIGN_OR_RETURN(Reply all, client_->Command({"HGETALL", Job(id)}));
    if (all.elements.empty()) return Status::NotFound("no job " + id);
    std::map<std::string, std::string> h;
    for (size_t i = 0; i + 1 < all.elements.size(); i += 2) h[all.elements[i].str] = all.elements[i + 1].str;
    JobInfo info;
    info.id = id;
    FACEFILL_ASSIGN_OR_RETURN(info.status, ParseStatus(id, h["status"]));
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
    FACEFILL_ASSIGN_OR_RETURN(Reply live,
                              client_->Command({"ZRANGEBYSCORE", Workers(id), std::to_string(NowMs()), "+inf"}));
    for (const auto& w : live.elements) info.live_workers.push_back(w.str);
    return info;
  }

  Result<std::vector<JobInfo>> List(int limit) override {
    FACEFILL_ASSIGN_OR_RETURN(
        Reply ids, client_->Command({"ZREVRANGE", p_ + ":jobs", "0", std::to_string(std::max(1, limit) - 1)}));
    std::vector<JobInfo> jobs;
    for (const auto& id : ids.elements) {
      auto info = Get(id.str);
      if (info.ok()) jobs.push_back(std::move(info).value());
    }
    return jobs;
  }

  Status SetTotal(const std::string& id, int64_t total) override {
    return client_->Command({"HSETNX", Job(id), "total", std::to_string(total)}).status();
  }

 private:
  std::string Job(const std::string& id) const { return p_ + ":job:" + id; }
  std::string Workers(const std::string& id) const { return Job(id) + ":workers"; }
  int64_t VisibilityMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(options_.visibility_timeout).count();
  }
  std::string Deadline(int64_t now_ms) const { return std::to_string(now_ms + VisibilityMs()); }

  // Runs one of the scripts above with the prefix as ARGV[1].
  Result<Reply> Run(const char* body, std::vector<std::string> args) {
    args.insert(args.begin(), p_);
    return client_->Eval(Script(body), {}, args);
  }

  static Result<JobStatus> ParseStatus(const std::string& id, const std::string& name) {
    auto status = ParseJobStatus(name);
    if (!status) return Status::QueueError("job " + id + " has no valid status ('" + name + "')");
    return *status;
  }

  std::unique_ptr<redis::Client> client_;
  QueueOptions options_;
  std::string p_;
  std::string reporter_;  // random per queue: a worker id reused by a later process starts its sequence afresh
  std::mutex mutex_;
  std::map<std::string, int64_t> report_sequence_;  // job + worker -> the last report's sequence number
};

}  // namespace

std::unique_ptr<JobQueue> NewRedisJobQueue(std::unique_ptr<redis::Client> client, const QueueOptions& options) {
  return std::make_unique<RedisJobQueue>(std::move(client), options);
}

Result<std::unique_ptr<JobQueue>> OpenJobQueue(const std::string& url, const QueueOptions& options) {
  auto client = redis::Client::Open(url);
  if (!client.ok()) return client.status();
  return NewRedisJobQueue(std::move(client).value(), options);
}

}  // namespace facefill
