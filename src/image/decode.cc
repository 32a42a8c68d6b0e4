// Decoding dispatch: JPEG through TurboJPEG (scaled decode, truncation detection), HEIF through libheif, the rest
// through OpenCV. Every failure becomes a typed Status naming the file.
#include <libheif/heif.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "exif_orientation.h"
#include "facefill/image.h"
#include "jpeg_regions.h"

namespace facefill {
namespace {

using image_internal::ApplyExifOrientation;
using image_internal::OrientationSwapsAxes;
using image_internal::ReadJpegExifOrientation;

Status Named(std::string_view name, StatusCode code, std::string_view what) {
  return Status(code, std::string(name) + ": " + std::string(what));
}

using File = std::unique_ptr<FILE, decltype(&std::fclose)>;

// Opens a file for reading, with the typed error every reader of library files reports.
Result<File> OpenForReading(const std::filesystem::path& path) {
  File file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (file) return file;
  const int err = errno;
  if (err == ENOENT || err == ENOTDIR) return Named(path.string(), StatusCode::kNotFound, "file does not exist");
  if (err == EACCES || err == EPERM) return Named(path.string(), StatusCode::kPermissionDenied, "permission denied");
  return Named(path.string(), StatusCode::kIoError, std::strerror(err));
}

struct TurboJpegDeleter {
  void operator()(void* handle) const { tjDestroy(handle); }
};

Result<cv::Mat> DecodeWithOpenCv(std::span<const uint8_t> bytes, std::string_view name, ImageFormat format,
                                 bool apply_orientation) {
  cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<uint8_t*>(bytes.data()));
  int flags = cv::IMREAD_COLOR | (apply_orientation ? 0 : cv::IMREAD_IGNORE_ORIENTATION);
  cv::Mat bgr;
  try {
    bgr = cv::imdecode(encoded, flags);
  } catch (const cv::Exception& e) {
    return Named(name, StatusCode::kCorruptImage, std::string(ImageFormatName(format)) + " decode failed: " + e.what());
  }
  if (bgr.empty()) {
    return Named(name, StatusCode::kCorruptImage,
                 std::string(ImageFormatName(format)) + " data is corrupt or truncated");
  }
  return bgr;
}

// JPEG: TurboJPEG decodes straight to BGR at 1/reduce scale and reports truncated data as a warning, which
// OpenCV would swallow (it returns a half-grey image).
Result<cv::Mat> DecodeJpeg(std::span<const uint8_t> bytes, std::string_view name, const ImageHeader& header,
                           const DecodeOptions& options) {
  std::unique_ptr<void, TurboJpegDeleter> handle(tjInitDecompress());
  if (!handle) return Named(name, StatusCode::kInternal, "tjInitDecompress failed");
  tjscalingfactor factor{1, options.reduce};
  int width = TJSCALED(header.width, factor);
  int height = TJSCALED(header.height, factor);
  cv::Mat bgr(height, width, CV_8UC3);
  int rc = tjDecompress2(handle.get(), bytes.data(), static_cast<unsigned long>(bytes.size()), bgr.data, width,
                         static_cast<int>(bgr.step), height, TJPF_BGR, 0);
  if (rc != 0) {
    std::string error = tjGetErrorStr2(handle.get());
    if (tjGetErrorCode(handle.get()) == TJERR_WARNING) {
      // Truncated or damaged entropy data leaves part of the photo grey or scrambled: refuse it. Extraneous bytes
      // before a marker are common in camera files that decode correctly, so that warning alone is accepted.
      if (error.find("Premature end") != std::string::npos) {
        return Named(name, StatusCode::kCorruptImage, "jpeg data is truncated (" + error + ")");
      }
      if (error.find("extraneous bytes") == std::string::npos) {
        return Named(name, StatusCode::kCorruptImage, "jpeg data is damaged (" + error + ")");
      }
    } else {
      // TurboJPEG cannot convert some colour spaces (CMYK/YCCK); OpenCV's libjpeg path can.
      auto fallback = DecodeWithOpenCv(bytes, name, ImageFormat::kJpeg, false);
      if (!fallback.ok()) return Named(name, StatusCode::kCorruptImage, "jpeg decode failed (" + error + ")");
      bgr = std::move(fallback).value();
      if (options.reduce > 1) {
        cv::resize(bgr, bgr, cv::Size(width, height), 0, 0, cv::INTER_AREA);
      }
    }
  }
  if (options.apply_orientation) ApplyExifOrientation(ReadJpegExifOrientation(bytes), &bgr);
  return bgr;
}

Result<cv::Mat> DecodeHeif(std::span<const uint8_t> bytes, std::string_view name, const DecodeOptions& options) {
  std::unique_ptr<heif_context, decltype(&heif_context_free)> context(heif_context_alloc(), heif_context_free);
  heif_error error = heif_context_read_from_memory_without_copy(context.get(), bytes.data(), bytes.size(), nullptr);
  if (error.code != heif_error_Ok) return Named(name, StatusCode::kCorruptImage, std::string("heif: ") + error.message);
  heif_image_handle* raw_handle = nullptr;
  error = heif_context_get_primary_image_handle(context.get(), &raw_handle);
  if (error.code != heif_error_Ok) return Named(name, StatusCode::kCorruptImage, std::string("heif: ") + error.message);
  std::unique_ptr<heif_image_handle, decltype(&heif_image_handle_release)> handle(raw_handle,
                                                                                  heif_image_handle_release);
  // libheif applies the container's own rotation/mirror (irot/imir); EXIF is not applied again on top.
  std::unique_ptr<heif_decoding_options, decltype(&heif_decoding_options_free)> decoding(heif_decoding_options_alloc(),
                                                                                         heif_decoding_options_free);
  decoding->ignore_transformations = options.apply_orientation ? 0 : 1;
  heif_image* raw_image = nullptr;
  error = heif_decode_image(handle.get(), &raw_image, heif_colorspace_RGB, heif_chroma_interleaved_RGB, decoding.get());
  if (error.code != heif_error_Ok) return Named(name, StatusCode::kCorruptImage, std::string("heif: ") + error.message);
  std::unique_ptr<heif_image, decltype(&heif_image_release)> image(raw_image, heif_image_release);
  int stride = 0;
  const uint8_t* plane = heif_image_get_plane_readonly(image.get(), heif_channel_interleaved, &stride);
  int width = heif_image_get_width(image.get(), heif_channel_interleaved);
  int height = heif_image_get_height(image.get(), heif_channel_interleaved);
  if (plane == nullptr || width <= 0 || height <= 0) {
    return Named(name, StatusCode::kCorruptImage, "heif: decoded image has no RGB plane");
  }
  cv::Mat rgb(height, width, CV_8UC3, const_cast<uint8_t*>(plane), static_cast<size_t>(stride));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  if (options.reduce > 1) {
    cv::resize(bgr, bgr, cv::Size(width / options.reduce, height / options.reduce), 0, 0, cv::INTER_AREA);
  }
  return bgr;
}

}  // namespace

