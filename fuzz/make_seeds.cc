// Writes small seed images of every format the decoder accepts (HEIC via libheif) for the fuzzers' corpus.
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  cv::Mat card(48, 64, CV_8UC3, cv::Scalar(200, 60, 20));
  cv::circle(card, cv::Point(32, 24), 12, cv::Scalar(20, 180, 240), cv::FILLED);
  cv::Mat rgba;
  cv::cvtColor(card, rgba, cv::COLOR_BGR2BGRA);
  for (const char* ext : {".jpg", ".png", ".webp", ".tiff", ".bmp"}) {
    std::vector<uint8_t> bytes;
    cv::imencode(ext, std::string(ext) == ".png" ? rgba : card, bytes);
    std::ofstream(dir + "/seed" + ext, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  return 0;
}
