// The people listing and the hand edits on it: name a cluster (a persons row), merge two clusters, split faces out.
#include <algorithm>
#include <map>

#include "../catalog/sqlite_face_rows.h"
#include "facefill/people.h"
#include "people_catalog.h"

namespace facefill {
namespace {

using people::PeopleCatalog;
using sqlite::Database;

// Persons with labelled faces in a cluster.
Result<std::vector<std::string>> PersonsInCluster(Database& db, const std::string& cluster_id) {
  auto stmt = db.Prepare(
      "SELECT DISTINCT person_id FROM face_instances WHERE cluster_id = ? AND person_id IS NOT NULL ORDER BY 1");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, cluster_id);
  std::vector<std::string> persons;
  FACEFILL_RETURN_IF_ERROR(stmt->ForEachRow([&] { persons.push_back(stmt->Text(0)); }));
  return persons;
}

Result<int64_t> CountFaces(Database& db, const std::string& cluster_id) {
  auto stmt = db.Prepare("SELECT COUNT(*) FROM face_instances WHERE cluster_id = ?");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, cluster_id);
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  return stmt->Int(0);
}

Status NoSuchCluster(const std::string& cluster_id) {
  return Status(StatusCode::kNotFound, "no cluster " + cluster_id + " (see `facefill people`)");
}

}  // namespace

Result<std::vector<PeopleCluster>> ListPeople(const std::string& catalog_url, int64_t limit) {
  auto catalog = PeopleCatalog::Open(catalog_url);
  if (!catalog.ok()) return catalog.status();
  Database& db = (*catalog)->db();
  std::lock_guard lock(db.mutex());
  // The representative face of each cluster, read as the catalog reads any face, then its two counts.
  auto clusters = db.Prepare(
      "WITH ranked AS (SELECT f.cluster_id, f.id, ROW_NUMBER() OVER (PARTITION BY f.cluster_id ORDER BY "
      "COALESCE(f.quality_score, 0) DESC, f.detection_confidence DESC, f.bbox_w * f.bbox_h DESC, f.id) AS rank, "
      "COUNT(*) OVER (PARTITION BY f.cluster_id) AS faces FROM face_instances f WHERE f.cluster_id IS NOT NULL) "
      "SELECT " +
      std::string(kSqliteFaceColumns) +
      ", r.faces, (SELECT COUNT(DISTINCT asset_id) FROM face_instances WHERE cluster_id = r.cluster_id) FROM ranked "
      "r JOIN face_instances f ON f.id = r.id JOIN image_assets a ON a.id = f.asset_id WHERE r.rank = 1 ORDER BY "
      "r.faces DESC, r.cluster_id" +
      std::string(limit > 0 ? " LIMIT " + std::to_string(limit) : ""));
  if (!clusters.ok()) return clusters.status();
  std::vector<PeopleCluster> out;
  std::map<std::string, size_t> position;
  FACEFILL_RETURN_IF_ERROR(clusters->ForEachRow([&] {
    const StoredFace face = StoredFaceAt(*clusters);
    PeopleCluster c;
    c.cluster_id = face.cluster_id.value_or("");
    c.faces = clusters->Int(kSqliteFaceColumnCount);
    c.photos = clusters->Int(kSqliteFaceColumnCount + 1);
    c.face_id = face.id;
    c.path = face.asset_path;
    c.bbox_x = face.bbox_x;
    c.bbox_y = face.bbox_y;
    c.bbox_w = face.bbox_w;
    c.bbox_h = face.bbox_h;
    position[c.cluster_id] = out.size();
    out.push_back(std::move(c));
  }));
  auto persons = db.Prepare(
      "SELECT f.cluster_id, f.person_id, COALESCE(p.name, ''), COUNT(*) FROM face_instances f LEFT JOIN persons p "
      "ON p.id = f.person_id WHERE f.cluster_id IS NOT NULL AND f.person_id IS NOT NULL GROUP BY 1, 2, 3");
  if (!persons.ok()) return persons.status();
  std::map<std::string, int> persons_in;
  FACEFILL_RETURN_IF_ERROR(persons->ForEachRow([&] {
    auto it = position.find(persons->Text(0));
    if (it == position.end()) return;
    PeopleCluster& c = out[it->second];
    if (++persons_in[c.cluster_id] > 1) {  // two persons: no single suggestion
      c.person_id.clear();
      c.person_name.clear();
      c.labelled_faces = 0;
      return;
    }
    c.person_id = persons->Text(1);
    c.person_name = persons->Text(2);
    c.labelled_faces = persons->Int(3);
  }));
  return out;
}

