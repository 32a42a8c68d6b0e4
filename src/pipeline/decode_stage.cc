// The decode stage: asset files opened beneath their library root and decoded from that descriptor.
#include "decode_stage.h"

#include <utility>
#include <vector>

#include "thread_boundary.h"

namespace facefill::pipeline {

Result<DecodedImage> DecodeAsset(const AssetRecord& asset, const Containment& containment, const DecodeOptions& options,
                                 StageClock* clock) {
  auto timer = clock->Start("decode");
  // Opened once, beneath its library root, and decoded from that descriptor: nothing to swap in between.
  auto file = containment.Open(asset.path);
  if (!file.ok()) return file.status();
  std::vector<uint8_t> bytes;
  FACEFILL_RETURN_IF_ERROR(ReadOpenFileBytes(file->get(), asset.path, options.max_file_bytes, &bytes));
  // With region decode the bytes stay with the image: its faces are decoded again from them, never from the path.
  return DecodeImageKeepingBytes(std::move(bytes), asset.path, options);
}

void DecodeStage::Start(int threads, BoundedQueue<AssetRecord>* in, BoundedQueue<DecodedAsset>* out,
                        StageThreads* run) {
  running_ = threads;
  for (int t = 0; t < threads; ++t) {
    run->Start(
        "decode thread",
        [this, in, out] {
          DecodeAll(in, out);
          return Status::Ok();
        },
        [this, out] {
          if (--running_ == 0) out->Close();
        });
  }
}

void DecodeStage::DecodeAll(BoundedQueue<AssetRecord>* in, BoundedQueue<DecodedAsset>* out) {
  while (auto asset = in->Pop()) {
    DecodedAsset item{std::move(*asset)};
    // An exception in one asset's work is that asset's error.
    Status decoded = CatchEscapes(item.asset.path, [&] {
      CallStageHook("decode", item.asset);
      item.image = DecodeAsset(item.asset, containment_, options_, clock_);
    });
    if (!decoded.ok()) item.image = decoded;
    if (!out->Push(std::move(item))) break;
  }
}

}  // namespace facefill::pipeline
