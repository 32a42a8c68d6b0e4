// FakeQdrant: a blocking HTTP/1.1 server (keep-alive, Content-Length bodies) on 127.0.0.1, one thread per connection.
#include "fake_qdrant.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <regex>

#include "facefill/face.h"

namespace facefill::testing {
namespace {

using nlohmann::json;

json Ok(json result) { return {{"result", std::move(result)}, {"status", "ok"}, {"time", 0.0001}}; }
json Error(const std::string& message) { return {{"status", {{"error", message}}}, {"time", 0.0001}}; }

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Reads one request; false when the peer closed or sent garbage.
bool ReadRequest(int fd, std::string* buffer, RecordedRequest* out) {
  size_t header_end;
  while ((header_end = buffer->find("\r\n\r\n")) == std::string::npos) {
    char chunk[65536];
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer->append(chunk, static_cast<size_t>(n));
  }
  std::string head = buffer->substr(0, header_end);
  size_t line_end = head.find("\r\n");
  std::string request_line = head.substr(0, line_end);
  size_t sp1 = request_line.find(' '), sp2 = request_line.rfind(' ');
  if (sp1 == std::string::npos || sp2 <= sp1) return false;
  out->method = request_line.substr(0, sp1);
  out->target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  out->headers.clear();
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) end = head.size();
    std::string line = head.substr(pos, end - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      out->headers[name] = value;
    }
    pos = end + 2;
  }
  size_t length = out->headers.count("content-length") ? std::stoul(out->headers["content-length"]) : 0;
  size_t body_start = header_end + 4;
  while (buffer->size() < body_start + length) {
    char chunk[65536];
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer->append(chunk, static_cast<size_t>(n));
  }
  out->body = buffer->substr(body_start, length);
  buffer->erase(0, body_start + length);
  return true;
}

std::string IdText(const json& id) { return id.is_string() ? id.get<std::string>() : id.dump(); }

}  // namespace

FakeQdrant::FakeQdrant(std::string api_key) : api_key_(std::move(api_key)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  listen(listen_fd_, 64);
  acceptor_ = std::thread([this] {
    while (!stopping_) {
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) break;
      std::lock_guard lock(mutex_);
      if (stopping_) {
        close(fd);
        break;
      }
      open_fds_.push_back(fd);
      connections_.emplace_back([this, fd] { Serve(fd); });
    }
  });
}

FakeQdrant::~FakeQdrant() {
  stopping_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  close(listen_fd_);
  acceptor_.join();
  std::vector<std::thread> connections;
  {
    std::lock_guard lock(mutex_);
    for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
    connections.swap(connections_);
  }
  for (auto& t : connections) t.join();
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

void FakeQdrant::Serve(int fd) {
  std::string buffer;
  RecordedRequest request;
  while (!stopping_ && ReadRequest(fd, &buffer, &request)) {
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
    Answer answer;
    if (fault && fault->kind == Fault::Kind::kDrop) break;  // close without answering
    if (fault && fault->kind == Fault::Kind::kDelay) {
      std::this_thread::sleep_for(std::chrono::milliseconds(fault->delay_ms));
    }
    if (fault && fault->kind == Fault::Kind::kStatus) {
      answer = {fault->status, Error("injected failure")};
    } else {
      answer = Handle(request);
    }
    const std::string body = answer.body.dump();
    const std::string response =
        "HTTP/1.1 " + std::to_string(answer.status) + " " + Reason(answer.status) +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (!SendAll(fd, response)) break;
  }
  close(fd);
  std::lock_guard lock(mutex_);
  open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
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
