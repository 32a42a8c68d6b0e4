// WebServer: the routes of `facefill serve` over cpp-httplib — pages, images by catalog id, and the token-guarded
// edits.
#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>

#include "../catalog/catalog_backends.h"
#include "../sqlite/sqlite_url.h"
#include "catalog_view.h"
#include "facefill/calibration.h"
#include "facefill/image.h"
#include "facefill/people.h"
#include "facefill/url.h"
#include "facefill/web.h"
#include "html.h"
#include "image_cache.h"
#include "live_progress.h"
#include "pages.h"

namespace facefill {
namespace {

using httplib::Request;
using httplib::Response;
using web::Escape;

constexpr const char* kHtml = "text/html; charset=utf-8";
// Ids in a request are matched by these patterns before anything is looked up; the filesystem sees no request part.
constexpr const char* kId = "([0-9A-Za-z-]{1,64})";
constexpr const char* kAssetId = "([0-9]{1,18})";

std::string NewToken() {
  std::random_device random;  // the kernel's generator
  std::string token;
  for (int i = 0; i < 4; ++i) token += fmt::format("{:08x}", random());
  return token;
}

// Compares without stopping at the first difference.
bool SameSecret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

int HttpStatusOf(const Status& status) {
  switch (status.code()) {
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kPermissionDenied:
      return 404;  // outside the library: as if absent
    case StatusCode::kInvalidArgument:
      return 409;
    case StatusCode::kEmptyFile:
      return 400;
    case StatusCode::kUnsupportedFormat:
    case StatusCode::kCorruptImage:
      return 415;
    case StatusCode::kImageTooLarge:
      return 413;
    default:
      return 500;
  }
}

// Where crops are cached by default: beside an embedded catalog's file; for a PostgreSQL catalog, in the user's cache
// folder, one per database (named by a hash of its URL less the password).
std::string DefaultCacheDir(const std::string& catalog_url) {
  if (!IsPostgresUrl(catalog_url)) return SqlitePathFromUrl(catalog_url) + ".webcache";
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::string base = xdg && *xdg ? xdg : std::string(home && *home ? home : ".") + "/.cache";
  uint64_t hash = 14695981039346656037ull;  // FNV-1a: the same folder in every build
  for (unsigned char c : RedactUrl(catalog_url)) hash = (hash ^ c) * 1099511628211ull;
  return fmt::format("{}/facefill/postgresql-{:016x}.webcache", base, hash);
}

bool IsLoopback(const std::string& bind) { return bind == "127.0.0.1" || bind == "localhost" || bind == "::1"; }

class WebServerImpl : public WebServer {
 public:
  WebServerImpl(std::string url, Stores stores, std::unique_ptr<FaceAnalyzer> analyzer, ServeOptions options,
                std::unique_ptr<JobQueue> queue)
      : url_(std::move(url)),
        stores_(std::move(stores)),
        analyzer_(std::move(analyzer)),
        options_(std::move(options)),
        token_(NewToken()),
        queue_(std::move(queue)),
        live_(*stores_.catalog, queue_.get()) {}

