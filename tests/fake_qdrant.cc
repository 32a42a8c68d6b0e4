// FakeQdrant: cpp-httplib's server on 127.0.0.1 (keep-alive, a thread per connection) in front of an in-memory
// Qdrant.
#include "fake_qdrant.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <regex>

#include "facefill/face.h"

namespace facefill::testing {
namespace {

using nlohmann::json;

json Ok(json result) { return {{"result", std::move(result)}, {"status", "ok"}, {"time", 0.0001}}; }
json Error(const std::string& message) { return {{"status", {{"error", message}}}, {"time", 0.0001}}; }

std::string IdText(const json& id) { return id.is_string() ? id.get<std::string>() : id.dump(); }

}  // namespace

FakeQdrant::FakeQdrant(std::string api_key)
    : api_key_(std::move(api_key)), server_(std::make_unique<httplib::Server>()) {
  // Enough threads that the client's parallel requests (and its idle keep-alive connections) never queue.
  server_->new_task_queue = [] { return new httplib::ThreadPool(32); };
  server_->set_keep_alive_timeout(1);
  const httplib::Server::Handler serve = [this](const httplib::Request& request, httplib::Response& response) {
    Serve(request, response);
  };
  server_->Get(".*", serve).Put(".*", serve).Post(".*", serve).Delete(".*", serve);
  port_ = server_->bind_to_any_port("127.0.0.1");
  listener_ = std::thread([this] { server_->listen_after_bind(); });
  while (port_ > 0 && !server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FakeQdrant::~FakeQdrant() {
  server_->stop();
  listener_.join();
}

std::string FakeQdrant::url(const std::string& collection, const std::string& query) const {
  return "qdrant://127.0.0.1:" + std::to_string(port_) + "/" + collection + (query.empty() ? "" : "?" + query);
}

void FakeQdrant::AddFault(Fault fault) {
  std::lock_guard lock(mutex_);
  faults_.push_back(std::move(fault));
}

std::vector<RecordedRequest> FakeQdrant::requests() {
  std::lock_guard lock(mutex_);
  return requests_;
}

int FakeQdrant::CountRequests(const std::string& match) {
  std::lock_guard lock(mutex_);
  return static_cast<int>(std::count_if(requests_.begin(), requests_.end(), [&](const RecordedRequest& r) {
    return r.target.find(match) != std::string::npos;
  }));
}

void FakeQdrant::CreateCollection(const std::string& name, int size) {
  std::lock_guard lock(mutex_);
  collections_[name].size = size;
}

size_t FakeQdrant::PointCount(const std::string& name) {
  std::lock_guard lock(mutex_);
  return collections_.count(name) ? collections_[name].points.size() : 0;
}

void FakeQdrant::PutPoint(const std::string& name, const std::string& id, std::vector<float> vector, json payload) {
  std::lock_guard lock(mutex_);
  collections_[name].points[id] = {std::move(vector), std::move(payload)};
}

json FakeQdrant::Payload(const std::string& name, const std::string& id) {
  std::lock_guard lock(mutex_);
  auto c = collections_.find(name);
  if (c == collections_.end() || c->second.points.count(id) == 0) return nullptr;
  return c->second.points[id].payload;
}

std::vector<float> FakeQdrant::Vector(const std::string& name, const std::string& id) {
  std::lock_guard lock(mutex_);
  auto c = collections_.find(name);
  if (c == collections_.end() || c->second.points.count(id) == 0) return {};
  return c->second.points[id].vector;
}

std::vector<std::string> FakeQdrant::PointIds(const std::string& name) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> ids;
  if (collections_.count(name) != 0) {
    for (const auto& [id, point] : collections_[name].points) ids.push_back(id);
  }
  return ids;
}

void FakeQdrant::Serve(const httplib::Request& http, httplib::Response& response) {
  RecordedRequest request;
  request.method = http.method;
  request.target = http.target;
  for (const auto& [name, value] : http.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    request.headers[lower] = value;
  }
  request.body = http.body;
  std::optional<Fault> fault;
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(request);
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
      if (request.target.find(it->match) != std::string::npos) {
        fault = *it;
        faults_.erase(it);
        break;
      }
    }
  }
  if (fault && fault->kind == Fault::Kind::kDrop) {
    // A body promised and never sent: httplib closes the connection when the provider gives up.
    response.set_content_provider(1, "application/json", [](size_t, size_t, httplib::DataSink&) { return false; });
    return;
  }
  if (fault && fault->kind == Fault::Kind::kDelay) {
    std::this_thread::sleep_for(std::chrono::milliseconds(fault->delay_ms));
  }
  const Answer answer =
      fault && fault->kind == Fault::Kind::kStatus ? Answer{fault->status, Error("injected failure")} : Handle(request);
  response.status = answer.status;
  response.set_content(answer.body.dump(), "application/json");
}

