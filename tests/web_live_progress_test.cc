// The Status page's live progress on a real PostgreSQL and Redis: leases and their holders as other workers take
// them, the pace over the polls, and a queued job's progress as its worker reports it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>

#include "facefill/catalog.h"
#include "facefill/job_queue.h"
#include "facefill/records.h"
#include "test_support.h"
#include "web/live_progress.h"

namespace facefill {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<Catalog> Open(const std::string& url) {
  auto catalog = OpenCatalog(url);
  EXPECT_TRUE(catalog.ok()) << catalog.status().ToString();
  return catalog.ok() ? std::move(catalog).value() : nullptr;
}

TEST(WebLiveProgressTest, LeasesTheirHoldersAndThePaceOfWorkersInOtherConnections) {
  ASSERT_NE(testing::Services(), nullptr);
  const std::string url = testing::FreshPostgresDatabase("web_live");
  auto served = Open(url);   // what the page reads through
  auto workers = Open(url);  // what the workers write through
  ASSERT_TRUE(served && workers);
  std::vector<AssetRecord> assets(12);
  for (size_t i = 0; i < assets.size(); ++i) assets[i].path = "/library/photo_" + std::to_string(i) + ".jpg";
  ScanCounts counts;
  ASSERT_TRUE(workers->UpsertAssets(assets, &counts).ok());

  web::LiveProgress live(*served, nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  auto idle = live.Poll(t0);
  ASSERT_TRUE(idle.ok()) << idle.status().ToString();
  EXPECT_EQ((*idle)["pending"], 12);
  EXPECT_EQ((*idle)["leased"], 0);
  EXPECT_TRUE((*idle)["holders"].empty());
  EXPECT_TRUE((*idle)["rate"].is_null()) << "no pace from one poll";
  EXPECT_FALSE((*idle)["running"]);
  EXPECT_FALSE((*idle)["queue"]);

  auto a = workers->Claim(ClaimRequest{"holder-a", 5, 60, 0});
  auto b = workers->Claim(ClaimRequest{"holder-b", 3, 60, 0});
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), 5u);
  auto leased = live.Poll(t0 + 1s);
  ASSERT_TRUE(leased.ok());
  EXPECT_EQ((*leased)["leased"], 8);
  ASSERT_EQ((*leased)["holders"].size(), 2u);
  EXPECT_EQ((*leased)["holders"][0]["owner"], "holder-a");
  EXPECT_EQ((*leased)["holders"][0]["assets"], 5);
  EXPECT_EQ((*leased)["holders"][1]["owner"], "holder-b");
  EXPECT_GT((*leased)["holders"][0]["expires_in_s"].get<int64_t>(), 50);
  EXPECT_TRUE((*leased)["running"]) << "live leases: someone is working";
  EXPECT_EQ((*leased)["rate"], 0.0);

  // holder-a finishes its five, two seconds after the first poll: 2.5 assets a second, 7 left.
  std::vector<ScanOutcome> outcomes;
  for (const auto& asset : *a) {
    ScanOutcome outcome;
    outcome.asset = asset;
    outcome.state = ScanState::kNoFaces;
    outcomes.push_back(outcome);
  }
  ASSERT_TRUE(workers->CommitScans(outcomes, "test-model", "holder-a", nullptr).ok());
  auto progressed = live.Poll(t0 + 2s);
  ASSERT_TRUE(progressed.ok());
  EXPECT_EQ((*progressed)["processed"], 5);
  EXPECT_EQ((*progressed)["pending"], 7);
  EXPECT_EQ((*progressed)["leased"], 3);
  ASSERT_EQ((*progressed)["holders"].size(), 1u);
  EXPECT_EQ((*progressed)["holders"][0]["owner"], "holder-b");
  EXPECT_DOUBLE_EQ((*progressed)["rate"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ((*progressed)["eta_s"].get<double>(), 7 / 2.5);
  // The pace is of the recent polls only: a minute later with nothing done, it is measured from the last window.
  auto stalled = live.Poll(t0 + 62s);
  ASSERT_TRUE(stalled.ok());
  EXPECT_DOUBLE_EQ((*stalled)["rate"].get<double>(), 0.0);
  ASSERT_TRUE(workers->ReleaseLeases("holder-b").ok());
  auto released = live.Poll(t0 + 63s);
  ASSERT_TRUE(released.ok());
  EXPECT_EQ((*released)["leased"], 0);
  EXPECT_FALSE((*released)["running"]);
}

TEST(WebLiveProgressTest, AQueuedJobsProgressAsItsWorkerReportsIt) {
  ASSERT_NE(testing::Services(), nullptr);
  QueueOptions options;
  options.prefix = "test:web_live:" + std::to_string(getpid());
  auto queue = OpenJobQueue(testing::Services()->redis + "/5", options);
  ASSERT_TRUE(queue.ok()) << queue.status().ToString();
  testing::TempDir dir;
  auto catalog = Open("sqlite:" + (dir / "facefill.db").string());
  ASSERT_TRUE(catalog);
  web::LiveProgress live(*catalog, queue->get());

  auto job = (*queue)->Enqueue(R"({"min_confidence":0.5})");
  ASSERT_TRUE(job.ok());
  auto queued = live.Poll();
  ASSERT_TRUE(queued.ok()) << queued.status().ToString();
  EXPECT_TRUE((*queued)["queue"]);
  ASSERT_EQ((*queued)["jobs"].size(), 1u);
  EXPECT_EQ((*queued)["jobs"][0]["id"], *job);
  EXPECT_EQ((*queued)["jobs"][0]["status"], "queued");
  EXPECT_TRUE((*queued)["jobs"][0]["percent"].is_null());
  EXPECT_FALSE((*queued)["running"]);

  auto taken = (*queue)->Take("worker-1", 1s);
  ASSERT_TRUE(taken.ok() && taken->has_value());
  ASSERT_TRUE((*queue)->SetTotal(*job, 20).ok());
  int64_t last = -1;
  for (int64_t step : {4, 7, 9}) {
    ASSERT_TRUE(
        (*queue)
            ->Report(*job, "worker-1", JobCounts{.processed = step, .faces = 2 * step, .no_faces = 0, .errors = 0})
            .ok());
    auto running = live.Poll();
    ASSERT_TRUE(running.ok());
    const auto& shown = (*running)["jobs"][0];
    EXPECT_EQ(shown["status"], "running");
    EXPECT_GT(shown["processed"].get<int64_t>(), last);
    last = shown["processed"].get<int64_t>();
    EXPECT_EQ(shown["total"], 20);
    EXPECT_EQ(shown["percent"], 100 * last / 20);
    EXPECT_EQ(shown["workers"], nlohmann::json::array({"worker-1"}));
    EXPECT_TRUE((*running)["running"]) << "a running job";
  }
  EXPECT_EQ(last, 20);
  ASSERT_TRUE((*queue)->Finish(*job, true, "").ok());
  auto done = live.Poll();
  ASSERT_TRUE(done.ok());
  EXPECT_EQ((*done)["jobs"][0]["status"], "done");
  EXPECT_EQ((*done)["jobs"][0]["percent"], 100);
  EXPECT_FALSE((*done)["running"]);
}

}  // namespace
}  // namespace facefill
