// The Qdrant vector store: the service's `faces` collection over HTTP/JSON (libcurl). Upserts go in batches of
// `batch` points with up to `in_flight` requests at once, each waited (wait=true) so they are durable before the
// catalog commits; 5xx, 429 and transport failures are retried with backoff, other 4xx are clear errors at once.
// URL: qdrant://HOST[:6333]/COLLECTION (qdrants:// for HTTPS) with optional ?timeout_ms=&retries=&batch=&in_flight=;
// the service's own form http(s)://HOST:PORT[/COLLECTION] is taken too. Points that exist are updated through
// update-vectors and set-payload (never a whole-point upsert), so the payload fields the service owns survive.
#include <atomic>
#include <mutex>
#include <thread>

#include "../core/retry.h"
#include "facefill/url.h"
#include "http_client.h"
#include "qdrant_api.h"
#include "vector_backends.h"

namespace facefill {
namespace {

using nlohmann::json;

struct QdrantOptions {
  std::string base_url;  // http(s)://host:port
  std::string collection;
  std::string api_key;
  std::chrono::milliseconds timeout{30000};
  int retries = 5;    // tries after the first
  int batch = 128;    // points per upsert request
  int in_flight = 3;  // upsert requests at once
};

Result<QdrantOptions> ParseQdrantUrl(const std::string& url) {
  auto parsed = ParseServiceUrl(url);
  if (!parsed.ok()) return parsed.status();
  if (parsed->scheme == "http") parsed->scheme = "qdrant";
  if (parsed->scheme == "https") parsed->scheme = "qdrants";
  if (parsed->scheme != "qdrant" && parsed->scheme != "qdrants") {
    return Status(StatusCode::kInvalidArgument, "Qdrant URLs start with qdrant://, qdrants://, http:// or https://");
  }
  if (!parsed->password.empty() || !parsed->user.empty()) {
    return Status(StatusCode::kInvalidArgument,
                  "do not put credentials in the Qdrant URL: set FACEFILL_QDRANT_API_KEY or "
                  "FACEFILL_QDRANT_API_KEY_FILE");
  }
  QdrantOptions o;
  const std::string host = parsed->host.find(':') != std::string::npos ? "[" + parsed->host + "]" : parsed->host;
  o.base_url = (parsed->scheme == "qdrants" ? "https://" : "http://") + host + ":" +
               std::to_string(parsed->port != 0 ? parsed->port : 6333);
  o.collection = parsed->path.empty() ? "faces" : parsed->path;
  if (o.collection.find_first_of("/?#% ") != std::string::npos) {
    return Status(StatusCode::kInvalidArgument, "bad Qdrant collection name '" + o.collection + "'");
  }
  auto number = [&](const char* key, int low, int high, int* out) -> Status {
    auto it = parsed->query.find(key);
    if (it == parsed->query.end()) return Status::Ok();
    try {
      size_t used = 0;
      const int v = std::stoi(it->second, &used);
      if (used != it->second.size() || v < low || v > high) throw std::out_of_range(key);
      *out = v;
      return Status::Ok();
    } catch (const std::exception&) {
      return Status(StatusCode::kInvalidArgument, std::string("Qdrant URL: ") + key + " must be " +
                                                      std::to_string(low) + ".." + std::to_string(high));
    }
  };
  int timeout_ms = static_cast<int>(o.timeout.count());
  FACEFILL_RETURN_IF_ERROR(number("timeout_ms", 1, 600000, &timeout_ms));
  o.timeout = std::chrono::milliseconds(timeout_ms);
  FACEFILL_RETURN_IF_ERROR(number("retries", 0, 20, &o.retries));
  FACEFILL_RETURN_IF_ERROR(number("batch", 1, 10000, &o.batch));
  FACEFILL_RETURN_IF_ERROR(number("in_flight", 1, 32, &o.in_flight));
  auto key = ReadSecret("FACEFILL_QDRANT_API_KEY");
  if (!key.ok()) return key.status();
  o.api_key = *key;
  return o;
}

class QdrantStore final : public VectorStore {
 public:
  explicit QdrantStore(QdrantOptions options) : options_(std::move(options)) {
    http::ClientOptions client;
    client.timeout = options_.timeout;
    if (!options_.api_key.empty()) client.headers["api-key"] = options_.api_key;
    for (int i = 0; i < options_.in_flight; ++i) clients_.push_back(std::make_unique<http::Client>(client));
  }

