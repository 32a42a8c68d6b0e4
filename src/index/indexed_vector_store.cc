// WithFaceIndex: the SQLite vector store with its Search answered by the HNSW index (exact search as the fallback).
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>

#include "facefill/face_index.h"

namespace facefill {
namespace {

class IndexedVectorStore final : public VectorStore {
 public:
  IndexedVectorStore(std::unique_ptr<VectorStore> exact, std::string catalog_url, FaceIndexOptions options)
      : exact_(std::move(exact)), catalog_url_(std::move(catalog_url)), options_(options) {}

  Status Prepare(int dimension) override { return exact_->Prepare(dimension); }
  Status Upsert(const std::vector<const FaceRecord*>& faces) override {
    stale_ = true;
    return exact_->Upsert(faces);
  }
  Status UpdateVectors(const std::vector<const FaceRecord*>& faces) override {
    stale_ = true;
    return exact_->UpdateVectors(faces);
  }
  Status Delete(const std::vector<std::string>& point_ids) override {
    stale_ = true;
    return exact_->Delete(point_ids);
  }
  Result<std::map<std::string, Embedding>> Fetch(const std::vector<std::string>& point_ids) override {
    return exact_->Fetch(point_ids);
  }

  Result<std::vector<VectorMatch>> Search(const Embedding& query, int top_k, float min_similarity) override {
    FaceIndex* index = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (stale_ || (!index_ && !failed_)) {
        auto opened = FaceIndex::Open(catalog_url_, options_);
        if (opened.ok()) {
          index_ = std::move(opened).value();
        } else {
          spdlog::warn("face index unavailable ({}): exact search", opened.status().ToString());
          index_.reset();
          failed_ = true;
        }
        stale_ = false;
      }
      index = index_.get();
    }
    if (!index) return exact_->Search(query, top_k, min_similarity);
    return index->Search(query, top_k, min_similarity);
  }

  Result<IdPage> ListIds(const std::string& cursor, int limit) override { return exact_->ListIds(cursor, limit); }
  Result<int64_t> Count() override { return exact_->Count(); }
  std::string Describe() const override { return exact_->Describe() + " (HNSW index)"; }

 private:
  std::unique_ptr<VectorStore> exact_;
  std::string catalog_url_;
  FaceIndexOptions options_;
  std::mutex mutex_;
  std::unique_ptr<FaceIndex> index_;
  bool failed_ = false;
  std::atomic<bool> stale_{false};  // written since the index was opened: catch up before the next search
};

}  // namespace

std::unique_ptr<VectorStore> WithFaceIndex(std::unique_ptr<VectorStore> exact, const std::string& catalog_url,
                                           const FaceIndexOptions& options) {
  return std::make_unique<IndexedVectorStore>(std::move(exact), catalog_url, options);
}

}  // namespace facefill
