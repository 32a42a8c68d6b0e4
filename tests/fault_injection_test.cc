// Fault injection behind the catalog and vector-store interfaces: a store that fails mid-run stops the backfill
// with a clear error and a consistent state; the next run finishes with exactly the faces of an undisturbed run.
// Exceptions thrown inside the backfill's threads become an asset's error or the run's, never a crash.
#include <gtest/gtest.h>

#include <map>
#include <new>
#include <stdexcept>

#include "facefill/backfill.h"
#include "facefill/library_scan.h"
#include "facefill/search.h"
#include "facefill/stores.h"
#include "forwarding_catalog.h"
#include "pipeline/thread_boundary.h"
#include "test_support.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using testing::DefaultPackDir;
using testing::SharedDir;
using testing::TempDir;

// Fails the Nth call of the chosen operation (and every one after it, like a store that went away).
class FaultyVectorStore final : public VectorStore {
 public:
  FaultyVectorStore(VectorStore& inner, int fail_upsert_at) : inner_(inner), fail_at_(fail_upsert_at) {}
  Status Upsert(const std::vector<const FaceRecord*>& faces) override {
    if (++calls_ >= fail_at_) return Status(StatusCode::kVectorStoreError, "injected: vector store returned 500");
    return inner_.Upsert(faces);
  }
  Status Prepare(int dimension) override { return inner_.Prepare(dimension); }
  Status UpdateVectors(const std::vector<const FaceRecord*>& faces) override { return inner_.UpdateVectors(faces); }
  Result<std::map<std::string, Embedding>> Fetch(const std::vector<std::string>& ids) override {
    return inner_.Fetch(ids);
  }
  Status Delete(const std::vector<std::string>& ids) override { return inner_.Delete(ids); }
  Result<std::vector<VectorMatch>> Search(const Embedding& q, int k, float m) override {
    return inner_.Search(q, k, m);
  }
  Result<IdPage> ListIds(const std::string& cursor, int limit) override { return inner_.ListIds(cursor, limit); }
  Result<int64_t> Count() override { return inner_.Count(); }
  std::string Describe() const override { return "faulty " + inner_.Describe(); }

 private:
  VectorStore& inner_;
  int fail_at_;
  int calls_ = 0;
};

class FaultyCatalog final : public testing::ForwardingCatalog {
 public:
  FaultyCatalog(Catalog& inner, int fail_commit_at) : ForwardingCatalog(inner), fail_at_(fail_commit_at) {}
  Status CommitScans(const std::vector<ScanOutcome>& outcomes, const std::string& model_id, const std::string& owner,
                     std::vector<std::string>* deleted) override {
    if (++calls_ >= fail_at_) return Status(StatusCode::kDatabaseError, "injected: connection lost mid-transaction");
    return inner_.CommitScans(outcomes, model_id, owner, deleted);
  }

 private:
  int fail_at_;
  int calls_ = 0;
};

// Throws (as a client library might) instead of returning an error: from the second listing of pending assets
// (on the feeder thread) or from the second commit (on the writer's).
class ThrowingCatalog final : public testing::ForwardingCatalog {
 public:
  enum class From { kListing, kCommit };
  ThrowingCatalog(Catalog& inner, From from) : ForwardingCatalog(inner), from_(from) {}
  Result<std::vector<AssetRecord>> ListPending(const PendingQuery& q) override {
    if (from_ == From::kListing && ++calls_ >= 2) throw std::runtime_error("injected: listing threw");
    return inner_.ListPending(q);
  }
  Status CommitScans(const std::vector<ScanOutcome>& outcomes, const std::string& model_id, const std::string& owner,
                     std::vector<std::string>* deleted) override {
    if (from_ == From::kCommit && ++calls_ >= 2) throw std::out_of_range("injected: a value out of range");
    return inner_.CommitScans(outcomes, model_id, owner, deleted);
  }

 private:
  From from_;
  int calls_ = 0;
};

class FaultInjectionTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
    FACEFILL_REQUIRE_PATH(DefaultPackDir(), "the default model pack (scripts/setup.sh)");
    analyzer_ = testing::OpenDefaultAnalyzer();
    ASSERT_NE(analyzer_, nullptr);
  }

  Stores Open(const fs::path& db) { return std::move(OpenStores("sqlite:" + db.string(), "")).value(); }
  std::map<std::string, std::string> Faces(Stores& s) {
    std::map<std::string, std::string> faces;
    auto ids = s.catalog->AllPointIds();
    auto rows = s.catalog->FacesByPointIds(*ids);
    for (const auto& f : *rows) {
      faces[f.id] = f.asset_path + " " + std::to_string(f.bbox_x) + "," + std::to_string(f.bbox_y) + "," +
                    std::to_string(f.bbox_w) + "," + std::to_string(f.bbox_h);
    }
    return faces;
  }

  std::unique_ptr<FaceAnalyzer> analyzer_;
};

