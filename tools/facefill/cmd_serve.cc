// `facefill serve [--port 8080] [--bind 127.0.0.1] [--queue redis://...] [--cache-dir DIR]`: the local web page
// over the catalog, SQLite or PostgreSQL (src/web).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>
#include <thread>

#include "commands.h"
#include "core/process_tuning.h"
#include "facefill/face_index.h"
#include "facefill/web.h"
#include "model_flags.h"
#include "queue_flags.h"
#include "store_flags.h"

namespace facefill::cli {
namespace {

struct ServeFlags {
  StoreFlags stores;
  ModelFlags models;
  ServeOptions options;
  int64_t max_upload_mb = 20;
  int64_t cache_mb = 256;
  std::string queue;  // Redis job queue whose jobs the Status page shows
};

int Run(ServeFlags flags) {
  // Ctrl-C and SIGTERM are taken by one thread that stops the server. Blocked first, so that every thread started
  // later (the model runtime's, the request pool) inherits the mask and none of them dies of the signal.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // Crops decode photos into large buffers, many a page: reused, not mapped and zeroed by the kernel each time.
  TuneAllocatorForLargeBuffers();
  flags.options.max_upload_bytes = flags.max_upload_mb << 20;
  flags.options.cache_bytes = flags.cache_mb << 20;
  if (Status valid = flags.options.Validate(); !valid.ok()) {
    spdlog::error("{}", valid.ToString());
    return kExitUsage;
  }
  std::string db, vectors;  // as --db / --vectors / --service-env name them
  if (int rc = ResolveStoreUrls(flags.stores, &db, &vectors); rc != kExitOk) return rc;
  Stores stores;
  if (int rc = OpenStoresOrExit(flags.stores, &stores); rc != kExitOk) return rc;
  // Search goes through the HNSW index beside an embedded catalog's own vectors, as `facefill search` does.
  // On PostgreSQL it goes through the vector store's own search (the service's Qdrant collection, or pgvector).
  if ((vectors.empty() || vectors == "local") && !UsesPgvector(vectors, db)) {
    FaceIndexOptions index;
    index.huge_pages = true;  // a server searches many times: faster searches are worth a slower open
    stores.vectors = WithFaceIndex(std::move(stores.vectors), db, index);
  }
  std::unique_ptr<JobQueue> queue;
  if (const std::string url = QueueUrl(flags.queue, flags.stores.service_env); !url.empty()) {
    queue = OpenQueueOrLog(url);
    if (!queue) return kExitUsage;
  }
  auto analyzer = OpenAnalyzer(flags.models, flags.models.threads >= 0 ? flags.models.threads : 0);
  if (!analyzer) spdlog::warn("no model pack: search by photo is off (search by a stored face still works)");
  auto server = WebServer::Create(db, std::move(stores), std::move(analyzer), flags.options, std::move(queue));
  if (!server.ok()) {
    spdlog::error("{}", server.status().ToString());
    return server.status().code() == StatusCode::kUnavailable ? kExitFailure : kExitUsage;
  }
  std::thread([&server, stop_signals] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    (*server)->Stop();
  }).detach();
  std::cout << fmt::format("facefill serve: http://{}:{}/ (Ctrl-C stops)", flags.options.bind, (*server)->port())
            << std::endl;
  Status listened = (*server)->Listen();
  if (!listened.ok()) {
    spdlog::error("{}", listened.ToString());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

void RegisterServe(CLI::App* app) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd =
      app->add_subcommand("serve",
                          "A local web page over the catalog (SQLite, or PostgreSQL read only): people, photos, "
                          "search, status");
  AddStoreFlags(cmd, &flags->stores);
  AddModelFlags(cmd, &flags->models);
  cmd->add_option("--port", flags->options.port, "TCP port (0: any free one, printed at start)")->capture_default_str();
  cmd->add_option("--bind", flags->options.bind,
                  "Address to listen on; anything but loopback lets other machines see your photos")
      ->capture_default_str();
  cmd->add_option("--max-upload-mb", flags->max_upload_mb, "Largest search upload, MiB")->capture_default_str();
  cmd->add_option("--cache-mb", flags->cache_mb,
                  "Face crops and downscaled photos kept on disk beside the catalog (CATALOG.webcache), MiB")
      ->capture_default_str();
  cmd->add_option("--cache-dir", flags->options.cache_dir,
                  "Folder of that cache (default: beside an embedded catalog; for PostgreSQL, "
                  "$XDG_CACHE_HOME/facefill/postgresql-HASH.webcache)");
  AddQueueFlag(cmd, &flags->queue);
  cmd->final_callback([flags] { throw CommandResult(Run(*flags)); });
}

}  // namespace facefill::cli
