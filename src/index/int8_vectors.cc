// 8-bit face vector codes: encoding, decoding and dot products (AVX2 chosen at run time, portable otherwise).
#include "int8_vectors.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace facefill::int8 {
namespace {

float StepOf(const void* code, int dimension) {
  float step;
  std::memcpy(&step, static_cast<const int8_t*>(code) + dimension, sizeof step);
  return step;
}

int32_t IntegerDotPortable(const int8_t* a, const int8_t* b, int count) {
  int32_t sum = 0;
  for (int i = 0; i < count; ++i) sum += int32_t{a[i]} * int32_t{b[i]};
  return sum;
}

#if defined(__x86_64__)
bool CpuHasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

// 32 products a time: |a| times b with a's sign (codes never hold -128, so |a| fits a byte and pairs of products fit
// 16 bits: 2 * 127 * 127 < 32768), then pairs summed into 32-bit lanes.
__attribute__((target("avx2"))) int32_t IntegerDotAvx2(const int8_t* a, const int8_t* b, int count) {
  __m256i sum = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  int i = 0;
  for (; i + 32 <= count; i += 32) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
    sum = _mm256_add_epi32(sum, _mm256_madd_epi16(pairs, ones));
  }
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
  s = _mm_hadd_epi32(s, s);
  s = _mm_hadd_epi32(s, s);
  return _mm_cvtsi128_si32(s) + IntegerDotPortable(a + i, b + i, count - i);
}
#endif

}  // namespace

void Encode(const float* in, int dimension, void* code) {
  float largest = 0;
  for (int i = 0; i < dimension; ++i) largest = std::max(largest, std::fabs(in[i]));
  const float step = largest > 0 && std::isfinite(largest) ? largest / 127.0f : 0.0f;
  auto* out = static_cast<int8_t*>(code);
  for (int i = 0; i < dimension; ++i) {
    const float q = step > 0 ? std::nearbyint(in[i] / step) : 0.0f;
    out[i] = static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f));
  }
  std::memcpy(out + dimension, &step, sizeof step);
}

void Decode(const void* code, int dimension, float* out) {
  const float step = StepOf(code, dimension);
  const auto* in = static_cast<const int8_t*>(code);
  for (int i = 0; i < dimension; ++i) out[i] = static_cast<float>(in[i]) * step;
}

float DotPortable(const void* a, const void* b, int dimension) {
  const int32_t sum = IntegerDotPortable(static_cast<const int8_t*>(a), static_cast<const int8_t*>(b), dimension);
  return static_cast<float>(sum) * (StepOf(a, dimension) * StepOf(b, dimension));
}

#if defined(__x86_64__)
bool Vectorised() { return CpuHasAvx2(); }

float Dot(const void* a, const void* b, int dimension) {
  if (!CpuHasAvx2()) return DotPortable(a, b, dimension);
  const int32_t sum = IntegerDotAvx2(static_cast<const int8_t*>(a), static_cast<const int8_t*>(b), dimension);
  return static_cast<float>(sum) * (StepOf(a, dimension) * StepOf(b, dimension));
}
#else
bool Vectorised() { return false; }
float Dot(const void* a, const void* b, int dimension) { return DotPortable(a, b, dimension); }
#endif

}  // namespace facefill::int8
