// The backfill's terminal progress line: it fits the terminal (never wraps) and its ETA is honest.
#include "progress_line.h"

#include <gtest/gtest.h>

namespace facefill::cli {
namespace {

BackfillProgress Progress(int64_t processed, int64_t total) {
  BackfillProgress p;
  p.processed = processed;
  p.total = total;
  p.faces = 123456;
  p.errors = 17;
  return p;
}

TEST(ProgressLineTest, FitsEveryWidthAndDropsFieldsBeforeTheCount) {
  const auto p = Progress(12345, 100000);
  const std::string wide = FormatProgressLine(p, 33.3, 3600, 160);
  EXPECT_NE(wide.find("faces 123456"), std::string::npos) << wide;
  EXPECT_NE(wide.find("ETA 01:00:00"), std::string::npos) << wide;
  EXPECT_NE(wide.find('['), std::string::npos) << wide;
  for (int width = 20; width <= 200; ++width) {
    const std::string line = FormatProgressLine(p, 33.3, 3600, width);
    EXPECT_LT(line.size(), static_cast<size_t>(width)) << "wraps at " << width << ": " << line;
    EXPECT_NE(line.find("12345/100000"), std::string::npos) << width << ": " << line;
  }
  const std::string narrow = FormatProgressLine(p, 33.3, 3600, 80);
  EXPECT_EQ(narrow.find("faces"), std::string::npos) << "faces go first: " << narrow;
  EXPECT_NE(narrow.find("ETA"), std::string::npos) << narrow;
}

TEST(ProgressLineTest, EtaFollowsTheRecentRateAndNeverReadsZeroWithWorkLeft) {
  RateWindow window(10);
  EXPECT_LT(window.Eta(100), 0) << "unknown before anything is committed";
  window.Add(0, 0);
  window.Add(1, 0);
  EXPECT_LT(window.Eta(100), 0);
  window.Add(2, 64);  // a write batch lands
  EXPECT_GT(window.Rate(), 0);
  window.Add(20, 640);
  window.Add(30, 960);  // 32 images/s over the last 10 s
  EXPECT_NEAR(window.Rate(), 32.0, 0.01);
  EXPECT_NEAR(window.Eta(320), 10.0, 0.01);
  EXPECT_GE(window.Eta(1), 1.0) << "work left never shows 00:00:00";
  EXPECT_EQ(Duration(window.Eta(1)), "00:00:01");
  EXPECT_EQ(window.Eta(0), 0);
  EXPECT_EQ(Duration(-1), "--:--:--");
}

}  // namespace
}  // namespace facefill::cli
