// Lease heartbeats on a real PostgreSQL: a live holder renews its leases, a SIGKILLed backfill's assets come back
// within the short default lease, a run that ends while others hold leases says whose and until when, and
// `backfill --wait` waits for them and finishes every asset. And a worker whose shared catalog throws stops with
// an error instead of ending the process, and a PostgreSQL value that does not convert is an error, not a throw.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <stdexcept>
#include <thread>

#include "catalog/pg_session.h"
#include "facefill/backfill.h"
#include "facefill/job_queue.h"
#include "facefill/library_scan.h"
#include "facefill/stores.h"
#include "facefill/worker.h"
#include "forwarding_catalog.h"
#include "test_support.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::FreshPostgresDatabase;
using testing::SharedDir;
using testing::TempDir;

int64_t Query(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  return txn.exec1(sql)[0].as<int64_t>();
}

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(LeaseTest, RenewedLeasesOutliveTheirFirstExpiryAndLiveLeasesSayWhoHoldsThemUntilWhen) {
  ASSERT_NE(testing::Services(), nullptr);
  const std::string url = FreshPostgresDatabase("renew");
  auto a = OpenCatalog(url);
  auto b = OpenCatalog(url);
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<AssetRecord> assets(12);
  for (size_t i = 0; i < assets.size(); ++i) assets[i].path = "/library/photo_" + std::to_string(i) + ".jpg";
  ScanCounts counts;
  ASSERT_TRUE((*a)->UpsertAssets(assets, &counts).ok());
  EXPECT_EQ(ClaimRequest{}.lease_seconds, 30) << "short by default: a dead holder's assets come back soon";

  auto first = (*a)->Claim(ClaimRequest{"a", 5, 1, 0});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 5u);
  auto held = (*b)->LiveLeases();
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ(held->front().owner, "a");
  EXPECT_EQ(held->front().assets, 5);
  EXPECT_LE(held->front().expires_at, Now() + 2);
  // The heartbeat: renewed before the 1 s lease runs out, the assets stay a's after it.
  ASSERT_TRUE((*a)->RenewLeases("a", 60).ok());
  std::this_thread::sleep_for(1300ms);
  auto second = (*b)->Claim(ClaimRequest{"b", 20, 60, 0});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->size(), 7u) << "a's renewed leases are not handed out";
  for (const auto& x : *second) {
    for (const auto& y : *first) EXPECT_NE(x.id, y.id);
  }
  held = (*b)->LiveLeases();
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(held->size(), 2u);
  EXPECT_EQ(held->at(0).owner, "a");
  EXPECT_EQ(held->at(0).assets, 5);
  EXPECT_GE(held->at(0).expires_at, Now() + 55);
  EXPECT_EQ(held->at(1).owner, "b");
  EXPECT_EQ(held->at(1).assets, 7);
  // Renewing touches only the renewer's leases.
  ASSERT_TRUE((*b)->RenewLeases("nobody", 600).ok());
  EXPECT_EQ(
      Query(url, "SELECT COUNT(*) FROM facefill.scan_status WHERE lease_expires_at > now() + interval '100 seconds'"),
      0);
}

class LeaseProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
    FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
    ASSERT_NE(testing::Services(), nullptr);
  }

  // A library of the first `count` photos of ../shared/images.
  fs::path Library(const TempDir& dir, size_t count) {
    std::vector<fs::path> photos;
    for (const auto& entry : fs::recursive_directory_iterator(SharedDir() / "images")) {
      if (entry.path().extension() == ".jpg") photos.push_back(entry.path());
    }
    std::sort(photos.begin(), photos.end());
    EXPECT_GE(photos.size(), count);
    const fs::path library = dir / "library";
    fs::create_directories(library);
    for (size_t i = 0; i < std::min(count, photos.size()); ++i) {
      fs::copy_file(photos[i], library / ("photo_" + std::to_string(i) + ".jpg"));
    }
    return library;
  }
};