Result<std::string> NameCluster(const std::string& catalog_url, const std::string& cluster_id,
                                const std::string& name) {
  if (name.empty()) return Status(StatusCode::kInvalidArgument, "a person needs a name");
  auto catalog = PeopleCatalog::Open(catalog_url);
  if (!catalog.ok()) return catalog.status();
  Database& db = (*catalog)->db();
  std::lock_guard lock(db.mutex());
  auto faces = CountFaces(db, cluster_id);
  if (!faces.ok()) return faces.status();
  if (*faces == 0) return NoSuchCluster(cluster_id);
  std::string person_id;
  Status status = db.Transaction([&]() -> Status {
    auto find = db.Prepare("SELECT id FROM persons WHERE name = ? AND status = 'active' ORDER BY created_at LIMIT 1");
    if (!find.ok()) return find.status();
    find->Bind(1, name);
    auto row = find->Step();
    if (!row.ok()) return row.status();
    if (*row) {
      person_id = find->Text(0);
    } else {
      person_id = people::NewId();
      auto insert = db.Prepare("INSERT INTO persons(id, name) VALUES (?, ?)");
      if (!insert.ok()) return insert.status();
      FACEFILL_RETURN_IF_ERROR(insert->Bind(1, person_id).Bind(2, name).Run());
    }
    auto label = db.Prepare(
        "UPDATE face_instances SET person_id = ?, updated_at = CURRENT_TIMESTAMP WHERE cluster_id = ? AND "
        "person_id IS NULL");
    if (!label.ok()) return label.status();
    return label->Bind(1, person_id).Bind(2, cluster_id).Run();
  });
  if (!status.ok()) return status;
  return person_id;
}

Status MergeClusters(const std::string& catalog_url, const std::string& into, const std::string& from) {
  if (into == from) return Status(StatusCode::kInvalidArgument, "merging a cluster with itself");
  auto catalog = PeopleCatalog::Open(catalog_url);
  if (!catalog.ok()) return catalog.status();
  Database& db = (*catalog)->db();
  std::lock_guard lock(db.mutex());
  for (const auto& id : {into, from}) {
    auto faces = CountFaces(db, id);
    if (!faces.ok()) return faces.status();
    if (*faces == 0) return NoSuchCluster(id);
  }
  auto a = PersonsInCluster(db, into);
  if (!a.ok()) return a.status();
  auto b = PersonsInCluster(db, from);
  if (!b.ok()) return b.status();
  std::vector<std::string> both = *a;
  both.insert(both.end(), b->begin(), b->end());
  std::sort(both.begin(), both.end());
  both.erase(std::unique(both.begin(), both.end()), both.end());
  if (both.size() > 1) {
    return Status(StatusCode::kInvalidArgument,
                  "clusters " + into + " and " + from + " hold faces of different named persons: not merged");
  }
  return db.Transaction([&]() -> Status {
    auto move =
        db.Prepare("UPDATE face_instances SET cluster_id = ?, updated_at = CURRENT_TIMESTAMP WHERE cluster_id = ?");
    if (!move.ok()) return move.status();
    return move->Bind(1, into).Bind(2, from).Run();
  });
}

Result<std::string> SplitFaces(const std::string& catalog_url, const std::vector<std::string>& face_ids) {
  if (face_ids.empty()) return Status(StatusCode::kInvalidArgument, "split needs at least one face id");
  auto catalog = PeopleCatalog::Open(catalog_url);
  if (!catalog.ok()) return catalog.status();
  Database& db = (*catalog)->db();
  std::lock_guard lock(db.mutex());
  const std::string cluster_id = people::NewId();
  Status status = db.Transaction([&]() -> Status {
    auto move = db.Prepare("UPDATE face_instances SET cluster_id = ?, updated_at = CURRENT_TIMESTAMP WHERE id = ?");
    if (!move.ok()) return move.status();
    auto changes = db.Prepare("SELECT changes()");
    if (!changes.ok()) return changes.status();
    for (const auto& id : face_ids) {
      FACEFILL_RETURN_IF_ERROR(move->Bind(1, cluster_id).Bind(2, id).Run());
      auto row = changes->Step();
      if (!row.ok()) return row.status();
      const int64_t changed = changes->Int(0);
      changes->Reset();
      if (changed == 0) return Status(StatusCode::kNotFound, "no face " + id);
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return cluster_id;
}

}  // namespace facefill
