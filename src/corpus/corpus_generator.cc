// Corpus generator: a background photo scaled to fill the frame, then one to a few face photos pasted at random
// scales and positions, with sensor-like grain, written as JPEG. Deterministic for a seed.
#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <thread>

#include "facefill/corpus.h"
#include "facefill/image.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> ImageFiles(const std::vector<fs::path>& dirs) {
  std::vector<fs::path> files;
  for (const auto& dir : dirs) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_regular_file()) files.push_back(it->path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Decodes every usable photo once (the corpus is built from them many times).
std::vector<cv::Mat> LoadPhotos(const std::vector<fs::path>& files) {
  std::vector<cv::Mat> photos;
  for (const auto& f : files) {
    auto decoded = DecodeImageFile(f);
    if (decoded.ok() && decoded->bgr.cols >= 64 && decoded->bgr.rows >= 64) photos.push_back(decoded->bgr);
  }
  return photos;
}

// Sensor-like grain, made once per corpus at a margin larger than the frame; each image takes a random window.
struct Grain {
  cv::Mat brighten, darken;
  static constexpr int kMargin = 256;
};

Grain MakeGrain(cv::Size frame, uint64_t seed) {
  cv::RNG rng(seed);
  cv::Mat noise(frame.height + Grain::kMargin, frame.width + Grain::kMargin, CV_16SC3);
  rng.fill(noise, cv::RNG::NORMAL, 0, 6);
  Grain grain;
  noise.convertTo(grain.brighten, CV_8UC3);  // positive part (negatives saturate to 0)
  cv::Mat negated = -noise;
  negated.convertTo(grain.darken, CV_8UC3);
  return grain;
}

cv::Mat Compose(const std::vector<cv::Mat>& faces, const std::vector<cv::Mat>& backgrounds, bool with_faces,
                const CorpusOptions& options, const Grain& grain, std::mt19937_64& rng) {
  auto uniform = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  auto pick = [&](const std::vector<cv::Mat>& v) -> const cv::Mat& { return v[rng() % v.size()]; };
  const cv::Size frame(options.width, options.height);
  // Background: a random crop of a photo, scaled to fill the frame, softened.
  const cv::Mat& bg = pick(backgrounds.empty() ? faces : backgrounds);
  const double crop = uniform(0.5, 1.0);
  cv::Rect roi(0, 0, std::max(8, static_cast<int>(bg.cols * crop)), std::max(8, static_cast<int>(bg.rows * crop)));
  roi.x = static_cast<int>(uniform(0, bg.cols - roi.width));
  roi.y = static_cast<int>(uniform(0, bg.rows - roi.height));
  cv::Mat image;
  cv::resize(bg(roi), image, frame, 0, 0, cv::INTER_LINEAR);
  if (with_faces) {
    const int n = 1 + static_cast<int>(rng() % options.max_photos_per_image);
    for (int i = 0; i < n; ++i) {
      const cv::Mat& photo = pick(faces);
      // Scale so the pasted photo covers 20-70% of the frame height (faces from small to large).
      const double target_h = options.height * uniform(0.2, 0.7);
      const double scale = std::min(target_h / photo.rows, options.width * 0.9 / photo.cols);
      cv::Mat scaled;
      cv::resize(photo, scaled, cv::Size(), scale, scale, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
      if (rng() % 2) cv::flip(scaled, scaled, 1);
      const int x = static_cast<int>(uniform(0, std::max(1, frame.width - scaled.cols)));
      const int y = static_cast<int>(uniform(0, std::max(1, frame.height - scaled.rows)));
      cv::Rect place = cv::Rect(x, y, scaled.cols, scaled.rows) & cv::Rect(0, 0, frame.width, frame.height);
      scaled(cv::Rect(0, 0, place.width, place.height)).copyTo(image(place));
    }
  }
  // Phone-like grain, so the JPEG has real entropy to decode, as camera files do.
  const cv::Rect window(static_cast<int>(rng() % Grain::kMargin), static_cast<int>(rng() % Grain::kMargin), frame.width,
                        frame.height);
  cv::add(image, grain.brighten(window), image);
  cv::subtract(image, grain.darken(window), image);
  return image;
}

}  // namespace

Result<CorpusOptions> CorpusOptions::ForProfile(const std::string& profile) {
  CorpusOptions options;
  if (profile == "12mp") return options;
  if (profile == "3mp") {
    options.width = 2000;
    options.height = 1500;
    return options;
  }
  return Status(StatusCode::kInvalidArgument, "unknown corpus profile '" + profile + "' (12mp or 3mp)");
}

Status CorpusOptions::Validate() const {
  if (count < 1) return Status(StatusCode::kInvalidArgument, "count must be >= 1");
  if (width < 64 || height < 64) return Status(StatusCode::kInvalidArgument, "image size must be at least 64x64");
  if (jpeg_quality < 1 || jpeg_quality > 100) return Status(StatusCode::kInvalidArgument, "quality is 1..100");
  if (max_photos_per_image < 1) return Status(StatusCode::kInvalidArgument, "max_photos_per_image must be >= 1");
  return Status::Ok();
}

Result<CorpusReport> GenerateCorpus(const std::vector<fs::path>& face_sources,
                                    const std::vector<fs::path>& background_sources, const fs::path& out_dir,
                                    const CorpusOptions& options) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  const auto faces = LoadPhotos(ImageFiles(face_sources));
  const auto backgrounds = LoadPhotos(ImageFiles(background_sources));
  if (faces.empty()) return Status(StatusCode::kNotFound, "no usable source photos with faces");
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return Status(StatusCode::kIoError, out_dir.string() + ": " + ec.message());
  const Grain grain = MakeGrain(cv::Size(options.width, options.height), options.seed);
  const std::vector<int> params = {cv::IMWRITE_JPEG_QUALITY, options.jpeg_quality};
  CorpusReport report;
  std::mutex mutex;
  Status failure;
  std::atomic<int> next{0};
  auto work = [&] {
    for (int i = next++; i < options.count; i = next++) {
      const fs::path file = out_dir / ("corpus_" + std::to_string(options.seed) + "_" + std::to_string(options.width) +
                                       "x" + std::to_string(options.height) + "_" + std::to_string(i) + ".jpg");
      std::error_code file_ec;
      if (fs::exists(file, file_ec)) {
        std::lock_guard lock(mutex);
        ++report.skipped_existing;
        continue;
      }
      // Each image has its own generator, so the result does not depend on thread scheduling.
      std::mt19937_64 rng(options.seed * 1000003u + static_cast<uint64_t>(i));
      const bool with_faces = std::uniform_real_distribution<double>(0, 1)(rng) >= options.no_face_fraction;
      cv::Mat image = Compose(faces, backgrounds, with_faces, options, grain, rng);
      std::vector<uint8_t> jpeg;
      Status status;
      if (!cv::imencode(".jpg", image, jpeg, params)) status = Status(StatusCode::kInternal, "JPEG encoding failed");
      const fs::path partial = file.string() + ".partial";
      if (status.ok()) {
        std::ofstream out(partial, std::ios::binary);
        out.write(reinterpret_cast<const char*>(jpeg.data()), static_cast<std::streamsize>(jpeg.size()));
        if (!out) status = Status(StatusCode::kIoError, partial.string() + ": cannot write");
      }
      // Renamed into place: a crash never leaves a half-written image under the final name.
      if (status.ok()) fs::rename(partial, file, file_ec);
      if (file_ec) status = Status(StatusCode::kIoError, file.string() + ": " + file_ec.message());
      std::lock_guard lock(mutex);
      if (!status.ok()) {
        failure = status;
        next = options.count;
        return;
      }
      ++report.written;
      report.bytes += static_cast<int64_t>(jpeg.size());
    }
  };
  std::vector<std::thread> threads;
  const unsigned n_threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned t = 0; t < n_threads; ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  if (!failure.ok()) return failure;
  return report;
}

}  // namespace facefill