  Status Init() {
    FACEFILL_ASSIGN_OR_RETURN(view_, web::CatalogView::Open(url_));
    FACEFILL_ASSIGN_OR_RETURN(auto roots, stores_.catalog->LibraryRoots());
    if (options_.cache_dir.empty()) options_.cache_dir = DefaultCacheDir(url_);
    FACEFILL_ASSIGN_OR_RETURN(cache_, web::ImageCache::Open(options_.cache_dir, options_.cache_bytes, roots));
    // Naming, merging and moving faces out are edits of the embedded catalog (as `people name|merge|split`). On
    // PostgreSQL they are refused always: the image-search service's rows are its own (people are named in the
    // service), and on facefill's own PostgreSQL catalogs those edits do not exist yet.
    writable_ = !IsPostgresUrl(url_);
    service_database_ = stores_.catalog->IsServiceDatabase();
    if (analyzer_) {
      same_person_ = SamePersonThreshold(analyzer_->pack());
      options_.search.min_confidence = DefaultMinConfidence(analyzer_->pack());
    }
    Routes();
    const int threads = options_.threads;
    http_.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    http_.set_payload_max_length(static_cast<size_t>(options_.max_upload_bytes));
    // Headers and body go out in two writes: without this, Nagle's algorithm holds the body of every small image
    // until the client's delayed ACK (tens of milliseconds per crop on a keep-alive connection).
    http_.set_tcp_nodelay(true);
    // A page of faces is hundreds of requests: keep a connection for many of them, and let an idle one go soon.
    http_.set_keep_alive_max_count(1000);
    http_.set_keep_alive_timeout(2);
    http_.set_default_headers({{"X-Content-Type-Options", "nosniff"},
                               {"X-Frame-Options", "DENY"},
                               {"Referrer-Policy", "no-referrer"},
                               {"Content-Security-Policy",
                                "default-src 'self'; img-src 'self'; style-src 'unsafe-inline'; "
                                "script-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"}});
    http_.set_error_handler(httplib::Server::HandlerWithResponse([](const Request&, Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      std::string message = res.status == 413   ? "The upload is larger than this server takes."
                            : res.status == 404 ? "Nothing here."
                                                : "The request could not be served.";
      res.set_content(web::ErrorPage(res.status, message), kHtml);
      return httplib::Server::HandlerResponse::Handled;
    }));
    http_.set_exception_handler([](const Request&, Response& res, std::exception_ptr error) {
      std::string what = "unknown error";
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      spdlog::error("serve: {}", what);
      res.status = 500;
      res.set_content(web::ErrorPage(500, what), kHtml);
    });
    const bool loopback = IsLoopback(options_.bind);
    http_.set_pre_routing_handler([loopback](const Request& req, Response& res) {
      // cpp-httplib answers "br" with Brotli at its slowest quality (seconds for a page of a thousand faces): such
      // clients get gzip instead. The request object is the server's own, not const: only the handler's view is.
      auto& headers = const_cast<Request&>(req).headers;
      if (auto it = headers.find("Accept-Encoding"); it != headers.end()) {
        it->second = it->second.find("gzip") != std::string::npos ? "gzip" : "";
      }
      // Loopback servers answer only to loopback names, so a page elsewhere cannot reach them by DNS rebinding.
      if (!loopback) return httplib::Server::HandlerResponse::Unhandled;
      std::string host = req.get_header_value("Host");
      if (!host.empty() && host.front() == '[') {
        host = host.substr(0, host.find(']') + 1);
      } else {
        host = host.substr(0, host.find(':'));
      }
      if (host == "127.0.0.1" || host == "localhost" || host == "[::1]") {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      res.status = 403;
      res.set_content(web::ErrorPage(403, "This server answers to localhost only."), kHtml);
      return httplib::Server::HandlerResponse::Handled;
    });
    http_.set_logger([](const Request& req, const Response& res) {
      spdlog::debug("serve: {} {} -> {}", req.method, req.path, res.status);
    });
    port_ = options_.port == 0 ? http_.bind_to_any_port(options_.bind) : options_.port;
    if (port_ < 0 || (options_.port != 0 && !http_.bind_to_port(options_.bind, options_.port))) {
      return Status::Unavailable(fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)",
                                             options_.bind, options_.port));
    }
    return Status::Ok();
  }

  Status Listen() override {
    if (!http_.listen_after_bind()) return Status::Unavailable("the web server stopped listening");
    return Status::Ok();
  }
  void Stop() override { http_.stop(); }
  int port() const override { return port_; }
  const std::string& token() const override { return token_; }