Status DecodeOptions::Validate() const {
  if (max_pixels <= 0) return Status(StatusCode::kInvalidArgument, "max_pixels must be positive");
  if (max_file_bytes <= 0) return Status(StatusCode::kInvalidArgument, "max_file_bytes must be positive");
  if (reduce != 0 && reduce != 1 && reduce != 2 && reduce != 4 && reduce != 8) {
    return Status(StatusCode::kInvalidArgument, "reduce must be 0 (auto), 1, 2, 4 or 8");
  }
  if (auto_min_side < 1) return Status(StatusCode::kInvalidArgument, "auto_min_side must be >= 1");
  if (detect_side < 1) return Status(StatusCode::kInvalidArgument, "detect_side must be >= 1");
  return Status::Ok();
}

Result<DecodedImage> DecodeImage(std::span<const uint8_t> bytes, std::string_view name, const DecodeOptions& options) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  if (bytes.empty()) return Named(name, StatusCode::kEmptyFile, "file is empty (0 bytes)");
  if (static_cast<int64_t>(bytes.size()) > options.max_file_bytes) {
    return Named(name, StatusCode::kImageTooLarge,
                 "file is " + std::to_string(bytes.size()) + " bytes, above the limit of " +
                     std::to_string(options.max_file_bytes));
  }
  auto header = ReadImageHeader(bytes);
  if (!header.ok()) return Named(name, header.status().code(), header.status().message());
  const int64_t pixels = int64_t{header->width} * header->height;
  if (header->width <= 0 || header->height <= 0) {
    return Named(name, StatusCode::kCorruptImage, "header gives an empty image size");
  }
  if (pixels > options.max_pixels) {
    return Named(name, StatusCode::kImageTooLarge,
                 std::to_string(header->width) + "x" + std::to_string(header->height) + " = " + std::to_string(pixels) +
                     " pixels, above the limit of " + std::to_string(options.max_pixels) +
                     " (possible decompression bomb)");
  }

  DecodeOptions effective = options;
  if (effective.reduce == 0) {
    effective.reduce = 1;
    const int shorter = std::min(header->width, header->height);
    if (header->format == ImageFormat::kJpeg) {
      while (effective.reduce < 8 && shorter / (effective.reduce * 2) >= options.auto_min_side) effective.reduce *= 2;
    }
  }
  Result<cv::Mat> pixels_or = Status(StatusCode::kInternal, "unreachable");
  int orientation = 1;
  switch (header->format) {
    case ImageFormat::kJpeg:
      pixels_or = DecodeJpeg(bytes, name, *header, effective);
      if (options.apply_orientation) orientation = ReadJpegExifOrientation(bytes);
      break;
    case ImageFormat::kHeif:
      pixels_or = DecodeHeif(bytes, name, effective);
      break;
    default:
      pixels_or = DecodeWithOpenCv(bytes, name, header->format, options.apply_orientation);
      if (pixels_or.ok() && effective.reduce > 1) {
        cv::Mat& m = pixels_or.value();
        cv::resize(m, m, cv::Size(m.cols / effective.reduce, m.rows / effective.reduce), 0, 0, cv::INTER_AREA);
      }
      break;
  }
  if (!pixels_or.ok()) return pixels_or.status();

  DecodedImage decoded;
  decoded.bgr = std::move(pixels_or).value();
  decoded.format = header->format;
  decoded.width = OrientationSwapsAxes(orientation) ? header->height : header->width;
  decoded.height = OrientationSwapsAxes(orientation) ? header->width : header->height;
  if (header->format != ImageFormat::kJpeg) {
    // HEIF transformations and OpenCV's own orientation handling can swap axes; the pixels are the truth.
    bool swapped = (decoded.bgr.cols > decoded.bgr.rows) != (header->width > header->height);
    if (swapped) std::swap(decoded.width, decoded.height);
  }
  decoded.scale = static_cast<double>(decoded.bgr.cols) / decoded.width;
  decoded.orientation = orientation;
  return decoded;
}

