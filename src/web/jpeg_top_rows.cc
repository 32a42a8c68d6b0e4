// DecodeJpegTopRows: libjpeg's scanline API with its errors turned into "not this way" (setjmp/longjmp kept to
// functions without C++ objects).
#include "jpeg_top_rows.h"

// clang-format off
#include <cstdio>  // jpeglib.h needs FILE
#include <jpeglib.h>
// clang-format on
#include <csetjmp>

#include "../image/exif_orientation.h"

namespace facefill::web {
namespace {

struct ErrorManager {
  jpeg_error_mgr standard;
  std::jmp_buf jump;
  int warnings = 0;
};

[[noreturn]] void OnError(j_common_ptr info) { std::longjmp(reinterpret_cast<ErrorManager*>(info->err)->jump, 1); }

void OnMessage(j_common_ptr info, int level) {
  if (level < 0) ++reinterpret_cast<ErrorManager*>(info->err)->warnings;  // corrupt data: decode in full instead
}

// Reads the header and starts decompression at 1/reduce into BGR. False for anything but a 3-component YCbCr
// JPEG, or an error.
bool Start(jpeg_decompress_struct* info, ErrorManager* errors, std::span<const uint8_t> bytes, int reduce) {
  if (setjmp(errors->jump)) return false;
  jpeg_mem_src(info, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(info, TRUE);
  if (info->num_components != 3 || info->jpeg_color_space != JCS_YCbCr) return false;
  info->scale_num = 1;
  info->scale_denom = static_cast<unsigned int>(reduce);
  info->out_color_space = JCS_EXT_BGR;
  jpeg_start_decompress(info);
  return errors->warnings == 0 && info->output_components == 3;
}

bool ReadRows(jpeg_decompress_struct* info, ErrorManager* errors, uint8_t* data, size_t step, unsigned int rows) {
  if (setjmp(errors->jump)) return false;
  while (info->output_scanline < rows) {
    JSAMPROW row = data + step * info->output_scanline;
    if (jpeg_read_scanlines(info, &row, 1) != 1) return false;
  }
  return errors->warnings == 0;
}

}  // namespace

std::optional<DecodedImage> DecodeJpegTopRows(std::span<const uint8_t> bytes, int reduce, int rows_needed,
                                              const DecodeOptions& options) {
  if (reduce != 1 && reduce != 2 && reduce != 4 && reduce != 8) return std::nullopt;
  auto header = ReadImageHeader(bytes);
  if (!header.ok() || header->format != ImageFormat::kJpeg || header->width <= 0 || header->height <= 0 ||
      int64_t{header->width} * header->height > options.max_pixels ||
      static_cast<int64_t>(bytes.size()) > options.max_file_bytes) {
    return std::nullopt;
  }
  if (options.apply_orientation && image_internal::ReadJpegExifOrientation(bytes) != 1) return std::nullopt;

  jpeg_decompress_struct info;
  ErrorManager errors;
  info.err = jpeg_std_error(&errors.standard);
  errors.standard.error_exit = OnError;
  errors.standard.emit_message = OnMessage;
  jpeg_create_decompress(&info);
  std::optional<DecodedImage> decoded;
  if (Start(&info, &errors, bytes, reduce)) {
    // The output row below full-resolution row rows_needed, and one more for the rounding of the scaled size.
    const int64_t wanted = (int64_t{rows_needed} * info.output_height + header->height - 1) / header->height + 1;
    const auto rows = static_cast<unsigned int>(std::clamp<int64_t>(wanted, 1, info.output_height));
    cv::Mat bgr(static_cast<int>(rows), static_cast<int>(info.output_width), CV_8UC3);
    if (ReadRows(&info, &errors, bgr.data, bgr.step, rows)) {
      decoded.emplace();
      decoded->bgr = std::move(bgr);
      decoded->format = ImageFormat::kJpeg;
      decoded->width = header->width;
      decoded->height = header->height;
      decoded->scale = static_cast<double>(info.output_width) / header->width;
    }
  }
  jpeg_destroy_decompress(&info);  // also abandons a decompression stopped before its last row
  return decoded;
}

}  // namespace facefill::web