// A running backfill whose leases last 2 s keeps them alive for the whole run (renewed every 2/3 s), although its
// assets wait longer than that between claim and commit (writes are held for 2.5 s to batch them).
TEST_F(LeaseProcessTest, ARunningBackfillRenewsItsLeasesSoNoneOfThemLapses) {
  TempDir dir;
  const std::string url = FreshPostgresDatabase("heartbeat");
  auto stores = OpenStores(url, "");
  ASSERT_TRUE(stores.ok()) << stores.status().ToString();
  ASSERT_TRUE(ScanLibrary(Library(dir, 24), stores->catalog.get()).ok());
  auto analyzer = testing::OpenDefaultAnalyzer();
  ASSERT_NE(analyzer, nullptr);
  BackfillOptions options;
  options.lease_owner = "heartbeat";
  options.lease_seconds = 2;
  options.max_commit_wait_ms = 2500;
  options.assets_per_lease = 12;
  options.inference_threads = 1;
  options.decode_threads = 1;
  std::atomic<bool> done{false};
  std::atomic<int64_t> lapsed{0}, observed_leases{0};
  std::thread watcher([&] {
    pqxx::connection conn(url);
    while (!done) {
      pqxx::nontransaction txn(conn);
      auto r = txn.exec1(
          "SELECT COUNT(*) FILTER (WHERE lease_expires_at < now()), COUNT(*) FROM facefill.scan_status WHERE "
          "lease_owner = 'heartbeat' AND status = 'pending'");
      lapsed = std::max(lapsed.load(), r[0].as<int64_t>());
      observed_leases = std::max(observed_leases.load(), r[1].as<int64_t>());
      txn.commit();
      std::this_thread::sleep_for(50ms);
    }
  });
  const auto start = std::chrono::steady_clock::now();
  // A writer that stalls for 3 s at its first progress report (as a slow database would), however fast the
  // machine: the run's claimed assets wait past their 2 s lease.
  std::atomic<bool> stalled{false};
  auto stall = [&](const BackfillProgress&) {
    if (!stalled.exchange(true)) std::this_thread::sleep_for(3s);
  };
  auto report = RunBackfill(*stores->catalog, *stores->vectors, *analyzer, options, nullptr, stall, 0.0);
  done = true;
  watcher.join();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GT(std::chrono::steady_clock::now() - start, 3000ms) << "the run must outlast the lease for this to test it";
  EXPECT_EQ(report->progress.processed, 24);
  EXPECT_GT(observed_leases.load(), 0) << "the watcher saw the run's leases";
  EXPECT_EQ(lapsed.load(), 0) << "a live run's lease ran out";
  EXPECT_EQ(Query(url, "SELECT MAX(scan_count) FROM facefill.scan_status"), 1);
  EXPECT_TRUE(report->leased_elsewhere.empty());
}

// The case: a backfill killed with SIGKILL mid-run. A plain run right after says whose leases remain and
// until when; `backfill --wait` waits for them to lapse (the default lease is 30 s) and finishes every asset.
TEST_F(LeaseProcessTest, AKilledBackfillsAssetsComeBackWithinTheShortDefaultLease) {
  TempDir dir;
  const std::string db = FreshPostgresDatabase("killed");
  constexpr int kAssets = 16;
  ASSERT_EQ(testing::WaitExit(testing::Spawn(FACEFILL_CLI, {"scan", Library(dir, kAssets).string(), "--db", db})), 0);
  const pid_t victim =
      testing::Spawn(FACEFILL_CLI, {"backfill", "-q", "--db", db, "--inference-threads", "1", "--decode-threads", "1",
                                    "--assets-per-lease", "4", "--assets-per-commit", "1"});
  std::vector<int64_t> orphaned;
  int64_t lease_left = 0;
  auto killed_at = std::chrono::steady_clock::now();
  for (auto deadline = killed_at + 180s; orphaned.empty() && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(50ms);
    if (Query(db, "SELECT COUNT(*) FROM facefill.scan_status WHERE status <> 'pending'") < 2) continue;
    pqxx::connection conn(db);
    pqxx::work txn(conn);
    // Its leased rows locked while it is killed, so it cannot commit them in between.
    auto leased = txn.exec(
        "SELECT asset_id, EXTRACT(EPOCH FROM lease_expires_at - now())::BIGINT FROM facefill.scan_status WHERE "
        "lease_owner IS NOT NULL AND status = 'pending' FOR UPDATE");
    if (leased.empty()) continue;
    testing::Kill(victim);
    killed_at = std::chrono::steady_clock::now();
    for (const auto& r : leased) {
      orphaned.push_back(r[0].as<int64_t>());
      lease_left = std::max(lease_left, r[1].as<int64_t>());
    }
  }
  ASSERT_FALSE(orphaned.empty()) << "the victim never held a lease";
  EXPECT_EQ(testing::WaitExit(victim), 128 + SIGKILL);
  EXPECT_LE(lease_left, 30) << "the default lease is short";

  // A plain run (one asset, so it ends before the lease lapses) exits 0 and names the dead holder's leases.
  const fs::path plain_log = dir / "plain.log";
  ASSERT_EQ(testing::WaitExit(
                testing::Spawn(FACEFILL_CLI, {"backfill", "-q", "--json", "--db", db, "--limit", "1"}, plain_log)),
            0);
  std::ifstream in(plain_log);
  nlohmann::json plain;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.front() == '{') plain = nlohmann::json::parse(line);
  }
  ASSERT_TRUE(plain.contains("leased_elsewhere")) << "no JSON report in " << plain_log;
  ASSERT_EQ(plain["leased_elsewhere"].size(), 1u) << plain.dump();
  const auto& holder = plain["leased_elsewhere"][0];
  EXPECT_NE(holder["owner"].get<std::string>().find(":" + std::to_string(victim) + ":"), std::string::npos)
      << holder.dump();
  EXPECT_EQ(holder["assets"].get<int64_t>(), static_cast<int64_t>(orphaned.size()));
  EXPECT_EQ(holder["expires_at"].get<std::string>().size(), 20u) << "an ISO time in UTC: " << holder.dump();
  EXPECT_GT(Query(db, "SELECT COUNT(*) FROM facefill.scan_status WHERE status = 'pending'"), 0);

  // --wait: done once the dead holder's leases lapse and its assets are processed here.
  const fs::path wait_log = dir / "wait.log";
  ASSERT_EQ(testing::WaitExit(testing::Spawn(FACEFILL_CLI, {"backfill", "-q", "--wait", "--db", db}, wait_log)), 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  std::cout << "every asset done " << seconds << " s after the kill (" << orphaned.size() << " orphaned, lease "
            << lease_left << " s from the kill)\n";
  // Within the lease the victim had left (at most 30 s), plus the time to process its assets (a few seconds; the
  // slack is for loaded test machines): about 30 s in all, never the old 300 s.
  EXPECT_LT(seconds, lease_left + 12) << "a dead holder's assets come back as soon as its lease lapses";
  EXPECT_LT(seconds, 45);
  EXPECT_EQ(Query(db, "SELECT COUNT(*) FROM facefill.scan_status WHERE status IN ('done', 'no_faces')"), kAssets);
  EXPECT_EQ(Query(db, "SELECT MAX(scan_count) FROM facefill.scan_status"), 1);
  EXPECT_EQ(Query(db, "SELECT COUNT(*) FROM facefill.scan_status WHERE lease_owner IS NOT NULL"), 0);
  EXPECT_EQ(Query(db, "SELECT COUNT(*) FROM face_instances"),
            Query(db, "SELECT SUM(face_count) FROM facefill.scan_status"));
}

