// Fault injection behind the catalog and vector-store interfaces: a store that fails mid-run stops the backfill
// with a clear error and a consistent state; the next run finishes with exactly the faces of an undisturbed run.
#include <gtest/gtest.h>

#include <map>

#include "facefill/backfill.h"
#include "facefill/library_scan.h"
#include "facefill/search.h"
#include "facefill/stores.h"
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
  Result<std::vector<std::string>> AllIds() override { return inner_.AllIds(); }
  Result<int64_t> Count() override { return inner_.Count(); }
  std::string Describe() const override { return "faulty " + inner_.Describe(); }

 private:
  VectorStore& inner_;
  int fail_at_;
  int calls_ = 0;
};

class FaultyCatalog final : public Catalog {
 public:
  FaultyCatalog(Catalog& inner, int fail_commit_at) : inner_(inner), fail_at_(fail_commit_at) {}
  Status UpsertAssets(const std::vector<AssetRecord>& a, ScanCounts* c) override { return inner_.UpsertAssets(a, c); }
  Result<std::vector<AssetRecord>> ListPending(const PendingQuery& q) override { return inner_.ListPending(q); }
  Result<int64_t> CountPending(const PendingQuery& q) override { return inner_.CountPending(q); }
  Result<std::map<int64_t, std::vector<StoredFace>>> FacesOfAssets(const std::vector<int64_t>& ids) override {
    return inner_.FacesOfAssets(ids);
  }
  Status CommitScans(const std::vector<ScanOutcome>& outcomes, const std::string& model_id, const std::string& owner,
                     std::vector<std::string>* deleted) override {
    if (++calls_ >= fail_at_) return Status(StatusCode::kDatabaseError, "injected: connection lost mid-transaction");
    return inner_.CommitScans(outcomes, model_id, owner, deleted);
  }
  Result<std::vector<StoredFace>> FacesByPointIds(const std::vector<std::string>& ids) override {
    return inner_.FacesByPointIds(ids);
  }
  Result<std::vector<std::string>> AllPointIds() override { return inner_.AllPointIds(); }
  Result<std::vector<StoredFace>> SampleFaces(int limit) override { return inner_.SampleFaces(limit); }
  Result<std::optional<std::string>> VectorModel(const std::string& store) override {
    return inner_.VectorModel(store);
  }
  Status RecordVectorModel(const std::string& store, const std::string& model, int dimension) override {
    return inner_.RecordVectorModel(store, model, dimension);
  }
  Result<std::vector<int64_t>> AssetsWithMissingFaces() override { return inner_.AssetsWithMissingFaces(); }
  Status MarkForRescan(const std::vector<int64_t>& a, const std::vector<std::string>& f) override {
    return inner_.MarkForRescan(a, f);
  }
  Result<CatalogStats> Stats() override { return inner_.Stats(); }
  Status AddLibraryRoot(const std::string& p) override { return inner_.AddLibraryRoot(p); }
  Result<std::vector<std::string>> LibraryRoots() override { return inner_.LibraryRoots(); }

 private:
  Catalog& inner_;
  int fail_at_;
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
  options.write_batch = 1;  // many transactions, so the fault lands mid-run

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

}  // namespace
}  // namespace facefill
