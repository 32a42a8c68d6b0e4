// Region decode: full-resolution pixels of chosen rectangles of a JPEG in one libjpeg-turbo pass that skips the rows
// between them (jpeg_skip_scanlines) and crops the columns around them (jpeg_crop_scanline).
#include "jpeg_regions.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <string>
#include <vector>

// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include "exif_orientation.h"
#include "facefill/image.h"

namespace facefill {
namespace {

using image_internal::ApplyExifOrientation;
using image_internal::OrientationSwapsAxes;
using image_internal::StoredRect;

// Rows between two regions closer than this are decoded rather than skipped: a skip restarts the row pipeline.
constexpr int kMergeGapRows = 32;

// libjpeg's error manager, extended with the jump target its errors return to and the first warning that matters.
struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  char warning[JMSG_LENGTH_MAX];
  int warning_code = -1;  // the first warning other than extraneous bytes before a marker; -1: none
};

void JumpOnError(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void RecordWarning(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  // Extraneous bytes before a marker are common in camera files that decode correctly (as DecodeImage accepts).
  if (cinfo->err->msg_code == JWRN_EXTRANEOUS_DATA || err->warning_code >= 0) return;
  err->warning_code = cinfo->err->msg_code;
  (*cinfo->err->format_message)(cinfo, err->warning);
}

// Runs `body`, a sequence of libjpeg calls creating no C++ objects, returning false when libjpeg reported an error
// (its error handler jumps back here).
template <typename F>
bool Guarded(ErrorManager* err, F&& body) {
  if (setjmp(err->jump) != 0) return false;
  body();
  return true;
}

// A decompressor over bytes in memory, destroyed (and its memory freed) at scope exit.
class Decompressor {
 public:
  explicit Decompressor(std::span<const uint8_t> jpeg) {
    cinfo_.err = jpeg_std_error(&err_.pub);
    err_.pub.error_exit = JumpOnError;
    err_.pub.emit_message = RecordWarning;
    // Inside the guard too: creation reports running out of memory through error_exit, which jumps.
    created_ = Guarded(&err_, [&] { jpeg_create_decompress(&cinfo_); });
    header_read_ = created_ && Guarded(&err_, [&] {
                     jpeg_mem_src(&cinfo_, jpeg.data(), static_cast<unsigned long>(jpeg.size()));
                     jpeg_read_header(&cinfo_, TRUE);
                   });
  }
  ~Decompressor() {
    if (created_) jpeg_destroy_decompress(&cinfo_);
  }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  bool header_read() const { return header_read_; }
  // Greyscale, YCbCr or RGB 8-bit data, which libjpeg-turbo converts to BGR itself.
  bool ConvertsToBgr() const {
    if (cinfo_.data_precision != 8) return false;
    return cinfo_.jpeg_color_space == JCS_GRAYSCALE || cinfo_.jpeg_color_space == JCS_YCbCr ||
           cinfo_.jpeg_color_space == JCS_RGB;
  }
  jpeg_decompress_struct* cinfo() { return &cinfo_; }
  ErrorManager* err() { return &err_; }

 private:
  jpeg_decompress_struct cinfo_{};
  ErrorManager err_{};
  bool created_ = false;
  bool header_read_ = false;
};

Status Named(std::string_view name, StatusCode code, const std::string& what) {
  return Status(code, std::string(name) + ": " + what);
}

// Consecutive stored rows [y0, y1) decoded together, at the cropped width.
struct Band {
  int y0 = 0, y1 = 0;
  cv::Mat bgr;
  std::vector<JSAMPROW> rows;
};

}  // namespace

namespace image_internal {

bool JpegDecodesByRegion(std::span<const uint8_t> jpeg) {
  Decompressor d(jpeg);
  return d.header_read() && d.ConvertsToBgr();
}

cv::Rect StoredRect(const cv::Rect& upright, int orientation, int stored_width, int stored_height) {
  const int w = stored_width, h = stored_height;
  // The stored pixel shown at upright pixel (u, v).
  auto stored = [&](int u, int v) -> cv::Point {
    switch (orientation) {
      case 2:
        return {w - 1 - u, v};
      case 3:
        return {w - 1 - u, h - 1 - v};
      case 4:
        return {u, h - 1 - v};
      case 5:
        return {v, u};
      case 6:
        return {v, h - 1 - u};
      case 7:
        return {w - 1 - v, h - 1 - u};
      case 8:
        return {w - 1 - v, u};
      default:
        return {u, v};
    }
  };
  const cv::Point a = stored(upright.x, upright.y);
  const cv::Point b = stored(upright.x + upright.width - 1, upright.y + upright.height - 1);
  const int x0 = std::min(a.x, b.x), y0 = std::min(a.y, b.y);
  return {x0, y0, std::max(a.x, b.x) - x0 + 1, std::max(a.y, b.y) - y0 + 1};
}

}  // namespace image_internal

Result<std::vector<cv::Mat>> DecodeJpegRegions(std::span<const uint8_t> jpeg, int orientation,
                                               std::span<const cv::Rect> regions, std::string_view name) {
  Decompressor d(jpeg);
  if (!d.header_read()) {
    return Named(name, StatusCode::kCorruptImage, std::string("jpeg region decode: ") + d.err()->message);
  }
  if (!d.ConvertsToBgr()) {
    return Named(name, StatusCode::kUnsupportedFormat, "jpeg region decode: colour space cannot be converted to BGR");
  }
  jpeg_decompress_struct* cinfo = d.cinfo();
  const int stored_width = static_cast<int>(cinfo->image_width), stored_height = static_cast<int>(cinfo->image_height);
  const cv::Rect upright_image(0, 0, OrientationSwapsAxes(orientation) ? stored_height : stored_width,
                               OrientationSwapsAxes(orientation) ? stored_width : stored_height);
  std::vector<cv::Rect> stored;
  for (const cv::Rect& r : regions) {
    if (r.empty() || (r & upright_image) != r) {
      return Named(name, StatusCode::kInvalidArgument,
                   "jpeg region decode: region " + std::to_string(r.width) + "x" + std::to_string(r.height) + "+" +
                       std::to_string(r.x) + "+" + std::to_string(r.y) + " is not inside the image");
    }
    stored.push_back(StoredRect(r, orientation, stored_width, stored_height));
  }
  if (stored.empty()) return std::vector<cv::Mat>{};

  // Columns: the span covering every region (the crop widens it to whole iMCUs). Rows: the regions' row ranges,
  // merged where they overlap or nearly touch, everything else skipped.
  int x0 = stored_width, x1 = 0;
  std::vector<std::pair<int, int>> spans;
  for (const cv::Rect& r : stored) {
    x0 = std::min(x0, r.x), x1 = std::max(x1, r.x + r.width);
    spans.emplace_back(r.y, r.y + r.height);
  }
  std::sort(spans.begin(), spans.end());
  std::vector<Band> bands;
  for (const auto& [y0, y1] : spans) {
    if (!bands.empty() && y0 <= bands.back().y1 + kMergeGapRows) {
      bands.back().y1 = std::max(bands.back().y1, y1);
    } else {
      bands.push_back({y0, y1, {}, {}});
    }
  }
  cinfo->out_color_space = JCS_EXT_BGR;
  cinfo->dct_method = JDCT_ISLOW;  // as TurboJPEG decodes by default, so pixels equal a full decode's
  JDIMENSION crop_x = static_cast<JDIMENSION>(x0), crop_width = static_cast<JDIMENSION>(x1 - x0);
  if (!Guarded(d.err(), [&] {
        jpeg_start_decompress(cinfo);
        jpeg_crop_scanline(cinfo, &crop_x, &crop_width);
      })) {
    return Named(name, StatusCode::kCorruptImage, std::string("jpeg region decode: ") + d.err()->message);
  }
  for (Band& band : bands) {
    band.bgr.create(band.y1 - band.y0, static_cast<int>(crop_width), CV_8UC3);
    for (int y = 0; y < band.bgr.rows; ++y) band.rows.push_back(band.bgr.ptr<JSAMPLE>(y));
  }
  bool decoded = Guarded(d.err(), [&] {
    for (Band& band : bands) {
      const auto first = static_cast<JDIMENSION>(band.y0), last = static_cast<JDIMENSION>(band.y1);
      if (cinfo->output_scanline < first) jpeg_skip_scanlines(cinfo, first - cinfo->output_scanline);
      while (cinfo->output_scanline < last) {
        const JDIMENSION done = cinfo->output_scanline - first;
        if (jpeg_read_scanlines(cinfo, band.rows.data() + done, last - cinfo->output_scanline) == 0) break;
      }
    }
  });
  if (!decoded) return Named(name, StatusCode::kCorruptImage, std::string("jpeg region decode: ") + d.err()->message);
  if (d.err()->warning_code == JWRN_JPEG_EOF) {
    return Named(name, StatusCode::kCorruptImage, std::string("jpeg data is truncated (") + d.err()->warning + ")");
  }
  if (d.err()->warning_code >= 0) {
    return Named(name, StatusCode::kCorruptImage, std::string("jpeg data is damaged (") + d.err()->warning + ")");
  }
  if (static_cast<int>(cinfo->output_scanline) < bands.back().y1) {
    return Named(name, StatusCode::kCorruptImage, "jpeg region decode: rows missing");
  }

  std::vector<cv::Mat> out;
  for (const cv::Rect& r : stored) {
    const auto band =
        std::find_if(bands.begin(), bands.end(), [&](const Band& b) { return b.y0 <= r.y && r.y + r.height <= b.y1; });
    cv::Mat pixels = band->bgr(cv::Rect(r.x - static_cast<int>(crop_x), r.y - band->y0, r.width, r.height)).clone();
    ApplyExifOrientation(orientation, &pixels);
    out.push_back(std::move(pixels));
  }
  return out;
}

}  // namespace facefill
