// InputBuffer: a float buffer in ordinary or pinned host memory.
#include "input_buffer.h"

#include <utility>

namespace facefill::inference {

InputBuffer::~InputBuffer() { Release(); }

InputBuffer::InputBuffer(InputBuffer&& other) noexcept { *this = std::move(other); }

InputBuffer& InputBuffer::operator=(InputBuffer&& other) noexcept {
  if (this == &other) return *this;
  Release();
  allocator_ = std::exchange(other.allocator_, nullptr);
  memory_ = std::exchange(other.memory_, nullptr);
  plain_ = std::move(other.plain_);
  pinned_ = std::exchange(other.pinned_, nullptr);
  capacity_ = std::exchange(other.capacity_, 0);
  size_ = std::exchange(other.size_, 0);
  return *this;
}

void InputBuffer::resize(size_t count) {
  size_ = count;
  if (!allocator_) {
    plain_.resize(count);
    return;
  }
  if (count <= capacity_) return;
  Release();
  pinned_ = static_cast<float*>(allocator_->Alloc(allocator_, count * sizeof(float)));
  if (pinned_ == nullptr) throw std::bad_alloc();
  capacity_ = count;
}

void InputBuffer::Release() {
  if (allocator_ && pinned_) allocator_->Free(allocator_, pinned_);
  pinned_ = nullptr;
  capacity_ = 0;
}

}  // namespace facefill::inference
