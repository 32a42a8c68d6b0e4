// Pipeline flags -> BackfillOptions.
#include "pipeline_flags.h"

namespace facefill::cli {

void AddPipelineFlags(CLI::App* app, BackfillOptions* o) {
  app->add_option("--batch-size", o->batch_size, "Faces per embedder call")->capture_default_str();
  app->add_option("--decode-threads", o->decode_threads, "Image decoding threads")->capture_default_str();
  app->add_option("--workers", o->workers, "Inference threads (0: one per core)")->capture_default_str();
  app->add_option("--write-batch", o->write_batch, "Assets per transaction")->capture_default_str();
  app->add_option("--max-pixels", o->decode.max_pixels, "Refuse larger images")->capture_default_str();
  app->add_option("--max-file-size", o->decode.max_file_bytes, "Refuse larger files (bytes)")->capture_default_str();
  app->add_option("--decode-scale", o->decode.reduce, "JPEG decode scale 1/N: 1, 2, 4, 8, or 0 for auto")
      ->capture_default_str();
  app->add_option("--library-root", o->library_roots,
                  "Read only files inside these folders (in addition to the roots `scan` recorded)");
  app->add_option("--claim-batch", o->claim_batch, "Shared catalogs: assets leased at a time")->capture_default_str();
  app->add_option("--lease-seconds", o->lease_seconds,
                  "Shared catalogs: a running holder renews its leases every third of this; the assets of one that "
                  "stops (killed) are taken over by others after this long")
      ->capture_default_str();
  app->add_flag("--force-model", o->force_model,
                "Write into a vector store even when its vectors come from another recogniser (or cannot be "
                "checked); vectors of two models are not comparable");
}

}  // namespace facefill::cli