  Status Prepare(int dimension) override {
    std::lock_guard lock(mutex_);
    return EnsureCollection(dimension);
  }

  Status Upsert(const std::vector<const FaceRecord*>& faces) override {
    if (faces.empty()) return Status::Ok();
    std::lock_guard lock(mutex_);
    FACEFILL_RETURN_IF_ERROR(EnsureCollection(static_cast<int>(faces.front()->embedding.size())));
    return SendInChunks(faces, "PUT", Collection() + "/points?wait=true", qdrant::UpsertBody);
  }

  Status UpdateVectors(const std::vector<const FaceRecord*>& faces) override {
    if (faces.empty()) return Status::Ok();
    std::lock_guard lock(mutex_);
    FACEFILL_RETURN_IF_ERROR(EnsureCollection(static_cast<int>(faces.front()->embedding.size())));
    // A point the service lost (or never wrote) cannot be updated: it is written whole instead, with the labels of
    // its row, so no face is left without its one point.
    std::vector<std::string> ids;
    for (const FaceRecord* f : faces) ids.push_back(f->point_id);
    auto found = Retrieve(ids, /*with_vector=*/false);
    if (!found.ok()) return found.status();
    std::vector<const FaceRecord*> existing, missing;
    for (const FaceRecord* f : faces) (found->count(f->point_id) != 0 ? existing : missing).push_back(f);
    FACEFILL_RETURN_IF_ERROR(
        SendInChunks(existing, "POST", Collection() + "/points/batch?wait=true", qdrant::UpdateVectorsBody));
    return SendInChunks(missing, "PUT", Collection() + "/points?wait=true", qdrant::UpsertBody);
  }

  Result<std::map<std::string, Embedding>> Fetch(const std::vector<std::string>& point_ids) override {
    std::lock_guard lock(mutex_);
    return Retrieve(point_ids, /*with_vector=*/true);
  }

  Status Delete(const std::vector<std::string>& ids) override {
    if (ids.empty()) return Status::Ok();
    std::lock_guard lock(mutex_);
    auto result = Request(*clients_[0], "POST", Collection() + "/points/delete?wait=true", qdrant::DeleteBody(ids));
    if (!result.ok() && IsMissingCollection(result.status())) return Status::Ok();  // nothing to delete
    return result.ok() ? Status::Ok() : result.status();
  }

  Result<std::vector<VectorMatch>> Search(const Embedding& query, int top_k, float min_similarity) override {
    if (top_k <= 0) return std::vector<VectorMatch>{};
    std::lock_guard lock(mutex_);
    auto result =
        Request(*clients_[0], "POST", Collection() + "/points/query", qdrant::QueryBody(query, top_k, min_similarity));
    if (!result.ok()) return result.status();
    return qdrant::ParseQueryResult(*result);
  }

  // Qdrant scrolls in id order (UUIDs by value: the order of their lower-case text); the cursor is its
  // next_page_offset as JSON.
  Result<IdPage> ListIds(const std::string& cursor, int limit) override {
    std::optional<json> offset;
    if (!cursor.empty()) {
      offset = json::parse(cursor, nullptr, /*allow_exceptions=*/false);
      if (offset->is_discarded()) return Status(StatusCode::kInvalidArgument, "not a Qdrant scroll cursor: " + cursor);
    }
    std::lock_guard lock(mutex_);
    auto result = Request(*clients_[0], "POST", Collection() + "/points/scroll", qdrant::ScrollBody(limit, offset));
    if (!result.ok()) {
      if (IsMissingCollection(result.status())) return IdPage{};
      return result.status();
    }
    auto page = qdrant::ParseScrollResult(*result);
    if (!page.ok()) return page.status();
    IdPage ids;
    ids.ids = std::move(page->ids);
    if (page->next) ids.next = page->next->dump();
    return ids;
  }

