// The Redis job queue and `facefill worker` processes on a real PostgreSQL + Redis: jobs are shared, cancelled and
// taken over; a Redis that goes away and comes back; three worker processes over a 1,000-image corpus with one
// killed (-9) mid-batch still scan every asset exactly once.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <pqxx/pqxx>
#include <thread>

#include "facefill/corpus.h"
#include "facefill/job_queue.h"
#include "facefill/search.h"
#include "facefill/stores.h"
#include "test_support.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::FreshPostgresDatabase;
using testing::SharedDir;
using testing::TempDir;

// Each test its own key prefix, so tests running side by side do not see each other's jobs.
QueueOptions Prefixed(const std::string& name, std::chrono::seconds visibility = 30s) {
  QueueOptions o;
  o.prefix = "test:" + name + ":" + std::to_string(getpid());
  o.visibility_timeout = visibility;
  return o;
}

std::unique_ptr<JobQueue> Open(const std::string& url, const QueueOptions& options) {
  auto queue = OpenJobQueue(url, options);
  EXPECT_TRUE(queue.ok()) << queue.status().ToString();
  return queue.ok() ? std::move(queue).value() : nullptr;
}

TEST(JobQueueTest, WorkersShareARunningJobAndItsProgressAddsUp) {
  ASSERT_NE(testing::Services(), nullptr);
  auto queue = Open(testing::Services()->redis + "/1", Prefixed("share"));
  ASSERT_NE(queue, nullptr);
  auto id = queue->Enqueue(R"({"model_id":"m"})");
  ASSERT_TRUE(id.ok());
  auto queued = queue->Get(*id);
  ASSERT_TRUE(queued.ok());
  EXPECT_EQ(queued->status, JobStatus::kQueued);

  auto first = queue->Take("w1", 1000ms);
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->id, *id);
  EXPECT_EQ((*first)->status, JobStatus::kRunning);
  auto second = queue->Take("w2", 1000ms);
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->id, *id) << "a second worker joins the running job";

  ASSERT_TRUE(queue->SetTotal(*id, 10).ok());
  ASSERT_TRUE(queue->SetTotal(*id, 99).ok());  // only the first counts
  ASSERT_TRUE(queue->Report(*id, "w1", JobCounts{4, 7, 1, 0}).ok());
  auto status = queue->Report(*id, "w2", JobCounts{6, 5, 0, 1});
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, JobStatus::kRunning);
  auto info = queue->Get(*id);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->total, 10);
  EXPECT_EQ(info->processed, 10);
  EXPECT_EQ(info->faces, 12);
  EXPECT_EQ(info->errors, 1);
  EXPECT_EQ(info->live_workers.size(), 2u);

  ASSERT_TRUE(queue->Finish(*id, true, "").ok());
  info = queue->Get(*id);
  EXPECT_EQ(info->status, JobStatus::kDone);
  EXPECT_GT(info->finished_at, 0);
  auto next = queue->Take("w1", 100ms);
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value()) << "nothing left to take";
  auto list = queue->List(10);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
}

TEST(JobQueueTest, CancelledJobsAreNotTakenAndRunningOnesReportIt) {
  ASSERT_NE(testing::Services(), nullptr);
  auto queue = Open(testing::Services()->redis + "/1", Prefixed("cancel"));
  ASSERT_NE(queue, nullptr);
  auto queued = queue->Enqueue("{}");
  auto running = queue->Enqueue("{}");
  ASSERT_TRUE(queued.ok() && running.ok());
  auto taken = queue->Take("w1", 1000ms);  // the older one
  ASSERT_TRUE(taken.ok() && taken->has_value());
  EXPECT_EQ((*taken)->id, *queued);
  ASSERT_TRUE(queue->Cancel(*running).ok());  // still queued: never handed out
  ASSERT_TRUE(queue->Cancel(*queued).ok());   // running: its worker sees it at the next report
  auto status = queue->Report(*queued, "w1", JobCounts{});
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, JobStatus::kCancelled);
  auto next = queue->Take("w2", 200ms);
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());
  EXPECT_EQ(queue->Cancel("no-such-job").code(), StatusCode::kNotFound);
}

TEST(JobQueueTest, AJobWhoseWorkersStoppedHeartbeatingIsTakenOver) {
  ASSERT_NE(testing::Services(), nullptr);
  auto queue = Open(testing::Services()->redis + "/1", Prefixed("takeover", 1s));
  ASSERT_NE(queue, nullptr);
  auto id = queue->Enqueue("{}");
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(queue->Take("dies", 1000ms).ok());
  std::this_thread::sleep_for(1300ms);  // longer than the visibility timeout, without a heartbeat
  auto info = queue->Get(*id);
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->live_workers.empty());
  auto taken = queue->Take("survivor", 1000ms);
  ASSERT_TRUE(taken.ok() && taken->has_value());
  EXPECT_EQ((*taken)->id, *id);
  EXPECT_EQ((*taken)->takeovers, 1);
  EXPECT_EQ((*taken)->live_workers, std::vector<std::string>{"survivor"});
}

