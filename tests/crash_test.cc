// Crash safety of the real binary: kill -9 the backfill at several random moments, finish it, and compare with an
// uninterrupted run (ids, boxes, embeddings); Ctrl-C drains, commits and exits 0.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "test_support.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using testing::SharedDir;
using testing::TempDir;

pid_t Spawn(const std::vector<std::string>& args) { return testing::Spawn(FACEFILL_CLI, args); }

int Wait(pid_t pid) { return testing::WaitExit(pid); }

int RunToEnd(const std::vector<std::string>& args) { return Wait(Spawn(args)); }

// id -> "asset x y w h" + embedding bytes, for exact comparison of two catalogs.
std::map<std::string, std::string> Snapshot(const fs::path& db_path) {
  sqlite3* db = nullptr;
  sqlite3_open(db_path.c_str(), &db);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT f.id, f.asset_id || ' ' || f.bbox_x || ' ' || f.bbox_y || ' ' || f.bbox_w || ' ' || "
                     "f.bbox_h, hex(v.embedding) FROM face_instances f LEFT JOIN facefill_face_vectors v ON "
                     "v.face_id = f.qdrant_point_id",
                     -1, &stmt, nullptr);
  std::map<std::string, std::string> rows;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    auto text = [&](int c) {
      auto* t = sqlite3_column_text(stmt, c);
      return t ? std::string(reinterpret_cast<const char*>(t)) : std::string("NULL");
    };
    rows[text(0)] = text(1) + " " + text(2);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

int64_t ScannedCount(const fs::path& db_path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return 0;
  sqlite3_stmt* stmt = nullptr;
  int64_t n = 0;
  if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM facefill_scan_status", -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    n = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
    FACEFILL_REQUIRE_PATH(testing::DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  }
  std::vector<std::string> Args(const fs::path& db, std::vector<std::string> more) {
    std::vector<std::string> args = {more[0], "--db", "sqlite:" + db.string()};
    args.insert(args.end(), more.begin() + 1, more.end());
    return args;
  }
};

TEST_F(CrashTest, KillNineAtRandomMomentsThenResumeEqualsUninterruptedRun) {
  TempDir dir;
  const std::string library = (SharedDir() / "images").string();
  const fs::path reference = dir / "reference.db", crashed = dir / "crashed.db";
  ASSERT_EQ(RunToEnd(Args(reference, {"scan", library})), 0);
  ASSERT_EQ(RunToEnd(Args(reference, {"backfill", "-q"})), 0);
  const auto expected = Snapshot(reference);
  ASSERT_GT(expected.size(), 200u);

  ASSERT_EQ(RunToEnd(Args(crashed, {"scan", library})), 0);
  std::mt19937 rng(20261124);
  int killed_mid_run = 0;
  for (int attempt = 0; attempt < 6; ++attempt) {
    pid_t pid = Spawn(Args(
        crashed, {"backfill", "-q", "--inference-threads", "1", "--decode-threads", "1", "--assets-per-commit", "4"}));
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 700));
    if (!testing::PollExit(pid)) {
      testing::Kill(pid);
      ++killed_mid_run;
    }
    Wait(pid);
  }
  EXPECT_GE(killed_mid_run, 3) << "the kills should land while the backfill runs";
  ASSERT_EQ(RunToEnd(Args(crashed, {"backfill", "-q"})), 0);
  const auto actual = Snapshot(crashed);
  EXPECT_EQ(actual.size(), expected.size());
  EXPECT_TRUE(actual == expected) << "face ids, boxes or embeddings differ from the uninterrupted run";
  EXPECT_EQ(RunToEnd(Args(crashed, {"check"})), 0) << "check reports inconsistencies";
}

class SignalTest : public CrashTest, public ::testing::WithParamInterface<int> {};

// SIGINT (Ctrl-C) and SIGTERM (what a service manager or Kubernetes sends): in-flight work is committed and the
// process exits 0 within a bounded time; the next run resumes.
TEST_P(SignalTest, DrainsCommitsAndExitsZeroWithinBoundedTime) {
  TempDir dir;
  const fs::path db = dir / "facefill.db";
  ASSERT_EQ(RunToEnd(Args(db, {"scan", (SharedDir() / "images").string()})), 0);
  pid_t pid = Spawn(
      Args(db, {"backfill", "-q", "--inference-threads", "1", "--decode-threads", "1", "--assets-per-commit", "2"}));
  // Signal once the first batches are committed, i.e. while work is in flight.
  for (int i = 0; i < 600 && ScannedCount(db) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto signalled = std::chrono::steady_clock::now();
  testing::Kill(pid, GetParam());
  EXPECT_EQ(Wait(pid), 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  EXPECT_LT(seconds, 10.0) << "draining took too long";
  const int64_t interrupted_at = ScannedCount(db);
  EXPECT_GT(interrupted_at, 0);
  EXPECT_LT(interrupted_at, 56) << "the signal should land before the end";
  EXPECT_EQ(RunToEnd(Args(db, {"check"})), 0);
  ASSERT_EQ(RunToEnd(Args(db, {"backfill", "-q"})), 0);
  EXPECT_EQ(RunToEnd(Args(db, {"check"})), 0);
  EXPECT_EQ(ScannedCount(db), 56);
}

INSTANTIATE_TEST_SUITE_P(Signals, SignalTest, ::testing::Values(SIGINT, SIGTERM), [](const auto& param_info) {
  return std::string(param_info.param == SIGINT ? "SIGINT" : "SIGTERM");
});

// The disk fills up under the catalog (a file-size limit makes every write past it fail, as ENOSPC would): the
// backfill stops with a clear error and exit code 3, the catalog stays consistent, and a run with room again ends
// with exactly the faces of an undisturbed run.
TEST_F(CrashTest, DiskFullStopsCleanlyAndTheNextRunFinishes) {
  TempDir dir;
  const fs::path expected_db = dir / "expected.db", full_db = dir / "full.db";
  const std::string images = (SharedDir() / "images").string();
  ASSERT_EQ(RunToEnd(Args(expected_db, {"scan", images})), 0);
  ASSERT_EQ(RunToEnd(Args(expected_db, {"backfill", "-q"})), 0);
  ASSERT_EQ(RunToEnd(Args(full_db, {"scan", images})), 0);
  const auto scanned_size = fs::file_size(full_db);

  // Room for a few batches of faces beyond the scanned catalog, then "no space left".
  const pid_t pid = testing::Spawn(FACEFILL_CLI, Args(full_db, {"backfill", "-q", "--assets-per-commit", "4"}),
                                   {.output = dir / "full.log", .file_size_limit = scanned_size + 150 * 1024});
  EXPECT_EQ(Wait(pid), 3) << "a storage failure is exit code 3";
  std::ifstream log(dir / "full.log");
  const std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find("database_error"), std::string::npos) << text;
  EXPECT_GT(ScannedCount(full_db), 0) << "batches before the disk filled are kept";
  EXPECT_LT(ScannedCount(full_db), 56);
  ASSERT_EQ(RunToEnd(Args(full_db, {"backfill", "-q"})), 0);
  EXPECT_EQ(RunToEnd(Args(full_db, {"check"})), 0);
  EXPECT_TRUE(Snapshot(full_db) == Snapshot(expected_db)) << "the resumed run differs from an undisturbed one";
}

}  // namespace
}  // namespace facefill
