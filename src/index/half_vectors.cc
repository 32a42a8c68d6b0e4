// Half-float conversion and dot products: F16C/AVX2/FMA when the CPU has them (checked once at run time), portable
// bit manipulation otherwise.
#include "half_vectors.h"

#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace facefill::half {

uint16_t FromFloatPortable(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  uint32_t mantissa = bits & 0x7fffffu;
  const int exponent = static_cast<int>((bits >> 23) & 0xffu);
  if (exponent == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mantissa ? 0x200u : 0u));  // inf, NaN
  const int half_exponent = exponent - 127 + 15;
  if (half_exponent >= 31) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow: infinity
  if (half_exponent <= 0) {                                               // subnormal half, or zero
    if (half_exponent < -10) return static_cast<uint16_t>(sign);
    mantissa |= 0x800000u;
    const int shift = 14 - half_exponent;
    uint32_t half = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1), middle = 1u << (shift - 1);
    if (rest > middle || (rest == middle && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = sign | (static_cast<uint32_t>(half_exponent) << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // a carry into the exponent is still right
  return static_cast<uint16_t>(half);
}

float ToFloatPortable(uint16_t value) {
  const uint32_t sign = static_cast<uint32_t>(value & 0x8000u) << 16;
  int exponent = (value >> 10) & 0x1f;
  uint32_t mantissa = value & 0x3ffu;
  uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exponent = 1;
      while (!(mantissa & 0x400u)) {
        mantissa <<= 1;
        --exponent;
      }
      mantissa &= 0x3ffu;
      bits = sign | (static_cast<uint32_t>(exponent + 127 - 15) << 23) | (mantissa << 13);
    }
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | (static_cast<uint32_t>(exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

float DotPortable(const uint16_t* a, const uint16_t* b, int count) {
  float sums[4] = {0, 0, 0, 0};
  int i = 0;
  for (; i + 4 <= count; i += 4) {
    for (int j = 0; j < 4; ++j) sums[j] += ToFloatPortable(a[i + j]) * ToFloatPortable(b[i + j]);
  }
  float sum = (sums[0] + sums[1]) + (sums[2] + sums[3]);
  for (; i < count; ++i) sum += ToFloatPortable(a[i]) * ToFloatPortable(b[i]);
  return sum;
}

#if defined(__x86_64__)
namespace {

// AVX2 and FMA as the compiler's runtime check reports them (with the OS's support for the wide registers); F16C
// from CPUID directly, which clang's __builtin_cpu_supports does not name.
bool CpuHasF16c() {
  static const bool has = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
    return f16c && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return has;
}

__attribute__((target("avx2,fma,f16c"))) inline __m256 Load8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

__attribute__((target("avx2,fma,f16c"))) float DotF16c(const uint16_t* a, const uint16_t* b, int count) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 32 <= count; i += 32) {
    s0 = _mm256_fmadd_ps(Load8(a + i), Load8(b + i), s0);
    s1 = _mm256_fmadd_ps(Load8(a + i + 8), Load8(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(Load8(a + i + 16), Load8(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(Load8(a + i + 24), Load8(b + i + 24), s3);
  }
  for (; i + 8 <= count; i += 8) s0 = _mm256_fmadd_ps(Load8(a + i), Load8(b + i), s0);
  const __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  __m128 low = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  low = _mm_hadd_ps(low, low);
  low = _mm_hadd_ps(low, low);
  float sum = _mm_cvtss_f32(low);
  for (; i < count; ++i) sum += ToFloatPortable(a[i]) * ToFloatPortable(b[i]);
  return sum;
}

__attribute__((target("avx2,f16c"))) void FromFloatF16c(const float* in, uint16_t* out, int count) {
  int i = 0;
  for (; i + 8 <= count; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  for (; i < count; ++i) out[i] = FromFloatPortable(in[i]);
}

__attribute__((target("avx2,f16c"))) void ToFloatF16c(const uint16_t* in, float* out, int count) {
  int i = 0;
  for (; i + 8 <= count; i += 8) {
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
  }
  for (; i < count; ++i) out[i] = ToFloatPortable(in[i]);
}

}  // namespace

bool Vectorised() { return CpuHasF16c(); }

void FromFloat(const float* in, uint16_t* out, int count) {
  if (CpuHasF16c()) return FromFloatF16c(in, out, count);
  for (int i = 0; i < count; ++i) out[i] = FromFloatPortable(in[i]);
}

void ToFloat(const uint16_t* in, float* out, int count) {
  if (CpuHasF16c()) return ToFloatF16c(in, out, count);
  for (int i = 0; i < count; ++i) out[i] = ToFloatPortable(in[i]);
}

float Dot(const uint16_t* a, const uint16_t* b, int count) {
  return CpuHasF16c() ? DotF16c(a, b, count) : DotPortable(a, b, count);
}
#else
bool Vectorised() { return false; }
void FromFloat(const float* in, uint16_t* out, int count) {
  for (int i = 0; i < count; ++i) out[i] = FromFloatPortable(in[i]);
}
void ToFloat(const uint16_t* in, float* out, int count) {
  for (int i = 0; i < count; ++i) out[i] = ToFloatPortable(in[i]);
}
float Dot(const uint16_t* a, const uint16_t* b, int count) { return DotPortable(a, b, count); }
#endif

}  // namespace facefill::half