// A Redis of our own that the test stops and starts again on the same port.
class PrivateRedis {
 public:
  PrivateRedis() : port_(20000 + static_cast<int>(getpid() % 20000)) {}
  ~PrivateRedis() { Stop(); }
  bool Start() {
    pid_ = testing::Spawn("/usr/bin/redis-server",
                          {"--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"});
    for (int i = 0; i < 100; ++i) {
      if (OpenJobQueue(url(), Prefixed("probe")).ok()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  void Stop() {
    if (pid_ <= 0) return;
    testing::Kill(pid_);
    testing::WaitExit(pid_);
    pid_ = -1;
  }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }

 private:
  int port_;
  pid_t pid_ = -1;
};

TEST(JobQueueTest, ARedisThatGoesAwayIsRetriedAndThenAClearError) {
  PrivateRedis redis;
  ASSERT_TRUE(redis.Start());
  auto queue = Open(redis.url(), Prefixed("gone"));
  ASSERT_NE(queue, nullptr);
  auto id = queue->Enqueue("{}");
  ASSERT_TRUE(id.ok());

  // Down for a second, then back (empty: it kept nothing): the call in flight reconnects and succeeds.
  redis.Stop();
  std::thread restart([&] {
    std::this_thread::sleep_for(1s);
    redis.Start();
  });
  auto again = queue->Enqueue("{}");
  restart.join();
  EXPECT_TRUE(again.ok()) << again.status().ToString();

  // Gone for good: every retry fails, and the error says so.
  redis.Stop();
  auto start = std::chrono::steady_clock::now();
  auto lost = queue->Enqueue("{}");
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(lost.status().message().find("127.0.0.1"), std::string::npos) << lost.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s) << "retries are bounded";
}

int64_t Query(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  return txn.exec1(sql)[0].as<int64_t>();
}

TEST(WorkerProcessesTest, ThreeWorkersScanA1000ImageCorpusOnceEvenWhenOneIsKilled) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
  FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  ASSERT_NE(testing::Services(), nullptr);
  TempDir dir;
  CorpusOptions corpus;
  corpus.count = 1000;
  corpus.width = 640;
  corpus.height = 480;
  corpus.jpeg_quality = 85;
  corpus.seed = 11;
  auto generated = GenerateCorpus({SharedDir() / "images"}, {}, dir / "corpus", corpus);
  ASSERT_TRUE(generated.ok()) << generated.status().ToString();
  ASSERT_EQ(generated->written, 1000);

  const std::string db = FreshPostgresDatabase("workers");
  const std::string redis = testing::Services()->redis + "/2";
  ASSERT_EQ(
      testing::WaitExit(testing::Spawn(FACEFILL_CLI, {"scan", (dir / "corpus").string(), "--db", db, "--standalone"})),
      0);
  ASSERT_EQ(
      testing::WaitExit(testing::Spawn(FACEFILL_CLI, {"backfill", "--db", db, "--queue", redis}, dir / "enqueue.log")),
      0);

  auto worker = [&](const std::string& name) {
    return testing::Spawn(
        FACEFILL_CLI,
        {"worker", "--db", db, "--queue", redis, "--exit-when-idle", "--worker-id", name, "--inference-threads", "1",
         "--decode-threads", "1", "--assets-per-lease", "4", "--lease-seconds", "15", "--visibility-timeout", "5"},
        dir / (name + ".log"));
  };
  pid_t w1 = worker("w1"), w2 = worker("w2"), w3 = worker("w3");

  // Kill w2 while it holds leases on assets it has not committed, once the run is well under way.
  std::vector<int64_t> orphaned;
  const auto deadline = std::chrono::steady_clock::now() + 300s;
  while (orphaned.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    if (Query(db, "SELECT COUNT(*) FROM facefill.scan_status WHERE status <> 'pending'") < 250) continue;
    pqxx::connection conn(db);
    pqxx::work txn(conn);
    // Lock w2's leased rows while it is killed, so it cannot commit them in between.
    auto leased = txn.exec(
        "SELECT asset_id FROM facefill.scan_status WHERE lease_owner = 'w2' AND status = 'pending' FOR UPDATE");
    if (leased.empty()) continue;
    testing::Kill(w2);
    for (const auto& r : leased) orphaned.push_back(r[0].as<int64_t>());
  }
  ASSERT_FALSE(orphaned.empty()) << "w2 never held a lease";
  EXPECT_EQ(testing::WaitExit(w2), 128 + SIGKILL);
  EXPECT_EQ(testing::WaitExit(w1), 0);
  EXPECT_EQ(testing::WaitExit(w3), 0);

