// `facefill serve`: a local web server over a catalog — the embedded SQLite one or PostgreSQL (the image-search
// service's database among them, with its vector store) — people, a person, a photo with its boxes, search and status
// (with the live progress of a backfill and of queued jobs), as plain HTML served by the binary. On PostgreSQL it
// only reads: naming, merging and moving faces out are refused (403).
//
//   auto stores = OpenStores("sqlite:facefill.db", "");
//   auto server = WebServer::Create("sqlite:facefill.db", std::move(*stores), std::move(analyzer), {});
//   (*server)->Listen();  // blocks until Stop() (from another thread)
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "facefill/analyzer.h"
#include "facefill/job_queue.h"
#include "facefill/search.h"
#include "facefill/status.h"
#include "facefill/stores.h"

namespace facefill {

struct ServeOptions {
  std::string bind = "127.0.0.1";  // loopback only unless asked
  int port = 8080;                 // 0: any free port (see WebServer::port())
  // Largest request body (a search upload); a larger one gets 413 and an error page.
  int64_t max_upload_bytes = int64_t{20} << 20;
  // Face crops and downscaled photos are cached on disk in this folder (default: the catalog's file + ".webcache";
  // for PostgreSQL, $XDG_CACHE_HOME/facefill/postgresql-HASH.webcache, one per database), holding at most cache_bytes
  // (least recently used files go first).
  std::string cache_dir;
  int64_t cache_bytes = int64_t{256} << 20;
  int crop_size = 160;          // face crop side, pixels
  int photo_max_side = 1280;    // longest side of a downscaled photo
  int unclustered_limit = 500;  // unclustered faces shown on the People page
  // Request threads. Each keep-alive connection holds one while it is open, and a browser opens six or more per
  // page, so there are more than cores; image work is bounded by the decoder, not by this.
  int threads = 32;
  SearchOptions search{.top_k = 12};
  Status Validate() const;
};

// Thread-safe: requests run on a pool of threads.
class WebServer {
 public:
  // Opens the catalog's view (SQLite or PostgreSQL, as `catalog_url` says; `stores` are that catalog and its vector
  // store) and binds the port. `analyzer` may be null:
  // search by upload then says that no model pack was found; search by a stored face still works. `queue` may be
  // null; with one, the Status page shows the progress of its jobs.
  static Result<std::unique_ptr<WebServer>> Create(const std::string& catalog_url, Stores stores,
                                                   std::unique_ptr<FaceAnalyzer> analyzer,
                                                   const ServeOptions& options = {},
                                                   std::unique_ptr<JobQueue> queue = nullptr);
  virtual ~WebServer() = default;

  // Serves until Stop(); returns an error when the listener fails.
  virtual Status Listen() = 0;
  virtual void Stop() = 0;
  virtual int port() const = 0;
  // The per-process token every POST must carry (form field "token").
  virtual const std::string& token() const = 0;
};

}  // namespace facefill
