// Image format sniffing by magic bytes and header-only dimension parsing (the pixel guard runs on these).
#include <libheif/heif.h>
#include <turbojpeg.h>

#include <cstring>
#include <memory>
#include <string>

#include "facefill/image.h"

namespace facefill {
namespace {

uint32_t ReadBigEndian(const uint8_t* p, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

uint32_t ReadLittleEndian(const uint8_t* p, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

bool StartsWith(std::span<const uint8_t> bytes, std::string_view magic, size_t offset = 0) {
  return bytes.size() >= offset + magic.size() && std::memcmp(bytes.data() + offset, magic.data(), magic.size()) == 0;
}

Status Corrupt(ImageFormat format, std::string_view what) {
  return Status(StatusCode::kCorruptImage, std::string(ImageFormatName(format)) + " header: " + std::string(what));
}

Result<ImageHeader> JpegHeader(std::span<const uint8_t> bytes) {
  tjhandle handle = tjInitDecompress();
  if (handle == nullptr) return Status(StatusCode::kInternal, "tjInitDecompress failed");
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  int rc = tjDecompressHeader3(handle, bytes.data(), static_cast<unsigned long>(bytes.size()), &width, &height,
                               &subsampling, &colorspace);
  std::string error = rc != 0 ? tjGetErrorStr2(handle) : "";
  tjDestroy(handle);
  if (rc != 0) return Corrupt(ImageFormat::kJpeg, error);
  return ImageHeader{ImageFormat::kJpeg, width, height};
}

Result<ImageHeader> PngHeader(std::span<const uint8_t> bytes) {
  // 8-byte signature, then the IHDR chunk: length(4) "IHDR" width(4) height(4), big-endian.
  if (bytes.size() < 24 || !StartsWith(bytes, "IHDR", 12)) return Corrupt(ImageFormat::kPng, "no IHDR chunk");
  return ImageHeader{ImageFormat::kPng, static_cast<int>(ReadBigEndian(&bytes[16], 4)),
                     static_cast<int>(ReadBigEndian(&bytes[20], 4))};
}

Result<ImageHeader> WebpHeader(std::span<const uint8_t> bytes) {
  // RIFF....WEBP then the first chunk: VP8X (extended), VP8 (lossy) or VP8L (lossless).
  if (bytes.size() < 30) return Corrupt(ImageFormat::kWebp, "file too short");
  const uint8_t* chunk = &bytes[12];
  if (StartsWith(bytes, "VP8X", 12)) {
    return ImageHeader{ImageFormat::kWebp, static_cast<int>(ReadLittleEndian(chunk + 12, 3)) + 1,
                       static_cast<int>(ReadLittleEndian(chunk + 15, 3)) + 1};
  }
  if (StartsWith(bytes, "VP8L", 12)) {
    if (chunk[8] != 0x2f) return Corrupt(ImageFormat::kWebp, "bad VP8L signature");
    uint32_t bits = ReadLittleEndian(chunk + 9, 4);
    return ImageHeader{ImageFormat::kWebp, static_cast<int>(bits & 0x3fff) + 1,
                       static_cast<int>((bits >> 14) & 0x3fff) + 1};
  }
  if (StartsWith(bytes, "VP8 ", 12)) {
    if (chunk[11] != 0x9d || chunk[12] != 0x01 || chunk[13] != 0x2a) return Corrupt(ImageFormat::kWebp, "bad VP8 key");
    return ImageHeader{ImageFormat::kWebp, static_cast<int>(ReadLittleEndian(chunk + 14, 2) & 0x3fff),
                       static_cast<int>(ReadLittleEndian(chunk + 16, 2) & 0x3fff)};
  }
  return Corrupt(ImageFormat::kWebp, "unknown first chunk");
}

Result<ImageHeader> TiffHeader(std::span<const uint8_t> bytes) {
  const bool little = bytes[0] == 'I';
  auto read = [&](size_t offset, int n) -> uint32_t {
    return little ? ReadLittleEndian(&bytes[offset], n) : ReadBigEndian(&bytes[offset], n);
  };
  if (bytes.size() < 8) return Corrupt(ImageFormat::kTiff, "file too short");
  size_t ifd = read(4, 4);
  if (ifd + 2 > bytes.size()) return Corrupt(ImageFormat::kTiff, "first IFD beyond end of file");
  uint32_t entries = read(ifd, 2);
  ImageHeader header{ImageFormat::kTiff, 0, 0};
  for (uint32_t i = 0; i < entries; ++i) {
    size_t entry = ifd + 2 + 12 * i;
    if (entry + 12 > bytes.size()) return Corrupt(ImageFormat::kTiff, "IFD beyond end of file");
    uint32_t tag = read(entry, 2), type = read(entry + 2, 2);
    uint32_t value = type == 3 ? read(entry + 8, 2) : read(entry + 8, 4);  // SHORT or LONG
    if (tag == 256) header.width = static_cast<int>(value);
    if (tag == 257) header.height = static_cast<int>(value);
  }
  if (header.width <= 0 || header.height <= 0) return Corrupt(ImageFormat::kTiff, "no image width/length");
  return header;
}

Result<ImageHeader> BmpHeader(std::span<const uint8_t> bytes) {
  if (bytes.size() < 26) return Corrupt(ImageFormat::kBmp, "file too short");
  auto width = static_cast<int32_t>(ReadLittleEndian(&bytes[18], 4));
  auto height = static_cast<int32_t>(ReadLittleEndian(&bytes[22], 4));
  return ImageHeader{ImageFormat::kBmp, width < 0 ? -width : width, height < 0 ? -height : height};
}

Result<ImageHeader> HeifHeader(std::span<const uint8_t> bytes) {
  // libheif's error messages can live in the context: the context is freed only after the message is copied.
  std::unique_ptr<heif_context, decltype(&heif_context_free)> context(heif_context_alloc(), heif_context_free);
  heif_error error = heif_context_read_from_memory_without_copy(context.get(), bytes.data(), bytes.size(), nullptr);
  heif_image_handle* handle = nullptr;
  if (error.code == heif_error_Ok) error = heif_context_get_primary_image_handle(context.get(), &handle);
  if (error.code != heif_error_Ok) return Corrupt(ImageFormat::kHeif, error.message);
  ImageHeader header{ImageFormat::kHeif, heif_image_handle_get_width(handle), heif_image_handle_get_height(handle)};
  heif_image_handle_release(handle);
  return header;
}

}  // namespace

std::string_view ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kWebp:
      return "webp";
    case ImageFormat::kTiff:
      return "tiff";
    case ImageFormat::kBmp:
      return "bmp";
    case ImageFormat::kHeif:
      return "heif";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

std::string_view ImageFormatMimeType(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "image/jpeg";
    case ImageFormat::kPng:
      return "image/png";
    case ImageFormat::kWebp:
      return "image/webp";
    case ImageFormat::kTiff:
      return "image/tiff";
    case ImageFormat::kBmp:
      return "image/bmp";
    case ImageFormat::kHeif:
      return "image/heic";
    case ImageFormat::kUnknown:
      break;
  }
  return "application/octet-stream";
}

ImageFormat SniffImageFormat(std::span<const uint8_t> bytes) {
  if (StartsWith(bytes, "\xFF\xD8\xFF")) return ImageFormat::kJpeg;
  if (StartsWith(bytes, "\x89PNG\r\n\x1A\n")) return ImageFormat::kPng;
  if (StartsWith(bytes, "RIFF") && StartsWith(bytes, "WEBP", 8)) return ImageFormat::kWebp;
  if (StartsWith(bytes, std::string_view("II*\0", 4)) || StartsWith(bytes, std::string_view("MM\0*", 4))) {
    return ImageFormat::kTiff;
  }
  if (StartsWith(bytes, "BM") && bytes.size() >= 26) return ImageFormat::kBmp;
  if (StartsWith(bytes, "ftyp", 4)) {
    // ISO-BMFF: the major brand says whether this is a HEIF still image (not an MP4 video).
    for (std::string_view brand : {"heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1", "avif"}) {
      if (StartsWith(bytes, brand, 8)) return ImageFormat::kHeif;
    }
  }
  return ImageFormat::kUnknown;
}

Result<ImageHeader> ReadImageHeader(std::span<const uint8_t> bytes) {
  switch (SniffImageFormat(bytes)) {
    case ImageFormat::kJpeg:
      return JpegHeader(bytes);
    case ImageFormat::kPng:
      return PngHeader(bytes);
    case ImageFormat::kWebp:
      return WebpHeader(bytes);
    case ImageFormat::kTiff:
      return TiffHeader(bytes);
    case ImageFormat::kBmp:
      return BmpHeader(bytes);
    case ImageFormat::kHeif:
      return HeifHeader(bytes);
    case ImageFormat::kUnknown:
      break;
  }
  return Status(StatusCode::kUnsupportedFormat, "not a supported image format (JPEG, PNG, WebP, TIFF, BMP, HEIF)");
}

}  // namespace facefill