  Result<int64_t> Count() override {
    std::lock_guard lock(mutex_);
    auto result = Request(*clients_[0], "POST", Collection() + "/points/count", qdrant::CountBody());
    if (!result.ok()) {
      if (IsMissingCollection(result.status())) return int64_t{0};
      return result.status();
    }
    return qdrant::ParseCountResult(*result);
  }

  // One set-payload request per cluster id and chunk of `batch` points, after a retrieve that leaves out the points
  // the collection lacks (set-payload on a missing point fails the whole request).
  Status SetClusterIds(const std::vector<std::pair<std::string, std::string>>& point_clusters) override {
    if (point_clusters.empty()) return Status::Ok();
    std::lock_guard lock(mutex_);
    std::vector<std::string> ids;
    for (const auto& [point, cluster] : point_clusters) ids.push_back(point);
    auto found = Retrieve(ids, /*with_vector=*/false);
    if (!found.ok()) return found.status();
    std::map<std::string, std::vector<std::string>> by_cluster;
    for (const auto& [point, cluster] : point_clusters) {
      if (found->count(point) != 0) by_cluster[cluster].push_back(point);
    }
    const size_t batch = static_cast<size_t>(options_.batch);
    for (const auto& [cluster, points] : by_cluster) {
      const json payload = {{"cluster_id", cluster.empty() ? json() : json(cluster)}};
      for (size_t start = 0; start < points.size(); start += batch) {
        std::vector<std::string> chunk(points.begin() + static_cast<long>(start),
                                       points.begin() + static_cast<long>(std::min(points.size(), start + batch)));
        auto result = Request(*clients_[0], "POST", Collection() + "/points/payload?wait=true",
                              qdrant::SetPayloadBody(payload, chunk));
        if (!result.ok()) return result.status();
      }
    }
    return Status::Ok();
  }

  std::string Describe() const override {
    return "Qdrant collection '" + options_.collection + "' at " + options_.base_url;
  }

 private:
  using BodyFn = nlohmann::json (*)(const std::vector<const FaceRecord*>&);

  // Sends `faces` in requests of at most `batch` points, up to in_flight requests at once (each on its own
  // connection).
  Status SendInChunks(const std::vector<const FaceRecord*>& faces, const std::string& method, const std::string& path,
                      BodyFn body) {
    if (faces.empty()) return Status::Ok();
    const size_t batch = static_cast<size_t>(options_.batch);
    const size_t chunks = (faces.size() + batch - 1) / batch;
    // One sender per connection (at most in_flight), each taking the next chunk until none is left or one failed.
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::vector<Status> errors(clients_.size());
    auto send = [&](size_t k) {
      for (size_t c = next++; c < chunks && !failed; c = next++) {
        const size_t start = c * batch, n = std::min(faces.size() - start, batch);
        std::vector<const FaceRecord*> chunk(faces.begin() + static_cast<long>(start),
                                             faces.begin() + static_cast<long>(start + n));
        auto result = Request(*clients_[k], method, path, body(chunk));
        if (!result.ok()) {
          errors[k] = result.status();
          failed = true;
        }
      }
    };
    {
      std::vector<std::jthread> senders;
      for (size_t k = 1; k < std::min(clients_.size(), chunks); ++k) senders.emplace_back(send, k);
      send(0);
    }
    for (auto& e : errors) FACEFILL_RETURN_IF_ERROR(e);
    return Status::Ok();
  }

  // The points among `ids` that exist, with their vectors when asked for; a missing collection has none.
  Result<std::map<std::string, Embedding>> Retrieve(const std::vector<std::string>& ids, bool with_vector) {
    std::map<std::string, Embedding> points;
    for (size_t start = 0; start < ids.size(); start += static_cast<size_t>(options_.batch)) {
      const size_t n = std::min(ids.size() - start, static_cast<size_t>(options_.batch));
      std::vector<std::string> chunk(ids.begin() + static_cast<long>(start),
                                     ids.begin() + static_cast<long>(start + n));
      auto result = Request(*clients_[0], "POST", Collection() + "/points", qdrant::RetrieveBody(chunk, with_vector));
      if (!result.ok()) {
        if (IsMissingCollection(result.status())) return points;
        return result.status();
      }
      auto page = qdrant::ParseRetrieveResult(*result);
      if (!page.ok()) return page.status();
      points.merge(*page);
    }
    return points;
  }

