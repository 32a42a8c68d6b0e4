// A model's input buffer, reused across calls: ordinary memory, or page-locked host memory from the CUDA execution
// provider's pinned allocator when the model runs on CUDA through an IoBinding (each upload is then one DMA copy).
#pragma once

#include <onnxruntime_cxx_api.h>

#include <cstddef>
#include <vector>

namespace facefill::inference {

// Move-only; made by OnnxModel::NewInputBuffer, and must not outlive that model.
class InputBuffer {
 public:
  InputBuffer() = default;
  // Pinned memory from `allocator`, described by `memory` (both the model's).
  InputBuffer(OrtAllocator* allocator, const OrtMemoryInfo* memory) : allocator_(allocator), memory_(memory) {}
  ~InputBuffer();
  InputBuffer(InputBuffer&& other) noexcept;
  InputBuffer& operator=(InputBuffer&& other) noexcept;
  InputBuffer(const InputBuffer&) = delete;
  InputBuffer& operator=(const InputBuffer&) = delete;

  // Makes room for `count` floats; earlier contents are not kept when it grows.
  void resize(size_t count);
  float* data() { return allocator_ ? pinned_ : plain_.data(); }
  const float* data() const { return allocator_ ? pinned_ : plain_.data(); }
  size_t size() const { return size_; }
  float& operator[](size_t i) { return data()[i]; }
  // Where the floats live: null for ordinary CPU memory.
  const OrtMemoryInfo* memory_info() const { return memory_; }

 private:
  void Release();

  OrtAllocator* allocator_ = nullptr;
  const OrtMemoryInfo* memory_ = nullptr;
  std::vector<float> plain_;
  float* pinned_ = nullptr;
  size_t capacity_ = 0;
  size_t size_ = 0;
};

}  // namespace facefill::inference
