// Face vectors as 8-bit codes, as the face index stores them: each vector's components rounded to multiples of its
// own step (its largest magnitude / 127), the step kept as a float after the codes. A quarter of the memory of floats
// and half of half floats; the index's searches are bound by memory traffic, so a distance costs about half as much,
// and a dot product moves by a few 1e-4 (the index reranks its search answers with the catalog's own floats).
#pragma once

#include <cstddef>
#include <cstdint>

namespace facefill::int8 {

// Bytes of one code of a `dimension`-component vector: the codes, then the step.
constexpr size_t CodeSize(int dimension) { return static_cast<size_t>(dimension) + sizeof(float); }

// Writes CodeSize(dimension) bytes to `code`. Components are rounded to the nearest step, so each is off by at most
// half a step; codes stay within [-127, 127].
void Encode(const float* in, int dimension, void* code);
void Decode(const void* code, int dimension, float* out);

// Dot product of the vectors two codes stand for: the integer dot product of the codes times both steps (AVX2 when
// the CPU has it, checked once at run time; the same integer sum either way).
float Dot(const void* a, const void* b, int dimension);
float DotPortable(const void* a, const void* b, int dimension);

// Whether the vectorised path is in use on this CPU.
bool Vectorised();

}  // namespace facefill::int8