// A shared catalog whose CountPending throws, as a client library might: everything else goes to the real one.
class ThrowingSharedCatalog final : public testing::ForwardingCatalog {
 public:
  using ForwardingCatalog::ForwardingCatalog;
  Result<int64_t> CountPending(const PendingQuery&) override { throw std::runtime_error("injected: count threw"); }
};

TEST_F(LeaseProcessTest, AWorkerWhoseCatalogThrowsStopsWithAnErrorInsteadOfEndingTheProcess) {
  TempDir dir;
  const std::string url = FreshPostgresDatabase("throwing");
  auto stores = OpenStores(url, "");
  ASSERT_TRUE(stores.ok()) << stores.status().ToString();
  ASSERT_TRUE(ScanLibrary(Library(dir, 2), stores->catalog.get()).ok());
  auto analyzer = testing::OpenDefaultAnalyzer();
  ASSERT_NE(analyzer, nullptr);
  QueueOptions queue_options;
  queue_options.prefix = "test:throwing:" + std::to_string(getpid());
  auto queue = OpenJobQueue(testing::Services()->redis + "/3", queue_options);
  ASSERT_TRUE(queue.ok()) << queue.status().ToString();
  ASSERT_TRUE((*queue)->Enqueue(JobParamsJson(BackfillOptions{}, analyzer->pack().id)).ok());
  ThrowingSharedCatalog throwing(*stores->catalog);
  WorkerOptions options;
  options.exit_when_idle = true;
  options.poll = 100ms;
  auto report = RunWorker(**queue, throwing, *stores->vectors, *analyzer, options, nullptr);
  ASSERT_FALSE(report.ok()) << "the exception must stop the worker";
  EXPECT_EQ(report.status().code(), StatusCode::kInternal);
  EXPECT_NE(report.status().message().find("injected"), std::string::npos) << report.status().message();
  EXPECT_EQ(Query(url, "SELECT COUNT(*) FROM facefill.scan_status WHERE lease_owner IS NOT NULL"), 0);
}

// Value conversions run after the transaction (Rows, QueryInt): one that fails is a kDatabaseError, never an
// exception escaping into a pipeline thread.
TEST(PgValuesTest, AValueThatDoesNotConvertIsAnErrorNotAnException) {
  ASSERT_NE(testing::Services(), nullptr);
  auto session = pg::Session::Open(FreshPostgresDatabase("values"));
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  auto null_number = pg::Rows((*session)->Query("SELECT NULL::bigint"), pg::FirstColumn<int64_t>);
  ASSERT_FALSE(null_number.ok());
  EXPECT_EQ(null_number.status().code(), StatusCode::kDatabaseError) << null_number.status().ToString();
  auto text = (*session)->QueryInt("SELECT 'not a number'::text");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), StatusCode::kDatabaseError) << text.status().ToString();
  auto fine = (*session)->QueryInt("SELECT 42::bigint");
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(*fine, 42);
}

}  // namespace
}  // namespace facefill
