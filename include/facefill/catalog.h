// The catalog: image assets, face rows and scan status (SQLite embedded; PostgreSQL at scale).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "facefill/records.h"
#include "facefill/status.h"

namespace facefill {

struct PendingQuery {
  int64_t after_id = 0;       // keyset pagination: only assets with a larger id
  int limit = 256;            // at most this many
  bool retry_errors = false;  // include assets whose last scan failed
  bool rescan = false;        // include every asset, scanned or not
};

struct CatalogStats {
  int64_t assets = 0;
  int64_t scanned = 0;  // done + no_faces + scanned_by_service
  // Assets with face rows and no facefill status: the image-search service found their faces (its own rule for
  // "scanned"), so facefill leaves them alone unless asked to --rescan.
  int64_t scanned_by_service = 0;
  int64_t no_faces = 0;
  int64_t errors = 0;
  int64_t faces = 0;
  std::map<std::string, int64_t> errors_by_reason;
  int64_t rejected_files = 0;  // files `scan` could not add (also counted in errors_by_reason)
};

// A file `scan` found but the catalog cannot hold (a path longer than the service's column, ...), with why.
struct RejectedFile {
  std::string path;
  Status reason;  // its code name is the recorded reason (path_too_long, ...)
};

// What `scan` did to the catalog.
struct ScanCounts {
  int64_t added = 0;
  int64_t refreshed = 0;  // size or modification time changed: metadata updated and marked for rescanning
  int64_t unchanged = 0;
  // On the image-search service's database: files that changed on disk whose asset row is the service's to
  // update (facefill leaves it as it is; `backfill --rescan` re-detects their faces).
  int64_t left_to_service = 0;
  std::vector<RejectedFile> rejected;  // recorded in the catalog too; the rest of the batch is stored
};

// An asset whose last scan failed, as `facefill errors` lists it.
struct FailedAsset {
  int64_t asset_id = 0;
  std::string path;
  std::string reason;   // the error code: not_found, corrupt_image, ...
  std::string message;  // what the decoder or reader said, without the path in front
  std::string scanned_at;
};

// A batch of assets leased to one worker (distributed claims): nobody else takes them until the lease expires.
struct ClaimRequest {
  std::string owner;                // unique per worker process
  int limit = 8;                    // assets per claim
  int lease_seconds = 30;           // an asset not committed or renewed by then is taken over by another worker
  int64_t retry_errors_before = 0;  // also claim assets that failed before this Unix time (0: never)
};

// One holder's live leases on unscanned assets.
struct LeaseHolder {
  std::string owner;
  int64_t assets = 0;
  int64_t expires_at = 0;  // Unix time at which the last of them expires
};

// Thread-safe: calls are serialised internally.
class Catalog {
 public:
  virtual ~Catalog() = default;

  // Adds new files and refreshes changed ones, in one transaction.
  virtual Status UpsertAssets(const std::vector<AssetRecord>& assets, ScanCounts* counts) = 0;

  // Assets that need processing, by ascending id.
  virtual Result<std::vector<AssetRecord>> ListPending(const PendingQuery& query) = 0;
  virtual Result<int64_t> CountPending(const PendingQuery& query) = 0;

  // True for the image-search service's own database: its rows are the service's, facefill adds face rows only.
  virtual bool IsServiceDatabase() const { return false; }
  // True when the catalog writes each face's vector itself, in the transaction of its face rows (pgvector, opened
  // through OpenStores): the vector store then only reads them (VectorStore::WrittenByCatalog).
  virtual bool WritesVectors() const { return false; }

  // Faces currently stored for these assets (for keeping ids on rescan).
  virtual Result<std::map<int64_t, std::vector<StoredFace>>> FacesOfAssets(const std::vector<int64_t>& asset_ids) = 0;

  // In one transaction, per outcome: inserts its new faces, updates the rows of faces matched to stored ones (never
  // their vector id, person or cluster), deletes outcome.removed (never a face that has a person or a cluster by
  // the time of the commit) and records its scan status under model_id. `deleted_point_ids` (may be null) receives
  // the vector ids of the rows actually deleted. With a lease_owner, only assets whose lease this owner still holds
  // are written (others were taken over after the lease expired), and its leases are released.
  virtual Status CommitScans(const std::vector<ScanOutcome>& outcomes, const std::string& model_id,
                             const std::string& lease_owner, std::vector<std::string>* deleted_point_ids) = 0;