 private:
  static void Html(Response& res, const std::string& html, int status = 200) {
    res.status = status;
    res.set_header("Cache-Control", "no-store");
    res.set_content(html, kHtml);
  }
  static void Fail(Response& res, const Status& status) {
    const int code = HttpStatusOf(status);
    if (code == 500) spdlog::error("serve: {}", status.ToString());
    // A missing file or one outside the library says only "not found", never where it looked.
    Html(res, web::ErrorPage(code, code == 404 ? "Not found." : status.message()), code);
  }
  // A POST's token: refused (403) unless it is this process's.
  bool CheckToken(const Request& req, Response& res) const {
    std::string given = req.has_param("token") ? req.get_param_value("token") : "";
    if (given.empty() && req.has_file("token")) given = req.get_file_value("token").content;
    if (!given.empty() && SameSecret(given, token_)) return true;
    Html(res, web::ErrorPage(403, "This form has expired or did not come from this server: reload the page."), 403);
    return false;
  }
  bool CheckWritable(Response& res) const {
    if (writable_) return true;
    Html(res,
         web::ErrorPage(403, service_database_
                                 ? "This catalog is the image-search service's database: it is read only here. Name, "
                                   "merge and split people in the service."
                                 : "This catalog is on PostgreSQL: it is read only here. Naming, merging and moving "
                                   "faces out work on the embedded catalog."),
         403);
    return false;
  }
  static void Redirect(Response& res, const std::string& to) {
    res.status = 303;
    res.set_header("Location", to);
  }
  // Sends an image with caching headers; 304 when the browser holds this version.
  template <typename Render>
  void Image(const Request& req, Response& res, const std::string& etag, Render&& render) {
    res.set_header("Cache-Control", "private, max-age=300");
    res.set_header("ETag", etag);
    if (req.get_header_value("If-None-Match") == etag) {
      res.status = 304;
      return;
    }
    auto image = render();
    if (!image.ok()) return Fail(res, image.status());
    res.set_content(std::move(image->jpeg), "image/jpeg");
  }

