// Qdrant request bodies and answer parsing. Parsers never throw: a body of the wrong shape is kVectorStoreError.
#include "qdrant_api.h"

namespace facefill::qdrant {
namespace {

using nlohmann::json;

Status Malformed(const std::string& what) {
  return Status(StatusCode::kVectorStoreError, "unexpected answer from Qdrant: " + what);
}

// Point ids are UUIDs (strings) for facefill, but Qdrant also allows unsigned integers.
std::optional<std::string> PointId(const json& id) {
  if (id.is_string()) return id.get<std::string>();
  if (id.is_number_unsigned()) return std::to_string(id.get<uint64_t>());
  return std::nullopt;
}

}  // namespace

json CreateCollectionBody(int dimension) { return {{"vectors", {{"size", dimension}, {"distance", "Cosine"}}}}; }

json CreateFieldIndexBody(const std::string& field, const std::string& schema) {
  return {{"field_name", field}, {"field_schema", schema}};
}

static json DetectionPayload(const FaceRecord& f) {
  return {{"detection_confidence", f.detection_confidence},
          {"quality_score", f.quality_score},
          {"bbox", {{"x", f.bbox_x}, {"y", f.bbox_y}, {"w", f.bbox_w}, {"h", f.bbox_h}}}};
}

json UpsertBody(const std::vector<const FaceRecord*>& faces) {
  json points = json::array();
  for (const FaceRecord* f : faces) {
    json payload = DetectionPayload(*f);
    payload["asset_id"] = std::to_string(f->asset_id);
    payload["face_instance_id"] = f->id;
    payload["is_prototype"] = false;
    payload["is_assigned"] = f->person_id.has_value();
    if (f->person_id) payload["person_id"] = *f->person_id;
    if (f->cluster_id) payload["cluster_id"] = *f->cluster_id;
    if (!f->taken_at.empty()) payload["taken_at"] = f->taken_at;
    points.push_back({{"id", f->point_id}, {"vector", f->embedding}, {"payload", std::move(payload)}});
  }
  return {{"points", std::move(points)}};
}

json UpdateVectorsBody(const std::vector<const FaceRecord*>& faces) {
  json vectors = json::array();
  json operations = json::array();
  for (const FaceRecord* f : faces) vectors.push_back({{"id", f->point_id}, {"vector", f->embedding}});
  operations.push_back({{"update_vectors", {{"points", std::move(vectors)}}}});
  for (const FaceRecord* f : faces) {
    operations.push_back(
        {{"set_payload", {{"payload", DetectionPayload(*f)}, {"points", json::array({f->point_id})}}}});
  }
  return {{"operations", std::move(operations)}};
}

json SetPayloadBody(const json& payload, const std::vector<std::string>& ids) {
  return {{"payload", payload}, {"points", ids}};
}

json RetrieveBody(const std::vector<std::string>& ids, bool with_vector) {
  return {{"ids", ids}, {"with_payload", false}, {"with_vector", with_vector}};
}

json DeleteBody(const std::vector<std::string>& ids) { return {{"points", ids}}; }

json QueryBody(const Embedding& vector, int limit, float score_threshold) {
  return {{"query", vector},
          {"limit", limit},
          {"score_threshold", score_threshold},
          {"with_payload", json::array({"asset_id"})},
          {"with_vector", false}};
}

json ScrollBody(int limit, const std::optional<json>& offset) {
  json body = {{"limit", limit}, {"with_payload", false}, {"with_vector", false}};
  if (offset) body["offset"] = *offset;
  return body;
}

json CountBody() { return {{"exact", true}}; }

Result<json> ParseResult(long http_status, const std::string& body) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (http_status < 200 || http_status >= 300) {
    std::string why;
    if (parsed.is_object() && parsed.contains("status") && parsed["status"].is_object() &&
        parsed["status"].contains("error") && parsed["status"]["error"].is_string()) {
      why = parsed["status"]["error"].get<std::string>();
    } else {
      why = body.substr(0, 200);
    }
    // 404 (a missing collection) is its own code, so callers can tell "nothing there" from a failure.
    return Status(http_status == 404 ? StatusCode::kNotFound : StatusCode::kVectorStoreError,
                  "Qdrant answered HTTP " + std::to_string(http_status) + ": " + why);
  }
  if (!parsed.is_object() || !parsed.contains("result"))
    return Malformed("no result in a " + std::to_string(http_status));
  return parsed["result"];
}

