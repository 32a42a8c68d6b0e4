// Image decoding: file bytes to an oriented 8-bit BGR cv::Mat, with format sniffing and size guards.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <span>
#include <string_view>
#include <vector>

#include "facefill/status.h"

namespace facefill {

// Formats recognised by content (magic bytes); the file extension is never trusted.
enum class ImageFormat { kUnknown, kJpeg, kPng, kWebp, kTiff, kBmp, kHeif };

std::string_view ImageFormatName(ImageFormat format);      // "jpeg"
std::string_view ImageFormatMimeType(ImageFormat format);  // "image/jpeg"
ImageFormat SniffImageFormat(std::span<const uint8_t> bytes);

// Dimensions as stored in the file (before EXIF orientation), read without decoding pixels.
struct ImageHeader {
  ImageFormat format = ImageFormat::kUnknown;
  int width = 0;
  int height = 0;
};

// Reads the header only; kUnsupportedFormat for non-images, kCorruptImage for a header that cannot be parsed.
Result<ImageHeader> ReadImageHeader(std::span<const uint8_t> bytes);

struct DecodeOptions {
  // Refuse images with more pixels than this before decoding them (Pillow's decompression-bomb error limit).
  int64_t max_pixels = 178'956'970;
  // Refuse files larger than this without reading them.
  int64_t max_file_bytes = int64_t{512} << 20;
  // Apply EXIF orientation (JPEG) / HEIF transformations so the image is upright as a viewer shows it.
  bool apply_orientation = true;
  // Decode at 1/reduce of full resolution where the format supports it natively (JPEG DCT scaling): 1, 2, 4 or 8;
  // 0 picks the largest JPEG reduction that keeps the shorter side at least auto_min_side pixels (other formats
  // decode in full). Results stay in full-resolution coordinates through DecodedImage::scale.
  int reduce = 1;
  int auto_min_side = 1000;
  // Region decode (DecodeImageKeepingBytes only): a JPEG decoded at a reduced scale keeps its bytes so its faces
  // can be decoded again at full resolution, region by region (DecodeJpegRegions); with reduce = 0 the reduction is
  // then the largest that keeps the longer side at least detect_side pixels (what the detector's canvas needs)
  // instead of the auto_min_side rule. JPEGs in colour spaces it cannot convert (CMYK) decode in full instead.
  bool region_decode = false;
  int detect_side = 640;

  Status Validate() const;
};

struct DecodedImage {
  cv::Mat bgr;  // CV_8UC3, upright
  ImageFormat format = ImageFormat::kUnknown;
  int width = 0;       // full-resolution upright width (what the catalog stores)
  int height = 0;      // full-resolution upright height
  double scale = 1.0;  // bgr pixels per full-resolution pixel (1/reduce when reduced decode applied)
  // Region decode: the JPEG's bytes, kept (the file is not read again), when bgr is reduced and faces are to be
  // decoded at full resolution from them; null otherwise. `orientation` is the EXIF orientation applied to bgr.
  std::shared_ptr<const std::vector<uint8_t>> jpeg;
  int orientation = 1;
};

// Decodes an image held in memory. `name` is used in error messages only.
// Thread-safe. Errors: kEmptyFile, kUnsupportedFormat, kCorruptImage (including truncated data), kImageTooLarge.
Result<DecodedImage> DecodeImage(std::span<const uint8_t> bytes, std::string_view name,
                                 const DecodeOptions& options = {});

// DecodeImage for bytes the result may keep: with options.region_decode, a JPEG that decodes reduced keeps `bytes`
// in DecodedImage::jpeg (see DecodeOptions::region_decode); otherwise exactly DecodeImage.
Result<DecodedImage> DecodeImageKeepingBytes(std::vector<uint8_t> bytes, std::string_view name,
                                             const DecodeOptions& options);

// Full-resolution, upright pixels of `regions` of a JPEG: rectangles of the upright image (EXIF `orientation`
// applied, 1 for none), each non-empty and inside it, decoded in one pass that runs the inverse DCT and colour
// conversion only on the rows and columns they cover (libjpeg-turbo's scanline crop and skip). One image per
// region, in order, equal to that rectangle of a full decode. kCorruptImage for damaged or truncated data,
// kUnsupportedFormat for a colour space it cannot convert, kInvalidArgument for a region outside the image.
Result<std::vector<cv::Mat>> DecodeJpegRegions(std::span<const uint8_t> jpeg, int orientation,
                                               std::span<const cv::Rect> regions, std::string_view name);

// Reads and decodes a file. Adds kNotFound, kPermissionDenied and kIoError to DecodeImage's errors.
Result<DecodedImage> DecodeImageFile(const std::filesystem::path& path, const DecodeOptions& options = {});

// Reads the start of a file (up to `max_bytes`) and returns its format and upright size from the header alone
// (JPEG EXIF orientation applied to the size), without decoding pixels. Used by `scan`.
Result<ImageHeader> ProbeImageFile(const std::filesystem::path& path, int64_t max_bytes = 512 * 1024);

// Reads a whole file into `bytes` (reusing its capacity), refusing files above max_bytes.
Status ReadFileBytes(const std::filesystem::path& path, int64_t max_bytes, std::vector<uint8_t>* bytes);

// Reads the whole of an already open file into `bytes`, refusing anything but a regular file (a folder is
// kUnsupportedFormat) and files above max_bytes. `name` is used in error messages only.
Status ReadOpenFileBytes(int fd, std::string_view name, int64_t max_bytes, std::vector<uint8_t>* bytes);

}  // namespace facefill
