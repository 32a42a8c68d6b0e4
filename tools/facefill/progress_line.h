// The backfill's one-line terminal progress: fitted to the terminal's width, with a rate and ETA that move smoothly.
#pragma once

#include <deque>
#include <string>
#include <utility>

#include "facefill/backfill.h"

namespace facefill::cli {

// "HH:MM:SS", or "--:--:--" when unknown.
std::string Duration(double seconds);

// The line for `p` with `rate` images/s and `eta` seconds (< 0: unknown), at most `width - 1` characters (the last
// column stays free so the terminal never wraps). Fields are dropped before the count is: faces, then the rate,
// then the bar shrinks and goes, then errors, then the ETA.
std::string FormatProgressLine(const BackfillProgress& p, double rate, double eta, int width);

// Rate over the last `window` seconds of samples (images committed so far at elapsed time), so the ETA follows the
// current speed and never reads 00:00:00 while work is left.
class RateWindow {
 public:
  explicit RateWindow(double window_seconds = 15) : window_(window_seconds) {}
  void Add(double elapsed_seconds, int64_t processed);
  double Rate() const;  // images/s; 0 until two samples differ
  // Seconds left for `remaining` images; < 0 when unknown. At least 1 while anything remains.
  double Eta(int64_t remaining) const;

 private:
  double window_;
  std::deque<std::pair<double, int64_t>> samples_;
};

// The terminal's width in columns (stderr, then $COLUMNS, then 80).
int TerminalColumns();

}  // namespace facefill::cli