  // Every asset scanned, each exactly once; w2's orphaned assets finished by the others.
  EXPECT_EQ(Query(db, "SELECT COUNT(*) FROM image_assets"), 1000);
  EXPECT_EQ(Query(db, "SELECT COUNT(*) FROM facefill.scan_status WHERE status IN ('done', 'no_faces')"), 1000);
  EXPECT_EQ(Query(db, "SELECT MAX(scan_count) FROM facefill.scan_status"), 1);
  EXPECT_EQ(Query(db, "SELECT COUNT(*) FROM facefill.scan_status WHERE lease_owner IS NOT NULL"), 0);
  std::string ids;
  for (int64_t id : orphaned) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  EXPECT_EQ(Query(db,
                  "SELECT COUNT(*) FROM facefill.scan_status WHERE status IN ('done', 'no_faces') AND "
                  "asset_id IN (" +
                      ids + ")"),
            static_cast<int64_t>(orphaned.size()));
  // No duplicate or missing faces: exactly the faces one embedded (SQLite) backfill of the same corpus stores. Face
  // ids are derived from asset id, box and model, and both catalogs number the assets in scan order.
  EXPECT_EQ(Query(db, "SELECT COUNT(*) FROM face_instances"),
            Query(db, "SELECT SUM(face_count) FROM facefill.scan_status"));
  const std::string reference = "sqlite:" + (dir / "reference.db").string();
  ASSERT_EQ(testing::WaitExit(testing::Spawn(FACEFILL_CLI, {"scan", (dir / "corpus").string(), "--db", reference})), 0);
  ASSERT_EQ(testing::WaitExit(testing::Spawn(FACEFILL_CLI, {"backfill", "-q", "--db", reference})), 0);
  auto expected = OpenStores(reference, "");
  ASSERT_TRUE(expected.ok());
  auto expected_ids = expected->catalog->AllPointIds();
  ASSERT_TRUE(expected_ids.ok());
  EXPECT_GT(expected_ids->size(), 1000u);
  std::vector<std::string> stored_ids;
  {
    pqxx::connection conn(db);
    pqxx::nontransaction txn(conn);
    for (const auto& r : txn.exec("SELECT id::text FROM face_instances ORDER BY id::text")) {
      stored_ids.push_back(r[0].as<std::string>());
    }
  }
  std::sort(stored_ids.begin(), stored_ids.end());
  std::sort(expected_ids->begin(), expected_ids->end());
  EXPECT_EQ(stored_ids, *expected_ids);
  auto stores = OpenStores(db, "");
  ASSERT_TRUE(stores.ok());
  auto check = CheckConsistency(*stores->catalog, *stores->vectors, false);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->clean());

  // The job is done, and every committed asset was counted once in its progress.
  auto queue = OpenJobQueue(redis);
  ASSERT_TRUE(queue.ok());
  auto jobs = (*queue)->List(1);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ(jobs->front().status, JobStatus::kDone);
  EXPECT_EQ(jobs->front().total, 1000);
}

// `worker --max-faces` limits the faces the worker stores per image (the job carries the filters, the worker its
// models): the InsightFace group photo has 6 faces for SCRFD, 2 are stored.
TEST(WorkerProcessesTest, MaxFacesLimitsTheFacesAWorkerStores) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (models, photos)");
  FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  ASSERT_NE(testing::Services(), nullptr);
  TempDir dir;
  fs::create_directories(dir / "photos");
  fs::copy_file(SharedDir() / "images/group/insightface_t1.jpg", dir / "photos/group.jpg");
  const std::string db = FreshPostgresDatabase("maxfaces");
  const std::string redis = testing::Services()->redis + "/4";
  const std::vector<std::string> models = {"--detector", (SharedDir() / "models/scrfd/det_2.5g.onnx").string(),
                                           "--recognizer", (testing::DefaultPackDir() / "fr_feature.onnx").string()};
  auto with_models = [&](std::vector<std::string> args) {
    args.insert(args.end(), models.begin(), models.end());
    return args;
  };
  ASSERT_EQ(testing::WaitExit(testing::Spawn(FACEFILL_CLI, {"scan", (dir / "photos").string(), "--db", db})), 0);
  ASSERT_EQ(testing::WaitExit(testing::Spawn(FACEFILL_CLI, with_models({"backfill", "--db", db, "--queue", redis}))),
            0);
  EXPECT_EQ(
      testing::WaitExit(testing::Spawn(
          FACEFILL_CLI, with_models({"worker", "--db", db, "--queue", redis, "--exit-when-idle", "--max-faces", "2"}),
          dir / "worker.log")),
      0);
  EXPECT_EQ(Query(db, "SELECT COUNT(*) FROM face_instances"), 2);
  EXPECT_EQ(Query(db, "SELECT SUM(face_count) FROM facefill.scan_status"), 2);
}

