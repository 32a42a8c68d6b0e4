// The Redis job queue's state changes under concurrent clients and lost replies, on the real Redis: a cancel is never
// overwritten, a cancelled job never becomes done, a takeover is counted once, and a command whose reply was lost
// and is retried neither loses a job nor counts progress twice.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <latch>
#include <sstream>
#include <thread>

#include "facefill/job_queue.h"
#include "facefill/worker.h"
#include "queue/redis_client.h"
#include "queue/redis_job_queue.h"
#include "test_support.h"

namespace facefill {
namespace {

using namespace std::chrono_literals;

std::string RedisUrl() { return testing::Services()->redis + "/3"; }

// Each test (and each round of one) its own key prefix, so nothing is shared between them.
QueueOptions Prefixed(const std::string& name, std::chrono::seconds visibility = 30s) {
  static std::atomic<int> serial{0};
  QueueOptions o;
  o.prefix = "race:" + name + ":" + std::to_string(getpid()) + ":" + std::to_string(serial++);
  o.visibility_timeout = visibility;
  return o;
}

// A queue on a connection of its own, with the client's fault-injection hooks.
std::unique_ptr<JobQueue> OpenQueue(const QueueOptions& options, redis::ClientOptions client_options = {}) {
  client_options.retry.initial_delay = 10ms;
  auto client = redis::Client::Open(RedisUrl(), client_options);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  if (!client.ok()) return nullptr;
  return NewRedisJobQueue(std::move(client).value(), options);
}

// True for a command that changes a job's status: a hash write naming the status field, or a script.
bool WritesStatus(const std::vector<std::string>& args) {
  if (args.front() == "EVAL" || args.front() == "EVALSHA") return true;
  return args.front() == "HSET" && std::find(args.begin(), args.end(), "status") != args.end();
}

std::string StatusOf(JobQueue& queue, const std::string& id) {
  auto info = queue.Get(id);
  EXPECT_TRUE(info.ok()) << info.status().ToString();
  return info.ok() ? std::string(JobStatusName(info->status)) : "";
}

// A queued job, and queues on which a cancel of it lands just before their first status write: between that
// client's read of the status and its write.
class CancelRace {
 public:
  explicit CancelRace(const std::string& name) : options_(Prefixed(name)), canceller_(OpenQueue(options_)) {
    if (canceller_ == nullptr) return;
    auto id = canceller_->Enqueue("{}");
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (id.ok()) id_ = *id;
  }
  bool ready() const { return canceller_ != nullptr && !id_.empty(); }
  JobQueue& canceller() { return *canceller_; }
  const std::string& id() const { return id_; }
  bool injected() const { return injected_; }

  std::unique_ptr<JobQueue> RacingQueue() {
    redis::ClientOptions hooks;
    hooks.before_command = [this](const std::vector<std::string>& args) {
      if (injected_ || !WritesStatus(args)) return;
      injected_ = true;
      EXPECT_TRUE(canceller_->Cancel(id_).ok());
    };
    return OpenQueue(options_, hooks);
  }

