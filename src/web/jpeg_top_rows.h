// A JPEG decoded only as far down as the face crops need: libjpeg's DCT scaling, stopped after the last row wanted.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "facefill/image.h"

namespace facefill::web {

// The photo at 1/reduce scale (1, 2, 4 or 8), its rows down to full-resolution row `rows_needed` at least (all
// rows when that is beyond the photo), as DecodeImage would give them: same pixels, same scale, width and height of
// the whole photo. Nullopt when this shortcut does not apply and the caller decodes in full: not a baseline colour
// JPEG stored upright (EXIF orientation 1), larger than `options` allow, or anything libjpeg warns about or refuses
// (DecodeImage then names the problem).
std::optional<DecodedImage> DecodeJpegTopRows(std::span<const uint8_t> bytes, int reduce, int rows_needed,
                                              const DecodeOptions& options = {});

}  // namespace facefill::web