  // Distributed claims, for catalogs many processes share (PostgreSQL). Others return false / kInvalidArgument.
  virtual bool SupportsClaims() const { return false; }
  // Leases up to request.limit unscanned assets whose lease is free or expired, by ascending id.
  virtual Result<std::vector<AssetRecord>> Claim(const ClaimRequest& request);
  // Gives back this owner's leases on assets it has not committed (after a cancelled run).
  virtual Status ReleaseLeases(const std::string& owner);
  // Unscanned assets another worker holds a live lease on.
  virtual Result<int64_t> CountLiveLeases();
  // Extends every lease this owner holds to lease_seconds from now: the heartbeat of a live holder.
  virtual Status RenewLeases(const std::string& owner, int lease_seconds);
  // Live leases on unscanned assets, per holder, by owner.
  virtual Result<std::vector<LeaseHolder>> LiveLeases();

  // Faces by their vector id (qdrant_point_id), for search results.
  virtual Result<std::vector<StoredFace>> FacesByPointIds(const std::vector<std::string>& point_ids) = 0;
  // Every face's vector id in ascending byte order, at most `limit` a page: start with the cursor "", then pass
  // each page's `next` until it is empty. Memory holds one page, however many faces there are.
  virtual Result<IdPage> ListPointIds(const std::string& cursor, int limit) = 0;
  // Every face's vector id, sorted (every page at once).
  virtual Result<std::vector<std::string>> AllPointIds();
  // Up to `limit` faces with landmarks (and their asset path), for checking which model wrote stored vectors.
  virtual Result<std::vector<StoredFace>> SampleFaces(int limit) = 0;
  // Assets marked done whose stored face count differs from their face rows.
  virtual Result<std::vector<int64_t>> AssetsWithMissingFaces() = 0;
  // Clears the scan status of these assets (and the assets owning these vector ids) so the next backfill redoes
  // them.
  virtual Status MarkForRescan(const std::vector<int64_t>& asset_ids, const std::vector<std::string>& point_ids) = 0;

  // Which model wrote the vectors of a store (keyed by VectorStore::Describe()), as recorded by the model guard.
  virtual Result<std::optional<std::string>> VectorModel(const std::string& store) = 0;
  virtual Status RecordVectorModel(const std::string& store, const std::string& model_id, int dimension) = 0;
  virtual Result<CatalogStats> Stats() = 0;
  // Assets whose last scan failed, most recent first (then by path); up to `limit` (0: all).
  virtual Result<std::vector<FailedAsset>> ListErrors(int64_t limit);

  // `scan --prune`, embedded catalogs only (others return kInvalidArgument): the assets whose path lies inside
  // `folder`, and removing assets with their faces and scan status (returns the removed faces' ids, whose vectors
  // the caller deletes).
  virtual Result<std::vector<AssetRecord>> AssetsUnder(const std::string& folder);
  virtual Result<std::vector<std::string>> RemoveAssets(const std::vector<int64_t>& asset_ids);

  // Library folders that `scan` has walked; the backfill reads only files that resolve inside one of them.
  virtual Status AddLibraryRoot(const std::string& canonical_path) = 0;
  virtual Result<std::vector<std::string>> LibraryRoots() = 0;
};

struct CatalogOptions {
  // PostgreSQL only: on a database without the image-search service's schema, create its image_assets,
  // face_instances and persons tables exactly as its migrations do (`--standalone`). Without it such a database is
  // refused, so facefill never takes the place of the service's migrations by accident.
  bool standalone = false;
  // SQLite only: create the file when it does not exist. Read-only commands open with false and get kNotFound
  // ("no catalog at PATH") instead of a new, empty catalog.
  bool create_if_missing = true;
};

// Opens (creating and migrating) a catalog by URL: "sqlite:PATH", a bare path, or "postgresql://..." (libpq URI;
// the password may also come from PGPASSWORD or a .pgpass file, and is never logged; the service's
// "postgresql+asyncpg://" and "postgresql+psycopg2://" forms are taken too). Any other "SCHEME://" is refused as an
// unsupported scheme. On PostgreSQL facefill's own tables live in the schema "facefill", never in the service's
// "public".
Result<std::unique_ptr<Catalog>> OpenCatalog(const std::string& url, const CatalogOptions& options = {});

}  // namespace facefill