 private:
  QueueOptions options_;
  std::unique_ptr<JobQueue> canceller_;
  std::string id_;
  bool injected_ = false;
};

// A cancel that lands between a take's read of the status and its write must win.
TEST(RedisQueueRaceTest, ACancelJustBeforeTheTakeWritesIsNotOverwritten) {
  ASSERT_NE(testing::Services(), nullptr);
  CancelRace race("take-cancel");
  ASSERT_TRUE(race.ready());
  auto taker = race.RacingQueue();
  ASSERT_NE(taker, nullptr);
  auto taken = taker->Take("w1", 300ms);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_TRUE(race.injected());
  EXPECT_EQ(StatusOf(race.canceller(), race.id()), "cancelled");
  EXPECT_FALSE(taken->has_value()) << "a cancelled job is not handed out";
}

// A cancel that lands between a finish's read of the status and its write must win.
TEST(RedisQueueRaceTest, FinishingNeverTurnsACancelledJobIntoDone) {
  ASSERT_NE(testing::Services(), nullptr);
  CancelRace race("finish-cancel");
  ASSERT_TRUE(race.ready());
  auto taken = race.canceller().Take("w1", 1000ms);
  ASSERT_TRUE(taken.ok() && taken->has_value());
  auto finisher = race.RacingQueue();
  ASSERT_NE(finisher, nullptr);
  ASSERT_TRUE(finisher->Finish(race.id(), true, "").ok());
  EXPECT_TRUE(race.injected());
  EXPECT_EQ(StatusOf(race.canceller(), race.id()), "cancelled");
}

// Takers and cancellers on their own connections, started together, many times: every cancelled job stays cancelled.
TEST(RedisQueueRaceTest, ConcurrentTakesAndCancelsNeverReviveACancelledJob) {
  ASSERT_NE(testing::Services(), nullptr);
  int revived = 0;
  for (int round = 0; round < 300; ++round) {
    const QueueOptions options = Prefixed("take-cancel-stress");
    auto canceller = OpenQueue(options);
    auto taker = OpenQueue(options);
    ASSERT_TRUE(canceller != nullptr && taker != nullptr);
    auto id = canceller->Enqueue("{}");
    ASSERT_TRUE(id.ok());
    std::latch start(2);
    std::thread take([&] {
      start.arrive_and_wait();
      EXPECT_TRUE(taker->Take("w1", 50ms).ok());
    });
    start.arrive_and_wait();
    // Land the cancel at a different point of the take each round: 0 to 1 ms after it starts.
    std::this_thread::sleep_for(std::chrono::microseconds(round % 100 * 10));
    EXPECT_TRUE(canceller->Cancel(*id).ok());
    take.join();
    if (StatusOf(*canceller, *id) != "cancelled") ++revived;
  }
  EXPECT_EQ(revived, 0) << "of 300 jobs cancelled while being taken, " << revived << " ran anyway";
}

// Eight workers take over an abandoned job at the same moment: one takeover, not eight.
TEST(RedisQueueRaceTest, ATakeoverByConcurrentWorkersIsCountedOnce) {
  ASSERT_NE(testing::Services(), nullptr);
  int miscounted = 0;
  for (int round = 0; round < 5; ++round) {
    const QueueOptions options = Prefixed("takeover", 1s);
    auto first = OpenQueue(options);
    ASSERT_NE(first, nullptr);
    auto id = first->Enqueue("{}");
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(first->Take("dies", 1000ms).ok());
    std::this_thread::sleep_for(1100ms);  // past the visibility timeout, without a heartbeat
    constexpr int kWorkers = 8;
    std::vector<std::unique_ptr<JobQueue>> queues;
    for (int i = 0; i < kWorkers; ++i) queues.push_back(OpenQueue(options));
    std::latch start(kWorkers);
    std::vector<std::thread> threads;
    for (int i = 0; i < kWorkers; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        auto taken = queues[i]->Take("survivor-" + std::to_string(i), 1000ms);
        EXPECT_TRUE(taken.ok() && taken->has_value());
      });
    }
    for (auto& t : threads) t.join();
    auto info = first->Get(*id);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->live_workers.size(), static_cast<size_t>(kWorkers));
    if (info->takeovers != 1) ++miscounted;
  }
  EXPECT_EQ(miscounted, 0) << "rounds of 5 where one takeover was counted more than once";
}

// One job's life through two workers; the outcome every lost reply must leave unchanged.
struct Outcome {
  std::string failure;  // empty: as expected
};

