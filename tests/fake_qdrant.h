// A loopback HTTP server (cpp-httplib) that answers as Qdrant does (its REST API for one unnamed-vector collection,
// in memory), records every request, and can be told to misbehave: an error status, a slow answer, a dropped
// connection.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace facefill::testing {

struct RecordedRequest {
  std::string method;
  std::string target;                          // path and query
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// What to do to the next request whose target contains `match`.
struct Fault {
  enum class Kind { kStatus, kDelay, kDrop };
  Kind kind = Kind::kStatus;
  std::string match;
  int status = 503;  // kStatus
  int delay_ms = 0;  // kDelay: answer normally after this long
  // kDrop: the connection is closed once the status line and headers are sent, before the body (cpp-httplib cannot
  // close a connection without answering; to the client both are a failed transfer), and the request is not applied.
};

class FakeQdrant {
 public:
  explicit FakeQdrant(std::string api_key = "");
  ~FakeQdrant();

  std::string url(const std::string& collection, const std::string& query = "") const;
  void AddFault(Fault fault);
  std::vector<RecordedRequest> requests();
  // Requests whose target contains `match`.
  int CountRequests(const std::string& match);
  // Pre-creates a collection (to test dimension mismatches, or to seed one as the service leaves it).
  void CreateCollection(const std::string& name, int size);
  size_t PointCount(const std::string& name);
  // Writes a point directly, as the service would have (seeding).
  void PutPoint(const std::string& name, const std::string& id, std::vector<float> vector, nlohmann::json payload);
  // A stored point's payload / vector; null / empty when there is no such point.
  nlohmann::json Payload(const std::string& name, const std::string& id);
  std::vector<float> Vector(const std::string& name, const std::string& id);
  std::vector<std::string> PointIds(const std::string& name);

 private:
  struct Point {
    std::vector<float> vector;
    nlohmann::json payload;
  };
  struct Collection {
    int size = 0;
    std::map<std::string, Point> points;
    std::map<std::string, std::string> indexes;
  };
  struct Answer {
    int status = 200;
    nlohmann::json body;
  };

  void Serve(const httplib::Request& http, httplib::Response& response);
  Answer Handle(const RecordedRequest& request);

  std::string api_key_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread listener_;
  std::mutex mutex_;
  std::deque<Fault> faults_;
  std::vector<RecordedRequest> requests_;
  std::map<std::string, Collection> collections_;
  int operation_ = 0;
};

}  // namespace facefill::testing