  void Routes() {
    http_.Get("/", [this](const Request&, Response& res) {
      auto people = view_->People();
      if (!people.ok()) return Fail(res, people.status());
      int64_t total = 0;
      auto unclustered = view_->UnclusteredFaces(options_.unclustered_limit, &total);
      if (!unclustered.ok()) return Fail(res, unclustered.status());
      Html(res, web::PeoplePage(*people, *unclustered, total));
    });
    http_.Get(fmt::format("/person/{}", kId),
              [this](const Request& req, Response& res) { PersonPage(req.matches[1], res, "", 200); });
    http_.Post(fmt::format("/person/{}/name", kId), [this](const Request& req, Response& res) {
      if (!CheckToken(req, res) || !CheckWritable(res)) return;
      const std::string cluster = req.matches[1];
      const std::string name = req.get_param_value("name");
      if (name.empty() || name.size() > 200) return PersonPage(cluster, res, "A name has 1 to 200 characters.", 400);
      auto person = NameCluster(url_, cluster, name);
      if (!person.ok()) return PersonPage(cluster, res, person.status().message(), HttpStatusOf(person.status()));
      Redirect(res, "/person/" + cluster);
    });
    http_.Post(fmt::format("/person/{}/merge", kId), [this](const Request& req, Response& res) {
      if (!CheckToken(req, res) || !CheckWritable(res)) return;
      const std::string into = req.matches[1];
      const std::string from = req.get_param_value("from");
      Status merged = from.empty() || from.size() > 64 ? Status::InvalidArgument("no cluster to merge")
                                                       : MergeClusters(url_, into, from);
      if (!merged.ok()) return PersonPage(into, res, merged.message(), HttpStatusOf(merged));
      Redirect(res, "/person/" + into);
    });
    http_.Post(fmt::format("/face/{}/split", kId), [this](const Request& req, Response& res) {
      if (!CheckToken(req, res) || !CheckWritable(res)) return;
      auto face = view_->Face(req.matches[1]);
      if (!face.ok()) return Fail(res, face.status());
      if (!face->has_value()) return Fail(res, Status::NotFound("no such face"));
      auto split = SplitFaces(url_, {(*face)->id});
      if (!split.ok()) return Fail(res, split.status());
      Redirect(res, (*face)->cluster_id.empty() ? "/person/" + *split : "/person/" + (*face)->cluster_id);
    });
    http_.Get(fmt::format("/photo/{}", kAssetId), [this](const Request& req, Response& res) {
      auto asset = view_->Asset(std::stoll(req.matches[1]));
      if (!asset.ok()) return Fail(res, asset.status());
      if (!asset->has_value()) return Fail(res, Status::NotFound("no such photo"));
      auto faces = view_->FacesOfAsset((*asset)->id);
      if (!faces.ok()) return Fail(res, faces.status());
      Html(res, web::PhotoPage(**asset, *faces));
    });
    http_.Get(fmt::format("/crop/{}\\.jpg", kId), [this](const Request& req, Response& res) {
      auto face = view_->Face(req.matches[1]);
      if (!face.ok()) return Fail(res, face.status());
      if (!face->has_value()) return Fail(res, Status::NotFound("no such face"));
      const int size = options_.crop_size;
      Image(req, res, web::ImageCache::CropEtag(**face, size), [&] {
        // On a miss the photo's other faces are cropped from the same decode: pages show faces many at a time.
        return cache_->FaceCrop(**face, size, [&] { return view_->FacesOfAsset((*face)->asset_id); });
      });
    });
    http_.Get(fmt::format("/image/{}\\.jpg", kAssetId), [this](const Request& req, Response& res) {
      auto asset = view_->Asset(std::stoll(req.matches[1]));
      if (!asset.ok()) return Fail(res, asset.status());
      if (!asset->has_value()) return Fail(res, Status::NotFound("no such photo"));
      const int side = options_.photo_max_side;
      Image(req, res, web::ImageCache::PhotoEtag(**asset, side), [&] { return cache_->Photo(**asset, side); });
    });
    http_.Get("/search", [this](const Request& req, Response& res) {
      if (!req.has_param("face"))
        return Html(res, web::SearchPage(token_, analyzer_ != nullptr, nullptr, same_person_, ""));
      auto face = view_->Face(req.get_param_value("face"));
      if (!face.ok()) return Fail(res, face.status());
      if (!face->has_value()) return Fail(res, Status::NotFound("no such face"));
      auto hits = SearchByStoredFace(*stores_.catalog, *stores_.vectors, (*face)->point_id, options_.search);
      if (!hits.ok()) return Fail(res, hits.status());
      std::vector<web::SearchResultView> results{{"Faces like this one", (*face)->id, std::move(hits).value()}};
      Html(res, web::SearchPage(token_, analyzer_ != nullptr, &results, same_person_, ""));
    });
    http_.Post("/search", [this](const Request& req, Response& res) { SearchUpload(req, res); });
    http_.Get("/status", [this](const Request&, Response& res) {
      auto stats = stores_.catalog->Stats();
      if (!stats.ok()) return Fail(res, stats.status());
      auto vectors = stores_.vectors->Count();
      if (!vectors.ok()) return Fail(res, vectors.status());
      auto failed = stores_.catalog->ListErrors(500);
      if (!failed.ok()) return Fail(res, failed.status());
      Html(res, web::StatusPage(*stats, *vectors, *failed, queue_ != nullptr));
    });
    // What the Status page polls: the catalog's counts, leases and pace, and the queued jobs (LiveProgress).
    http_.Get("/api/status", [this](const Request&, Response& res) {
      auto live = live_.Poll();
      if (!live.ok()) return Fail(res, live.status());
      auto vectors = stores_.vectors->Count();
      if (!vectors.ok()) return Fail(res, vectors.status());
      (*live)["vectors"] = *vectors;
      res.set_header("Cache-Control", "no-store");
      res.set_content(live->dump(), "application/json");
    });
  }

  void PersonPage(const std::string& cluster_id, Response& res, const std::string& notice, int status) {
    auto people = view_->People();
    if (!people.ok()) return Fail(res, people.status());
    auto it = std::find_if(people->begin(), people->end(),
                           [&](const PeopleCluster& c) { return c.cluster_id == cluster_id; });
    if (it == people->end()) return Fail(res, Status::NotFound("no such person"));
    auto faces = view_->FacesOfCluster(cluster_id);
    if (!faces.ok()) return Fail(res, faces.status());
    const PeopleCluster cluster = *it;
    people->erase(it);
    Html(res, web::PersonPage(cluster, *faces, *people, token_, writable_, notice), status);
  }