Outcome RunJobLife(JobQueue& queue, redis::Client& raw, const std::string& prefix) {
  auto fail = [](std::string why) { return Outcome{std::move(why)}; };
  auto id = queue.Enqueue(R"({"model_id":"m"})");
  if (!id.ok()) return fail("enqueue: " + id.status().ToString());
  auto taken = queue.Take("w1", 500ms);
  if (!taken.ok() || !taken->has_value() || (*taken)->id != *id) return fail("w1 did not take the job");
  if (!queue.SetTotal(*id, 5).ok()) return fail("set total");
  auto first = queue.Report(*id, "w1", JobCounts{2, 1, 1, 0});
  if (!first.ok() || *first != JobStatus::kRunning) return fail("w1's report");
  auto joined = queue.Take("w2", 500ms);
  if (!joined.ok() || !joined->has_value() || (*joined)->id != *id) return fail("w2 did not join the job");
  if (!queue.Report(*id, "w2", JobCounts{3, 2, 1, 0}).ok()) return fail("w2's report");
  if (!queue.Leave(*id, "w2").ok()) return fail("leave");
  if (!queue.Finish(*id, true, "").ok()) return fail("finish");
  auto other = queue.Enqueue("{}");
  if (!other.ok()) return fail("second enqueue");
  if (!queue.Cancel(*other).ok()) return fail("cancel");

  auto info = queue.Get(*id);
  if (!info.ok()) return fail("get");
  std::string counts =
      fmt::format("status {} total {} processed {} faces {} no_faces {} takeovers {}", JobStatusName(info->status),
                  info->total, info->processed, info->faces, info->no_faces, info->takeovers);
  if (counts != "status done total 5 processed 5 faces 3 no_faces 2 takeovers 0") return fail(counts);
  auto cancelled = queue.Get(*other);
  if (!cancelled.ok() || cancelled->status != JobStatus::kCancelled) return fail("the second job is not cancelled");
  auto list = queue.List(10);
  if (!list.ok() || list->size() != 2) return fail("List does not hold exactly the two jobs");
  for (const char* key : {":queue", ":active"}) {
    auto length = raw.Command({"LLEN", prefix + key});
    if (!length.ok() || length->integer != 0) return fail(std::string(key) + " is not empty");
  }
  auto next = queue.Take("w3", 50ms);
  if (!next.ok() || next->has_value()) return fail("a job was handed out twice");
  return {};
}

// Every command of a job's life, in turn, runs on Redis but its reply is lost; the retry must not change the outcome.
TEST(RedisQueueLostReplyTest, EveryStepSurvivesALostReply) {
  ASSERT_NE(testing::Services(), nullptr);
  auto raw = redis::Client::Open(RedisUrl());
  ASSERT_TRUE(raw.ok());
  int commands = 0;
  {
    const QueueOptions options = Prefixed("lost-count");
    redis::ClientOptions counting;
    counting.lose_reply = [&](const std::vector<std::string>&) {
      ++commands;
      return false;
    };
    auto queue = OpenQueue(options, counting);
    ASSERT_NE(queue, nullptr);
    Outcome clean = RunJobLife(*queue, **raw, options.prefix);
    ASSERT_EQ(clean.failure, "") << "without faults";
  }
  ASSERT_GT(commands, 10);
  std::vector<std::string> failures;
  for (int lost = 0; lost < commands; ++lost) {
    const QueueOptions options = Prefixed("lost");
    int seen = 0;
    std::string lost_command;
    redis::ClientOptions faulty;
    faulty.lose_reply = [&](const std::vector<std::string>& args) {
      if (seen++ != lost) return false;
      lost_command = args.front();
      return true;
    };
    auto queue = OpenQueue(options, faulty);
    ASSERT_NE(queue, nullptr);
    Outcome outcome = RunJobLife(*queue, **raw, options.prefix);
    if (!outcome.failure.empty()) {
      failures.push_back(fmt::format("reply {} ({}) lost: {}", lost, lost_command, outcome.failure));
    }
  }
  std::cout << commands << " commands in a job's life, each one's reply lost in turn\n";
  std::string all;
  for (const auto& f : failures) all += f + "\n";
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << commands << " lost replies changed the outcome:\n"
                                << all;
}