TEST_P(FaultInjectionTest, FailureStopsCleanlyAndTheNextRunCompletesTheSameFaces) {
  const bool fail_catalog = GetParam();
  TempDir dir;
  const fs::path library = SharedDir() / "images/group";
  BackfillOptions options;
  options.assets_per_commit = 1;  // many transactions, so the fault lands mid-run

  auto reference = Open(dir / "reference.db");
  ASSERT_TRUE(ScanLibrary(library, reference.catalog.get()).ok());
  ASSERT_TRUE(RunBackfill(*reference.catalog, *reference.vectors, *analyzer_, options).ok());
  const auto expected = Faces(reference);

  auto real = Open(dir / "faulty.db");
  ASSERT_TRUE(ScanLibrary(library, real.catalog.get()).ok());
  FaultyCatalog faulty_catalog(*real.catalog, fail_catalog ? 3 : 1 << 30);
  FaultyVectorStore faulty_vectors(*real.vectors, fail_catalog ? 1 << 30 : 3);
  auto failed = RunBackfill(faulty_catalog, faulty_vectors, *analyzer_, options);
  ASSERT_FALSE(failed.ok()) << "the injected failure must stop the run";
  EXPECT_EQ(failed.status().code(), fail_catalog ? StatusCode::kDatabaseError : StatusCode::kVectorStoreError);
  EXPECT_NE(failed.status().message().find("injected"), std::string::npos);

  // Consistent after the failure: every face row has its vector (orphan vectors are allowed: they get overwritten).
  auto check = CheckConsistency(*real.catalog, *real.vectors, false);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->faces_without_vectors.empty());
  EXPECT_TRUE(check->assets_missing_faces.empty());
  auto partial = real.catalog->Stats();
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->scanned, 2) << "exactly the batches committed before the fault";

  ASSERT_TRUE(RunBackfill(*real.catalog, *real.vectors, *analyzer_, options).ok());
  EXPECT_EQ(Faces(real), expected);
  auto final_check = CheckConsistency(*real.catalog, *real.vectors, false);
  ASSERT_TRUE(final_check.ok());
  EXPECT_TRUE(final_check->clean());
}

INSTANTIATE_TEST_SUITE_P(Stores, FaultInjectionTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? std::string("CatalogFails") : std::string("VectorStoreFails");
                         });

// Exceptions thrown inside the backfill's threads, pipelined (true) or sequential (false).
class ExceptionBoundaryTest : public FaultInjectionTest {
 protected:
  void TearDown() override { pipeline::SetStageHookForTesting({}); }
};

TEST_P(ExceptionBoundaryTest, AThrowInOneAssetsWorkIsThatAssetsErrorAndTheRunGoesOn) {
  TempDir dir;
  auto stores = Open(dir / "facefill.db");
  ASSERT_TRUE(ScanLibrary(SharedDir() / "images/group", stores.catalog.get()).ok());
  // One asset throws while it is decoded, another in its detection (on the inference threads when pipelined).
  pipeline::SetStageHookForTesting([](std::string_view stage, const AssetRecord& asset) {
    if (stage == "decode" && asset.path.ends_with("kit_with_rose.jpg")) throw std::runtime_error("injected decode");
    if (stage == "detect" && asset.path.ends_with("insightface_t1.jpg")) throw std::bad_alloc();
  });
  BackfillOptions options;
  options.sequential = !GetParam();
  options.faces_per_call = 4;
  auto report = RunBackfill(*stores.catalog, *stores.vectors, *analyzer_, options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->progress.processed, 7);
  EXPECT_EQ(report->progress.errors, 2);
  EXPECT_EQ(report->errors_by_reason["internal"], 2);
  auto stats = stores.catalog->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->scanned, 5);
  EXPECT_EQ(stats->errors_by_reason["internal"], 2);
  auto check = CheckConsistency(*stores.catalog, *stores.vectors, false);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->clean());
  // Once the fault is gone, retrying the errors stores exactly the faces of an undisturbed run.
  pipeline::SetStageHookForTesting({});
  BackfillOptions retry;
  retry.retry_errors = true;
  ASSERT_TRUE(RunBackfill(*stores.catalog, *stores.vectors, *analyzer_, retry).ok());
  auto reference = Open(dir / "reference.db");
  ASSERT_TRUE(ScanLibrary(SharedDir() / "images/group", reference.catalog.get()).ok());
  ASSERT_TRUE(RunBackfill(*reference.catalog, *reference.vectors, *analyzer_, {}).ok());
  EXPECT_EQ(Faces(stores), Faces(reference));
}

TEST_P(ExceptionBoundaryTest, AThrowFromTheCatalogStopsTheRunWithARecordedError) {
  for (auto from : {ThrowingCatalog::From::kListing, ThrowingCatalog::From::kCommit}) {
    TempDir dir;
    auto stores = Open(dir / "facefill.db");
    ASSERT_TRUE(ScanLibrary(SharedDir() / "images/biden", stores.catalog.get()).ok());
    ThrowingCatalog throwing(*stores.catalog, from);
    BackfillOptions options;
    options.sequential = !GetParam();
    options.assets_per_commit = 1;
    auto failed = RunBackfill(throwing, *stores.vectors, *analyzer_, options);
    ASSERT_FALSE(failed.ok()) << "the exception must stop the run";
    EXPECT_EQ(failed.status().code(), StatusCode::kInternal);
    EXPECT_NE(failed.status().message().find("injected"), std::string::npos) << failed.status().message();
    // A clean stop: consistent, and the next run finishes.
    auto check = CheckConsistency(*stores.catalog, *stores.vectors, false);
    ASSERT_TRUE(check.ok());
    EXPECT_TRUE(check->faces_without_vectors.empty());
    EXPECT_TRUE(check->assets_missing_faces.empty());
    ASSERT_TRUE(RunBackfill(*stores.catalog, *stores.vectors, *analyzer_, options).ok());
    auto stats = stores.catalog->Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->scanned, 2);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, ExceptionBoundaryTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? std::string("Pipelined") : std::string("Sequential");
                         });

}  // namespace
}  // namespace facefill