  void SearchUpload(const Request& req, Response& res) {
    if (!CheckToken(req, res)) return;
    if (!analyzer_) return Fail(res, Status::InvalidArgument("search by photo needs a model pack (--models)"));
    if (!req.has_file("photo")) return Html(res, web::ErrorPage(400, "Choose a photo to search with."), 400);
    const auto& file = req.get_file_value("photo");
    const auto* bytes = reinterpret_cast<const uint8_t*>(file.content.data());
    DecodeOptions decode;
    decode.max_file_bytes = options_.max_upload_bytes;
    auto image = DecodeImage({bytes, file.content.size()}, "the upload", decode);
    if (!image.ok()) {
      const int code = HttpStatusOf(image.status());
      return Html(res,
                  web::ErrorPage(code, fmt::format("{} is not a photo facefill can read (JPEG, PNG, WebP, TIFF, BMP "
                                                   "or HEIF): {}",
                                                   file.filename.empty() ? "The upload" : file.filename,
                                                   image.status().message())),
                  code);
    }
    Result<std::vector<QueryFaceResult>> found = Status::Internal("not run");
    {
      std::lock_guard lock(analyzer_mutex_);  // one model instance, one image at a time
      found = SearchByImage(*analyzer_, *stores_.catalog, *stores_.vectors, image->bgr, options_.search);
    }
    if (!found.ok()) return Fail(res, found.status());
    std::vector<web::SearchResultView> results;
    for (size_t i = 0; i < found->size(); ++i) {
      const auto& q = (*found)[i];
      results.push_back({fmt::format("Face {} of {} in the photo (score {:.2f})", i + 1, found->size(), q.query.score),
                         std::nullopt, q.hits});
    }
    Html(res, web::SearchPage(token_, true, &results, same_person_,
                              results.empty() ? "No face found in the uploaded photo." : ""));
  }

  const std::string url_;
  Stores stores_;
  std::unique_ptr<FaceAnalyzer> analyzer_;
  std::mutex analyzer_mutex_;
  ServeOptions options_;
  const std::string token_;
  std::unique_ptr<JobQueue> queue_;
  web::LiveProgress live_;
  std::unique_ptr<web::CatalogView> view_;
  std::unique_ptr<web::ImageCache> cache_;
  bool writable_ = false;
  bool service_database_ = false;
  std::optional<float> same_person_;
  httplib::Server http_;
  int port_ = 0;
};

}  // namespace

Status ServeOptions::Validate() const {
  if (port < 0 || port > 65535) return Status::InvalidArgument("--port must be 0..65535");
  if (bind.empty()) return Status::InvalidArgument("--bind needs an address");
  if (max_upload_bytes < 1024) return Status::InvalidArgument("the upload limit must be at least 1 KiB");
  if (cache_bytes < 0) return Status::InvalidArgument("the cache size cannot be negative");
  if (crop_size < 16 || crop_size > 1024) return Status::InvalidArgument("crop size must be 16..1024");
  if (photo_max_side < 64 || photo_max_side > 8192) return Status::InvalidArgument("photo size must be 64..8192");
  if (threads < 1) return Status::InvalidArgument("at least one request thread");
  return Status::Ok();
}

Result<std::unique_ptr<WebServer>> WebServer::Create(const std::string& catalog_url, Stores stores,
                                                     std::unique_ptr<FaceAnalyzer> analyzer,
                                                     const ServeOptions& options, std::unique_ptr<JobQueue> queue) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  auto server =
      std::make_unique<WebServerImpl>(catalog_url, std::move(stores), std::move(analyzer), options, std::move(queue));
  FACEFILL_RETURN_IF_ERROR(server->Init());
  return std::unique_ptr<WebServer>(std::move(server));
}

}  // namespace facefill