FakeQdrant::Answer FakeQdrant::Handle(const RecordedRequest& r) {
  std::lock_guard lock(mutex_);
  if (!api_key_.empty() && (r.headers.count("api-key") == 0 || r.headers.at("api-key") != api_key_)) {
    return {401, Error("Must provide an API key or an Authorization bearer token")};
  }
  static const std::regex kRoute(R"(^/collections/([^/?]+)(/[^?]*)?(\?.*)?$)");
  std::smatch m;
  if (!std::regex_match(r.target, m, kRoute)) return {404, Error("Not found")};
  const std::string name = m[1], rest = m[2];
  json body = json::parse(r.body.empty() ? "null" : r.body, nullptr, false);
  auto it = collections_.find(name);
  const std::string missing = "Not found: Collection `" + name + "` doesn't exist!";
  if (rest.empty() && r.method == "GET") {
    if (it == collections_.end()) return {404, Error(missing)};
    return {200, Ok({{"status", "green"},
                     {"points_count", it->second.points.size()},
                     {"config", {{"params", {{"vectors", {{"size", it->second.size}, {"distance", "Cosine"}}}}}}}})};
  }
  if (rest.empty() && r.method == "PUT") {
    if (it != collections_.end()) return {409, Error("Wrong input: Collection `" + name + "` already exists!")};
    if (!body.is_object() || !body.contains("vectors") || !body["vectors"].contains("size")) {
      return {400, Error("Format error in JSON body")};
    }
    collections_[name].size = body["vectors"]["size"].get<int>();
    return {200, Ok(true)};
  }
  if (it == collections_.end()) return {404, Error(missing)};
  Collection& c = it->second;
  const json done = Ok({{"operation_id", ++operation_}, {"status", "completed"}});
  if (rest == "/index" && r.method == "PUT") {
    c.indexes[body["field_name"].get<std::string>()] = body["field_schema"].get<std::string>();
    return {200, done};
  }
  if (rest == "/points" && r.method == "PUT") {
    for (const auto& p : body["points"]) {
      auto v = p["vector"].get<std::vector<float>>();
      if (static_cast<int>(v.size()) != c.size) {
        return {400, Error("Wrong input: Vector dimension error: expected dim: " + std::to_string(c.size) + ", got " +
                           std::to_string(v.size()))};
      }
    }
    for (const auto& p : body["points"]) {
      c.points[IdText(p["id"])] = {p["vector"].get<std::vector<float>>(), p.value("payload", json::object())};
    }
    return {200, done};
  }
  if (rest == "/points/delete" && r.method == "POST") {
    for (const auto& id : body["points"]) c.points.erase(IdText(id));
    return {200, done};
  }
  // Retrieve: the points found, in the order asked, with their vector when asked for.
  if (rest == "/points" && r.method == "POST") {
    json points = json::array();
    for (const auto& id : body["ids"]) {
      auto p = c.points.find(IdText(id));
      if (p == c.points.end()) continue;
      json record = {{"id", p->first}};
      if (body.value("with_vector", false)) record["vector"] = p->second.vector;
      if (body.value("with_payload", true)) record["payload"] = p->second.payload;
      points.push_back(std::move(record));
    }
    return {200, Ok(points)};
  }
  // Set payload: merged into each listed point (a missing point is an error, as in Qdrant).
  auto set_payload = [&](const json& op) -> std::optional<Answer> {
    for (const auto& id : op["points"]) {
      if (c.points.count(IdText(id)) == 0) return Answer{404, Error("Not found: No point with id " + IdText(id))};
    }
    for (const auto& id : op["points"]) c.points[IdText(id)].payload.update(op["payload"]);
    return std::nullopt;
  };
  if (rest == "/points/payload" && r.method == "POST") {
    if (auto error = set_payload(body)) return *error;
    return {200, done};
  }
  // Batch: update_vectors and set_payload, applied in order; the first failure answers for the batch.
  if (rest == "/points/batch" && r.method == "POST") {
    json results = json::array();
    for (const auto& op : body["operations"]) {
      if (op.contains("update_vectors")) {
        for (const auto& p : op["update_vectors"]["points"]) {
          auto point = c.points.find(IdText(p["id"]));
          if (point == c.points.end()) return {404, Error("Not found: No point with id " + IdText(p["id"]))};
          auto v = p["vector"].get<std::vector<float>>();
          if (static_cast<int>(v.size()) != c.size) return {400, Error("Wrong input: Vector dimension error")};
          point->second.vector = std::move(v);
        }
      } else if (op.contains("set_payload")) {
        if (auto error = set_payload(op["set_payload"])) return *error;
      } else {
        return {400, Error("Format error in JSON body: unsupported operation in this test server")};
      }
      results.push_back({{"operation_id", ++operation_}, {"status", "completed"}});
    }
    return {200, Ok(results)};
  }
  if (rest == "/points/count" && r.method == "POST") return {200, Ok({{"count", c.points.size()}})};
  if (rest == "/points/scroll" && r.method == "POST") {
    const size_t limit = body.value("limit", 10);
    auto p = body.contains("offset") ? c.points.lower_bound(IdText(body["offset"])) : c.points.begin();
    json points = json::array();
    for (; p != c.points.end() && points.size() < limit; ++p) points.push_back({{"id", p->first}});
    return {200, Ok({{"points", points}, {"next_page_offset", p == c.points.end() ? json() : json(p->first)}})};
  }
  if (rest == "/points/query" && r.method == "POST") {
    auto q = body["query"].get<std::vector<float>>();
    if (static_cast<int>(q.size()) != c.size) return {400, Error("Wrong input: Vector dimension error")};
    const float threshold = body.value("score_threshold", -2.0f);
    std::vector<std::pair<float, std::string>> scored;
    for (const auto& [id, point] : c.points) {
      float s = CosineSimilarity(q, point.vector);
      if (s >= threshold) scored.emplace_back(s, id);
    }
    std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    json points = json::array();
    for (size_t i = 0; i < scored.size() && i < body.value("limit", size_t{10}); ++i) {
      const auto& point = c.points[scored[i].second];
      points.push_back({{"id", scored[i].second},
                        {"version", 0},
                        {"score", scored[i].first},
                        {"payload", {{"asset_id", point.payload.value("asset_id", json())}}}});
    }
    return {200, Ok({{"points", points}})};
  }
  return {404, Error("Not found")};
}

}  // namespace facefill::testing