Result<DecodedImage> DecodeImageKeepingBytes(std::vector<uint8_t> bytes, std::string_view name,
                                             const DecodeOptions& options) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  if (!options.region_decode) return DecodeImage(bytes, name, options);
  DecodeOptions effective = options;
  auto header = ReadImageHeader(bytes);
  if (header.ok() && header->format == ImageFormat::kJpeg) {
    if (!image_internal::JpegDecodesByRegion(bytes)) {
      // Faces could only come from the reduced pixels: decode in full instead, as formats without DCT scaling do.
      effective.reduce = 1;
    } else if (effective.reduce == 0) {
      // The largest DCT scale whose longer side still fills the detector's canvas.
      const int longer = std::max(header->width, header->height);
      effective.reduce = 1;
      while (effective.reduce < 8 &&
             (longer + effective.reduce * 2 - 1) / (effective.reduce * 2) >= options.detect_side) {
        effective.reduce *= 2;
      }
    }
  }
  FACEFILL_ASSIGN_OR_RETURN(DecodedImage decoded, DecodeImage(bytes, name, effective));
  if (decoded.format == ImageFormat::kJpeg && decoded.scale < 1.0) {
    decoded.jpeg = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
  }
  return decoded;
}

Status ReadFileBytes(const std::filesystem::path& path, int64_t max_bytes, std::vector<uint8_t>* bytes) {
  const std::string name = path.string();
  auto file = OpenForReading(path);
  if (!file.ok()) return file.status();
  if (std::fseek(file->get(), 0, SEEK_END) != 0) return Named(name, StatusCode::kIoError, "cannot seek (not a file?)");
  long size = std::ftell(file->get());
  if (size < 0) return Named(name, StatusCode::kIoError, "cannot tell size (not a regular file?)");
  if (size > max_bytes) {
    return Named(name, StatusCode::kImageTooLarge,
                 "file is " + std::to_string(size) + " bytes, above the limit of " + std::to_string(max_bytes));
  }
  std::rewind(file->get());
  bytes->resize(static_cast<size_t>(size));
  if (size > 0 && std::fread(bytes->data(), 1, bytes->size(), file->get()) != bytes->size()) {
    return Named(name, StatusCode::kIoError, "short read");
  }
  return Status::Ok();
}

Status ReadOpenFileBytes(int fd, std::string_view name, int64_t max_bytes, std::vector<uint8_t>* bytes) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return Named(name, StatusCode::kIoError, std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return Named(name, StatusCode::kUnsupportedFormat, "is a directory, not an image file");
  if (!S_ISREG(st.st_mode)) return Named(name, StatusCode::kIoError, "not a regular file");
  if (st.st_size > max_bytes) {
    return Named(name, StatusCode::kImageTooLarge,
                 "file is " + std::to_string(st.st_size) + " bytes, above the limit of " + std::to_string(max_bytes));
  }
  bytes->resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes->size()) {
    const ssize_t n = pread(fd, bytes->data() + done, bytes->size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Named(name, StatusCode::kIoError, std::strerror(errno));
    if (n == 0) return Named(name, StatusCode::kIoError, "short read");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<ImageHeader> ProbeImageFile(const std::filesystem::path& path, int64_t max_bytes) {
  const std::string name = path.string();
  auto file = OpenForReading(path);
  if (!file.ok()) return file.status();
  std::vector<uint8_t> bytes(static_cast<size_t>(max_bytes));
  bytes.resize(std::fread(bytes.data(), 1, bytes.size(), file->get()));
  if (bytes.empty()) return Named(name, StatusCode::kEmptyFile, "file is empty (0 bytes)");
  auto header = ReadImageHeader(bytes);
  if (!header.ok()) return Named(name, header.status().code(), header.status().message());
  if (header->format == ImageFormat::kJpeg && OrientationSwapsAxes(ReadJpegExifOrientation(bytes))) {
    std::swap(header->width, header->height);
  }
  return header;
}

Result<DecodedImage> DecodeImageFile(const std::filesystem::path& path, const DecodeOptions& options) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Named(path.string(), StatusCode::kUnsupportedFormat, "is a directory, not an image file");
  }
  std::vector<uint8_t> bytes;
  FACEFILL_RETURN_IF_ERROR(ReadFileBytes(path, options.max_file_bytes, &bytes));
  return DecodeImage(bytes, path.string(), options);
}

}  // namespace facefill