Result<int> ParseVectorSize(const json& result) {
  const json* vectors = nullptr;
  if (result.is_object() && result.contains("config") && result["config"].is_object() &&
      result["config"].contains("params") && result["config"]["params"].is_object() &&
      result["config"]["params"].contains("vectors")) {
    vectors = &result["config"]["params"]["vectors"];
  }
  if (vectors == nullptr || !vectors->is_object()) return Malformed("collection info without vector parameters");
  if (!vectors->contains("size") || !(*vectors)["size"].is_number_unsigned()) {
    return Status(StatusCode::kVectorStoreError,
                  "the collection has named vectors; facefill writes one unnamed vector per point");
  }
  return static_cast<int>((*vectors)["size"].get<uint64_t>());
}

Result<std::vector<VectorMatch>> ParseQueryResult(const json& result) {
  if (!result.is_object() || !result.contains("points") || !result["points"].is_array()) {
    return Malformed("query result without points");
  }
  std::vector<VectorMatch> matches;
  for (const auto& p : result["points"]) {
    if (!p.is_object() || !p.contains("id") || !p.contains("score") || !p["score"].is_number()) {
      return Malformed("scored point without id or score");
    }
    auto id = PointId(p["id"]);
    if (!id) return Malformed("point id of an unknown kind");
    VectorMatch m;
    m.point_id = *id;
    m.similarity = p["score"].get<float>();
    if (p.contains("payload") && p["payload"].is_object() && p["payload"].contains("asset_id")) {
      const json& a = p["payload"]["asset_id"];
      if (a.is_string()) {
        try {
          m.asset_id = std::stoll(a.get<std::string>());
        } catch (const std::exception&) {
          m.asset_id = 0;
        }
      } else if (a.is_number_integer()) {
        m.asset_id = a.get<int64_t>();
      }
    }
    matches.push_back(std::move(m));
  }
  return matches;
}

Result<ScrollPage> ParseScrollResult(const json& result) {
  if (!result.is_object() || !result.contains("points") || !result["points"].is_array()) {
    return Malformed("scroll result without points");
  }
  ScrollPage page;
  for (const auto& p : result["points"]) {
    auto id = p.is_object() && p.contains("id") ? PointId(p["id"]) : std::nullopt;
    if (!id) return Malformed("point without a usable id");
    page.ids.push_back(*id);
  }
  if (result.contains("next_page_offset") && !result["next_page_offset"].is_null()) {
    page.next = result["next_page_offset"];
  }
  return page;
}

Result<int64_t> ParseCountResult(const json& result) {
  if (!result.is_object() || !result.contains("count") || !result["count"].is_number_unsigned()) {
    return Malformed("count result without a count");
  }
  return static_cast<int64_t>(result["count"].get<uint64_t>());
}

Result<std::map<std::string, Embedding>> ParseRetrieveResult(const json& result) {
  if (!result.is_array()) return Malformed("points result is not a list");
  std::map<std::string, Embedding> points;
  for (const auto& p : result) {
    auto id = p.is_object() && p.contains("id") ? PointId(p["id"]) : std::nullopt;
    if (!id) return Malformed("point without a usable id");
    Embedding vector;
    if (p.contains("vector") && p["vector"].is_array()) {
      for (const auto& x : p["vector"]) {
        if (!x.is_number()) return Malformed("vector with a value that is not a number");
        vector.push_back(x.get<float>());
      }
    }
    points[*id] = std::move(vector);
  }
  return points;
}

}  // namespace facefill::qdrant