  std::string Collection() const { return "/collections/" + options_.collection; }

  static bool IsMissingCollection(const Status& s) { return s.code() == StatusCode::kNotFound; }

  // One request with retries: transport failures, 429 and 5xx are retried with backoff; other answers are final.
  // `http_status` (optional) receives the last answer's HTTP status (0 when none came).
  Result<json> Request(http::Client& client, const std::string& method, const std::string& path, const json& body,
                       long* http_status = nullptr) {
    if (http_status != nullptr) *http_status = 0;
    const std::string url = options_.base_url + path;
    const std::string text = method == "GET" ? "" : body.dump();
    Result<json> result = Status(StatusCode::kInternal, "not sent");
    RetryOptions retry;
    retry.attempts = options_.retries + 1;
    Status status = RetryWithBackoff(
        retry,
        [&]() -> Status {
          auto response = client.Send(method, url, text);
          if (!response.ok()) {
            result = response.status();
            return result.status();
          }
          if (http_status != nullptr) *http_status = response->status;
          result = qdrant::ParseResult(response->status, response->body);
          if (result.ok()) return Status::Ok();
          if (response->status == 429 || response->status >= 500) {
            result = RetryableError(result.status().message());
          }
          return result.status();
        },
        IsRetryableError, [](const Status&, auto) {});
    if (!status.ok() && status.code() == StatusCode::kUnavailable) {
      return Status(StatusCode::kUnavailable,
                    status.message() + " (after " + std::to_string(retry.attempts) + " tries)");
    }
    return result;
  }

  // Creates the collection (cosine, `dimension`) with the service's payload indexes when it is missing; checks the
  // dimension when it exists.
  Status EnsureCollection(int dimension) {
    if (checked_dimension_ == dimension) return Status::Ok();
    auto info = Request(*clients_[0], "GET", Collection(), json());
    if (!info.ok() && IsMissingCollection(info.status())) {
      long http_status = 0;
      auto created = Request(*clients_[0], "PUT", Collection(), qdrant::CreateCollectionBody(dimension), &http_status);
      // 409: another worker created it meanwhile.
      if (!created.ok() && http_status != 409) return created.status();
      for (const auto& field : qdrant::kKeywordIndexes) {
        auto made = Request(*clients_[0], "PUT", Collection() + "/index?wait=true",
                            qdrant::CreateFieldIndexBody(field, "keyword"));
        if (!made.ok()) return made.status();
      }
      for (const auto& field : qdrant::kBoolIndexes) {
        auto made = Request(*clients_[0], "PUT", Collection() + "/index?wait=true",
                            qdrant::CreateFieldIndexBody(field, "bool"));
        if (!made.ok()) return made.status();
      }
      info = Request(*clients_[0], "GET", Collection(), json());
    }
    if (!info.ok()) return info.status();
    auto size = qdrant::ParseVectorSize(*info);
    if (!size.ok()) return size.status();
    if (*size != dimension) {
      return Status(StatusCode::kInvalidArgument, "Qdrant collection '" + options_.collection + "' holds " +
                                                      std::to_string(*size) + "-d vectors but the model gives " +
                                                      std::to_string(dimension) + "-d ones");
    }
    checked_dimension_ = dimension;
    return Status::Ok();
  }

  QdrantOptions options_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<http::Client>> clients_;
  int checked_dimension_ = 0;
};

}  // namespace

Result<std::unique_ptr<VectorStore>> OpenQdrantStore(const std::string& url) {
  auto options = ParseQdrantUrl(url);
  if (!options.ok()) return options.status();
  return std::unique_ptr<VectorStore>(new QdrantStore(std::move(options).value()));
}

}  // namespace facefill
