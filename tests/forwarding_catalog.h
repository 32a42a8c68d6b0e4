// A catalog that forwards every call to another one: tests derive from it and override only what they break.
#pragma once

#include "facefill/catalog.h"

namespace facefill::testing {

class ForwardingCatalog : public Catalog {
 public:
  explicit ForwardingCatalog(Catalog& inner) : inner_(inner) {}
  Status UpsertAssets(const std::vector<AssetRecord>& a, ScanCounts* c) override { return inner_.UpsertAssets(a, c); }
  Result<std::vector<AssetRecord>> ListPending(const PendingQuery& q) override { return inner_.ListPending(q); }
  Result<int64_t> CountPending(const PendingQuery& q) override { return inner_.CountPending(q); }
  Result<std::map<int64_t, std::vector<StoredFace>>> FacesOfAssets(const std::vector<int64_t>& ids) override {
    return inner_.FacesOfAssets(ids);
  }
  Status CommitScans(const std::vector<ScanOutcome>& outcomes, const std::string& model_id, const std::string& owner,
                     std::vector<std::string>* deleted) override {
    return inner_.CommitScans(outcomes, model_id, owner, deleted);
  }
  Result<std::vector<StoredFace>> FacesByPointIds(const std::vector<std::string>& ids) override {
    return inner_.FacesByPointIds(ids);
  }
  Result<IdPage> ListPointIds(const std::string& cursor, int limit) override {
    return inner_.ListPointIds(cursor, limit);
  }
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
  bool SupportsClaims() const override { return inner_.SupportsClaims(); }
  Result<std::vector<AssetRecord>> Claim(const ClaimRequest& r) override { return inner_.Claim(r); }
  Status ReleaseLeases(const std::string& owner) override { return inner_.ReleaseLeases(owner); }
  Status RenewLeases(const std::string& owner, int seconds) override { return inner_.RenewLeases(owner, seconds); }
  Result<int64_t> CountLiveLeases() override { return inner_.CountLiveLeases(); }
  Result<std::vector<LeaseHolder>> LiveLeases() override { return inner_.LiveLeases(); }
  bool IsServiceDatabase() const override { return inner_.IsServiceDatabase(); }
  bool WritesVectors() const override { return inner_.WritesVectors(); }

 protected:
  Catalog& inner_;
};

}  // namespace facefill::testing
