// The Qdrant vector store: the service's `faces` collection over HTTP/JSON (libcurl). Upserts go in batches of
// `batch` points with up to `in_flight` requests at once, each waited (wait=true) so they are durable before the
// catalog commits; 5xx, 429 and transport failures are retried with backoff, other 4xx are clear errors at once.
// URL: qdrant://HOST[:6333]/COLLECTION (qdrants:// for HTTPS) with optional ?timeout_ms=&retries=&batch=&in_flight=.
#include <future>
#include <mutex>

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
  if (parsed->scheme != "qdrant" && parsed->scheme != "qdrants") {
    return Status(StatusCode::kInvalidArgument, "Qdrant URLs start with qdrant:// or qdrants://");
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

  Status Upsert(const std::vector<const FaceRecord*>& faces) override {
    if (faces.empty()) return Status::Ok();
    std::lock_guard lock(mutex_);
    FACEFILL_RETURN_IF_ERROR(EnsureCollection(static_cast<int>(faces.front()->embedding.size())));
    const std::string path = Collection() + "/points?wait=true";
    for (size_t start = 0; start < faces.size();) {
      // Up to in_flight requests at once, each with its own connection.
      std::vector<std::future<Status>> sent;
      for (size_t k = 0; k < clients_.size() && start < faces.size(); ++k) {
        const size_t n = std::min(faces.size() - start, static_cast<size_t>(options_.batch));
        std::vector<const FaceRecord*> chunk(faces.begin() + static_cast<long>(start),
                                             faces.begin() + static_cast<long>(start + n));
        start += n;
        sent.push_back(std::async(std::launch::async, [this, k, path, chunk = std::move(chunk)]() -> Status {
          auto result = Request(*clients_[k], "PUT", path, qdrant::UpsertBody(chunk));
          return result.ok() ? Status::Ok() : result.status();
        }));
      }
      Status first_error;
      for (auto& f : sent) {
        Status s = f.get();
        if (!s.ok() && first_error.ok()) first_error = s;
      }
      FACEFILL_RETURN_IF_ERROR(first_error);
    }
    return Status::Ok();
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

  Result<std::vector<std::string>> AllIds() override {
    std::lock_guard lock(mutex_);
    std::vector<std::string> ids;
    std::optional<json> offset;
    do {
      auto result = Request(*clients_[0], "POST", Collection() + "/points/scroll", qdrant::ScrollBody(1000, offset));
      if (!result.ok()) {
        if (IsMissingCollection(result.status())) return ids;
        return result.status();
      }
      auto page = qdrant::ParseScrollResult(*result);
      if (!page.ok()) return page.status();
      ids.insert(ids.end(), page->ids.begin(), page->ids.end());
      offset = page->next;
    } while (offset);
    std::sort(ids.begin(), ids.end());
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

  std::string Describe() const override {
    return "Qdrant collection '" + options_.collection + "' at " + options_.base_url;
  }

 private:
  std::string Collection() const { return "/collections/" + options_.collection; }

  static bool IsMissingCollection(const Status& s) { return s.code() == StatusCode::kNotFound; }

  // One request with retries: transport failures, 429 and 5xx are retried with backoff; other answers are final.
  Result<json> Request(http::Client& client, const std::string& method, const std::string& path, const json& body) {
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
      auto created = Request(*clients_[0], "PUT", Collection(), qdrant::CreateCollectionBody(dimension));
      // 409: another worker created it meanwhile.
      if (!created.ok() && created.status().message().find("HTTP 409") == std::string::npos) return created.status();
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
      return Status(StatusCode::kVectorStoreError, "Qdrant collection '" + options_.collection + "' holds " +
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
