// The backfill's terminal progress line: width fitting, smoothed rate and ETA.
#include "progress_line.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

namespace facefill::cli {

std::string Duration(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "--:--:--";
  const int s = static_cast<int>(std::ceil(seconds));
  return fmt::format("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

std::string FormatProgressLine(const BackfillProgress& p, double rate, double eta, int width) {
  const size_t limit = static_cast<size_t>(std::max(width - 1, 10));
  const std::string count = fmt::format("{}/{}", p.processed, p.total);
  const std::string rate_text = fmt::format("{:.1f} img/s", rate);
  const std::string faces = fmt::format("faces {}", p.faces);
  const std::string errors = fmt::format("errors {}", p.errors);
  const std::string eta_text = "ETA " + Duration(eta);
  // What each attempt shows, from the fullest to the barest.
  struct Fields {
    int bar;  // bar width inside the brackets; 0: no bar
    bool rate, faces, errors, eta;
  };
  const std::vector<Fields> attempts = {{30, true, true, true, true},   {30, true, false, true, true},
                                        {20, true, false, true, true},  {20, false, false, true, true},
                                        {10, false, false, true, true}, {0, false, false, true, true},
                                        {0, false, false, false, true}, {0, false, false, false, false}};
  std::string line;
  for (const auto& f : attempts) {
    line.clear();
    if (f.bar > 0) {
      const int filled = p.total > 0 ? static_cast<int>(f.bar * std::min(p.processed, p.total) / p.total) : 0;
      line += "[" + std::string(static_cast<size_t>(filled), '=') +
              std::string(static_cast<size_t>(f.bar - filled), ' ') + "] ";
    }
    line += count;
    if (f.rate) line += "  " + rate_text;
    if (f.faces) line += "  " + faces;
    if (f.errors) line += "  " + errors;
    if (f.eta) line += "  " + eta_text;
    if (line.size() <= limit) return line;
  }
  return line.substr(0, limit);
}

void RateWindow::Add(double elapsed_seconds, int64_t processed) {
  samples_.emplace_back(elapsed_seconds, processed);
  while (samples_.size() > 2 && samples_.front().first < elapsed_seconds - window_) samples_.pop_front();
}

double RateWindow::Rate() const {
  if (samples_.empty()) return 0;
  const auto& [t0, n0] = samples_.front();
  const auto& [t1, n1] = samples_.back();
  if (t1 <= t0 || n1 <= n0) {
    // Nothing committed within the window: the average since the start, if anything was.
    return t1 > 0 && n1 > 0 ? n1 / t1 : 0;
  }
  return static_cast<double>(n1 - n0) / (t1 - t0);
}

double RateWindow::Eta(int64_t remaining) const {
  if (remaining <= 0) return 0;
  const double rate = Rate();
  if (rate <= 0) return -1;
  return std::max(1.0, remaining / rate);
}

int TerminalColumns() {
  winsize size{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* columns = std::getenv("COLUMNS"); columns != nullptr && std::atoi(columns) > 0) {
    return std::atoi(columns);
  }
  return 80;
}

}  // namespace facefill::cli