// Redis disappears under a running worker: its progress report fails after bounded retries, it drains, commits what
// is in flight, gives back its leases and exits 3; nothing is lost or doubled, and a new queue finishes the job.
TEST(WorkerProcessesTest, ARedisThatDisappearsStopsTheWorkerCleanly) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
  FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  ASSERT_NE(testing::Services(), nullptr);
  PrivateRedis redis;
  ASSERT_TRUE(redis.Start());
  TempDir dir;
  const std::string db = FreshPostgresDatabase("redisgone");
  ASSERT_EQ(testing::WaitExit(
                testing::Spawn(FACEFILL_CLI, {"scan", (SharedDir() / "images").string(), "--db", db, "--standalone"})),
            0);
  const std::vector<std::string> worker = {"worker",
                                           "--db",
                                           db,
                                           "--queue",
                                           redis.url(),
                                           "--inference-threads",
                                           "1",
                                           "--assets-per-lease",
                                           "2",
                                           "--decode-threads",
                                           "1",
                                           "--exit-when-idle",
                                           "--worker-id",
                                           "w-redis"};
  ASSERT_EQ(testing::WaitExit(testing::Spawn(FACEFILL_CLI, {"backfill", "--db", db, "--queue", redis.url()})), 0);
  pid_t pid = testing::Spawn(FACEFILL_CLI, worker, dir / "worker.log");
  for (int i = 0; i < 600 && Query(db, "SELECT COUNT(*) FROM facefill.scan_status WHERE status <> 'pending'") < 5;
       ++i) {
    std::this_thread::sleep_for(50ms);
  }
  redis.Stop();
  const auto stopped = std::chrono::steady_clock::now();
  const int exit_code = testing::WaitExit(pid);
  std::ifstream log(dir / "worker.log");
  const std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_EQ(exit_code, 3) << "a queue failure is exit code 3\n" << text;
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, 60s) << "retries are bounded";
  EXPECT_NE(text.find("unavailable"), std::string::npos) << text;
  // What was in flight when the queue went away was committed (on 56 small photos that can be all of them).
  EXPECT_GT(Query(db, "SELECT COUNT(*) FROM facefill.scan_status WHERE status <> 'pending'"), 0);
  EXPECT_EQ(Query(db, "SELECT COUNT(*) FROM facefill.scan_status WHERE lease_owner IS NOT NULL"), 0)
      << "its leases were given back";
  EXPECT_EQ(Query(db, "SELECT COUNT(*) FROM face_instances"),
            Query(db, "SELECT COALESCE(SUM(face_count), 0) FROM facefill.scan_status"));

  // Redis is back (empty): queue the job again and let a worker finish it.
  ASSERT_TRUE(redis.Start());
  ASSERT_EQ(testing::WaitExit(testing::Spawn(FACEFILL_CLI, {"backfill", "--db", db, "--queue", redis.url()})), 0);
  // Queued, no worker yet: `jobs` says the total is not known rather than 0/0.
  ASSERT_EQ(testing::WaitExit(testing::Spawn(FACEFILL_CLI, {"jobs", "--queue", redis.url()}, dir / "jobs.txt")), 0);
  std::ifstream jobs(dir / "jobs.txt");
  const std::string listed((std::istreambuf_iterator<char>(jobs)), {});
  EXPECT_NE(listed.find("queued    (total not known yet)"), std::string::npos) << listed;
  EXPECT_EQ(testing::WaitExit(testing::Spawn(FACEFILL_CLI, worker)), 0);
  EXPECT_EQ(Query(db, "SELECT COUNT(*) FROM facefill.scan_status WHERE status IN ('done', 'no_faces')"), 56);
  EXPECT_EQ(Query(db, "SELECT MAX(scan_count) FROM facefill.scan_status"), 1);
  auto stores = OpenStores(db, "");
  ASSERT_TRUE(stores.ok());
  auto check = CheckConsistency(*stores->catalog, *stores->vectors, false);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->clean());
}

}  // namespace
}  // namespace facefill