// The server cuts a worker's connection while it waits for a job (CLIENT KILL from a second connection): the wait
// resumes on a new connection and the job queued meanwhile is taken.
TEST(RedisQueueLostReplyTest, ATakeWhoseConnectionIsKilledWhileWaitingStillGetsItsJob) {
  ASSERT_NE(testing::Services(), nullptr);
  const QueueOptions options = Prefixed("kill");
  auto taker = OpenQueue(options);
  auto enqueuer = OpenQueue(options);
  auto admin = redis::Client::Open(RedisUrl());
  ASSERT_TRUE(taker != nullptr && enqueuer != nullptr && admin.ok());
  Result<std::optional<JobInfo>> taken = Status::Internal("not taken");
  std::thread take([&] { taken = taker->Take("w-killed", 5000ms); });
  std::string blocked;  // the id of the connection waiting in BLMOVE
  for (int i = 0; i < 200 && blocked.empty(); ++i) {
    std::this_thread::sleep_for(10ms);
    auto clients = (*admin)->Command({"CLIENT", "LIST"});
    ASSERT_TRUE(clients.ok()) << clients.status().ToString();
    std::istringstream lines(clients->str);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("cmd=blmove") == std::string::npos) continue;
      blocked = line.substr(3, line.find(' ') - 3);  // "id=NNN addr=..."
    }
  }
  ASSERT_FALSE(blocked.empty()) << "the taker never waited in BLMOVE";
  auto killed = (*admin)->Command({"CLIENT", "KILL", "ID", blocked});
  ASSERT_TRUE(killed.ok()) << killed.status().ToString();
  EXPECT_EQ(killed->integer, 1);
  auto id = enqueuer->Enqueue("{}");
  ASSERT_TRUE(id.ok());
  take.join();
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  ASSERT_TRUE(taken->has_value()) << "the job queued after the cut was not taken";
  EXPECT_EQ((*taken)->id, *id);
  EXPECT_EQ((*taken)->status, JobStatus::kRunning);
  EXPECT_EQ((*taken)->live_workers, std::vector<std::string>{"w-killed"});
}

}  // namespace
}  // namespace facefill

namespace facefill {
namespace {

// Issue 11's scale-out try-out: two idle workers and one queued job; the second worker used to see the job moved to
// the active list but not yet running, drop it as finished, and idle. Both must get the job, however the two takes
// interleave (repeated, both waiting when the job arrives). The worker that does not move the job off the queue joins
// it when its wait ends, so each round takes one wait: the worker's default poll (1 s), not longer.
TEST(RedisQueueRaceTest, TwoIdleWorkersBothJoinTheFirstQueuedJob) {
  ASSERT_NE(testing::Services(), nullptr);
  const auto wait = WorkerOptions{}.poll;
  for (int round = 0; round < 50; ++round) {
    const QueueOptions options = Prefixed("join");
    auto a = OpenQueue(options), b = OpenQueue(options), producer = OpenQueue(options);
    ASSERT_TRUE(a && b && producer);
    std::optional<JobInfo> got_a, got_b;
    std::thread ta([&] {
      auto t = a->Take("worker-a", wait);
      if (t.ok()) got_a = *t;
    });
    std::thread tb([&] {
      auto t = b->Take("worker-b", wait);
      if (t.ok()) got_b = *t;
    });
    std::this_thread::sleep_for(20ms);
    auto id = producer->Enqueue("{}");
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ta.join();
    tb.join();
    ASSERT_TRUE(got_a.has_value()) << "round " << round << ": worker a idled";
    ASSERT_TRUE(got_b.has_value()) << "round " << round << ": worker b idled";
    EXPECT_EQ(got_a->id, *id);
    EXPECT_EQ(got_b->id, *id);
    EXPECT_EQ(StatusOf(*producer, *id), "running");
  }
}

}  // namespace
}  // namespace facefill
