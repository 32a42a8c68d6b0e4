// The people listing and the hand edits on it: name a cluster (a persons row), merge two clusters, split faces out.
#include <algorithm>
#include <map>

#include "../catalog/catalog_backends.h"
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

namespace people {

Result<std::vector<PeopleCluster>> ListPeople(FaceStore& store, int64_t limit) {
  auto out = store.ListClusters(limit);
  if (!out.ok()) return out.status();
  std::map<std::string, size_t> position;
  for (size_t i = 0; i < out->size(); ++i) position[(*out)[i].cluster_id] = i;
  auto persons = store.PersonsInClusters();
  if (!persons.ok()) return persons.status();
  std::map<std::string, int> persons_in;
  for (const auto& p : *persons) {
    auto it = position.find(p.cluster_id);
    if (it == position.end()) continue;
    PeopleCluster& c = (*out)[it->second];
    if (++persons_in[c.cluster_id] > 1) {  // two persons: no single suggestion
      c.person_id.clear();
      c.person_name.clear();
      c.labelled_faces = 0;
      continue;
    }
    c.person_id = p.person_id;
    c.person_name = p.person_name;
    c.labelled_faces = p.faces;
  }
  return out;
}

}  // namespace people

Result<std::vector<PeopleCluster>> ListPeople(const std::string& catalog_url, int64_t limit) {
  // Listing reads no vectors: the catalog's default vector store is opened but never asked.
  auto store = people::OpenFaceStore(catalog_url, IsPostgresUrl(catalog_url) ? "" : "local");
  if (!store.ok()) return store.status();
  return people::ListPeople(**store, limit);
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
