// Qdrant's REST API as facefill uses it: the request bodies (checked against Qdrant's OpenAPI types by the contract
// test) and the parsing of its answers, kept apart from the transport so both can be tested and fuzzed alone.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "facefill/records.h"
#include "facefill/vector_store.h"

namespace facefill::qdrant {

// Keyword payload indexes the image-search service relies on, and its boolean ones (is_assigned is the optional one
// its backfill_is_assigned script adds; facefill creates it with the collection).
inline const std::vector<std::string> kKeywordIndexes = {"person_id", "cluster_id", "asset_id", "face_instance_id"};
inline const std::vector<std::string> kBoolIndexes = {"is_prototype", "is_assigned"};

// PUT /collections/{name}: Schemas['CreateCollection'].
nlohmann::json CreateCollectionBody(int dimension);
// PUT /collections/{name}/index: Schemas['CreateFieldIndex'] (field_schema "keyword" or "bool").
nlohmann::json CreateFieldIndexBody(const std::string& field, const std::string& schema);
// PUT /collections/{name}/points: Schemas['PointInsertOperations'], with the service's payload (point id =
// FaceRecord::point_id; is_assigned true exactly when a person is set, as the service writes it).
nlohmann::json UpsertBody(const std::vector<const FaceRecord*>& faces);
// POST /collections/{name}/points/batch: Schemas['UpdateOperations']: these points' vectors replaced and their
// detection fields (bbox, detection_confidence, quality_score) set, every other payload field left as it is.
nlohmann::json UpdateVectorsBody(const std::vector<const FaceRecord*>& faces);
// POST /collections/{name}/points/payload: Schemas['SetPayload']: `payload` merged into each of these points.
nlohmann::json SetPayloadBody(const nlohmann::json& payload, const std::vector<std::string>& ids);
// POST /collections/{name}/points: Schemas['PointRequest'] (points by id, without payload, with or without vector).
nlohmann::json RetrieveBody(const std::vector<std::string>& ids, bool with_vector);
// POST /collections/{name}/points/delete: Schemas['PointsSelector'].
nlohmann::json DeleteBody(const std::vector<std::string>& ids);
// POST /collections/{name}/points/query: Schemas['QueryRequest'] (nearest neighbours of a vector).
nlohmann::json QueryBody(const Embedding& vector, int limit, float score_threshold);
// POST /collections/{name}/points/scroll: Schemas['ScrollRequest'] (ids only), from `offset` when given.
nlohmann::json ScrollBody(int limit, const std::optional<nlohmann::json>& offset);
// POST /collections/{name}/points/count: Schemas['CountRequest'].
nlohmann::json CountBody();

// An answer: the `result` member of a 2xx body, or an error that quotes Qdrant's `status.error` (kNotFound for a
// 404, kVectorStoreError otherwise).
Result<nlohmann::json> ParseResult(long http_status, const std::string& body);
// GET /collections/{name} result -> the vector size (single unnamed vector).
Result<int> ParseVectorSize(const nlohmann::json& result);
Result<std::vector<VectorMatch>> ParseQueryResult(const nlohmann::json& result);
struct ScrollPage {
  std::vector<std::string> ids;
  std::optional<nlohmann::json> next;  // next_page_offset; absent at the end
};
Result<ScrollPage> ParseScrollResult(const nlohmann::json& result);
Result<int64_t> ParseCountResult(const nlohmann::json& result);
// POST /collections/{name}/points result -> the points found, with their vector when asked for (empty otherwise).
Result<std::map<std::string, Embedding>> ParseRetrieveResult(const nlohmann::json& result);

}  // namespace facefill::qdrant
