// Face vectors as IEEE half floats, as the face index stores them (half the memory of floats, and 1/2048 relative
// precision, far below the gaps between face similarities): conversion and dot products, with F16C/AVX2/FMA chosen
// at run time so the build runs on any x86-64.
#pragma once

#include <cstdint>

namespace facefill::half {

// out[i] = in[i] rounded to the nearest half (ties to even).
void FromFloat(const float* in, uint16_t* out, int count);
void ToFloat(const uint16_t* in, float* out, int count);

// Dot product of two half vectors, accumulated in float.
float Dot(const uint16_t* a, const uint16_t* b, int count);

// The portable code the above fall back to without F16C/AVX2 (exposed so tests check both agree).
uint16_t FromFloatPortable(float value);
float ToFloatPortable(uint16_t value);
float DotPortable(const uint16_t* a, const uint16_t* b, int count);

// Whether the vectorised path is in use on this CPU.
bool Vectorised();

}  // namespace facefill::half
