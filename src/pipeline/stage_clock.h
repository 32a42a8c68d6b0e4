// Busy-time accounting per pipeline stage, safe from many threads.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <string>

namespace facefill::pipeline {

class StageClock {
 public:
  class Timer {
   public:
    Timer(std::atomic<int64_t>* sink) : sink_(sink), start_(std::chrono::steady_clock::now()) {}
    ~Timer() {
      if (sink_) *sink_ += (std::chrono::steady_clock::now() - start_).count();
    }
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

   private:
    std::atomic<int64_t>* sink_;
    std::chrono::steady_clock::time_point start_;
  };

  // Times the enclosing scope under `stage` (decode, detect, align, embed, write).
  Timer Start(const std::string& stage) { return Timer(Slot(stage)); }
  double Seconds(const std::string& stage) const {
    const auto* slot = const_cast<StageClock*>(this)->Slot(stage);
    return slot ? std::chrono::duration<double>(std::chrono::steady_clock::duration(slot->load())).count() : 0.0;
  }

 private:
  std::atomic<int64_t>* Slot(const std::string& stage) {
    for (size_t i = 0; i < kStages.size(); ++i) {
      if (stage == kStages[i]) return &nanos_[i];
    }
    return nullptr;
  }
  static constexpr std::array<const char*, 5> kStages = {"decode", "detect", "align", "embed", "write"};
  std::array<std::atomic<int64_t>, 5> nanos_{};
};

}  // namespace facefill::pipeline
