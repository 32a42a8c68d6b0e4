// Dot products for face vectors (AVX2/FMA where the CPU has it, chosen at run time) and the exact k-NN graph by
// blocked brute force.
#include <algorithm>
#include <cmath>
#include <thread>

#include "facefill/hdbscan.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace facefill {
namespace {

float DotScalar(const float* a, const float* b, int dimension) {
  float sums[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= dimension; i += 8) {
    for (int j = 0; j < 8; ++j) sums[j] += a[i + j] * b[i + j];
  }
  float sum = 0;
  for (int j = 0; j < 8; ++j) sum += sums[j];
  for (; i < dimension; ++i) sum += a[i] * b[i];
  return sum;
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) float HorizontalSum(__m256 v) {
  __m128 low = _mm256_castps256_ps128(v);
  __m128 high = _mm256_extractf128_ps(v, 1);
  low = _mm_add_ps(low, high);
  low = _mm_hadd_ps(low, low);
  low = _mm_hadd_ps(low, low);
  return _mm_cvtss_f32(low);
}

__attribute__((target("avx2,fma"))) float DotAvx2(const float* a, const float* b, int dimension) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= dimension; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  float sum = HorizontalSum(_mm256_add_ps(s0, s1));
  for (; i < dimension; ++i) sum += a[i] * b[i];
  return sum;
}

// out[q * nc + c] = dot(queries[q], candidates[c]) for 4 queries x 2 candidates at a time (8 accumulators), the rest
// one by one. dimension must be a multiple of 8.
__attribute__((target("avx2,fma"))) void DotBlockAvx2(const float* queries, int nq, const float* candidates, int nc,
                                                      int dimension, float* out) {
  int q = 0;
  for (; q + 4 <= nq; q += 4) {
    const float* q0 = queries + int64_t(q) * dimension;
    const float* q1 = q0 + dimension;
    const float* q2 = q1 + dimension;
    const float* q3 = q2 + dimension;
    int c = 0;
    for (; c + 2 <= nc; c += 2) {
      const float* c0 = candidates + int64_t(c) * dimension;
      const float* c1 = c0 + dimension;
      __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps(), a10 = _mm256_setzero_ps(), a11 = _mm256_setzero_ps(),
             a20 = _mm256_setzero_ps(), a21 = _mm256_setzero_ps(), a30 = _mm256_setzero_ps(), a31 = _mm256_setzero_ps();
      for (int i = 0; i < dimension; i += 8) {
        const __m256 x0 = _mm256_loadu_ps(c0 + i), x1 = _mm256_loadu_ps(c1 + i);
        __m256 y = _mm256_loadu_ps(q0 + i);
        a00 = _mm256_fmadd_ps(y, x0, a00);
        a01 = _mm256_fmadd_ps(y, x1, a01);
        y = _mm256_loadu_ps(q1 + i);
        a10 = _mm256_fmadd_ps(y, x0, a10);
        a11 = _mm256_fmadd_ps(y, x1, a11);
        y = _mm256_loadu_ps(q2 + i);
        a20 = _mm256_fmadd_ps(y, x0, a20);
        a21 = _mm256_fmadd_ps(y, x1, a21);
        y = _mm256_loadu_ps(q3 + i);
        a30 = _mm256_fmadd_ps(y, x0, a30);
        a31 = _mm256_fmadd_ps(y, x1, a31);
      }
      out[int64_t(q) * nc + c] = HorizontalSum(a00);
      out[int64_t(q) * nc + c + 1] = HorizontalSum(a01);
      out[int64_t(q + 1) * nc + c] = HorizontalSum(a10);
      out[int64_t(q + 1) * nc + c + 1] = HorizontalSum(a11);
      out[int64_t(q + 2) * nc + c] = HorizontalSum(a20);
      out[int64_t(q + 2) * nc + c + 1] = HorizontalSum(a21);
      out[int64_t(q + 3) * nc + c] = HorizontalSum(a30);
      out[int64_t(q + 3) * nc + c + 1] = HorizontalSum(a31);
    }
    for (; c < nc; ++c) {
      for (int r = 0; r < 4; ++r) {
        out[int64_t(q + r) * nc + c] =
            DotAvx2(queries + int64_t(q + r) * dimension, candidates + int64_t(c) * dimension, dimension);
      }
    }
  }
  for (; q < nq; ++q) {
    for (int c = 0; c < nc; ++c) {
      out[int64_t(q) * nc + c] =
          DotAvx2(queries + int64_t(q) * dimension, candidates + int64_t(c) * dimension, dimension);
    }
  }
}

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}
#else
bool HasAvx2() { return false; }
#endif

void DotBlock(const float* queries, int nq, const float* candidates, int nc, int dimension, float* out) {
#if defined(__x86_64__)
  if (HasAvx2() && dimension % 8 == 0) return DotBlockAvx2(queries, nq, candidates, nc, dimension, out);
#endif
  for (int q = 0; q < nq; ++q) {
    for (int c = 0; c < nc; ++c) {
      out[int64_t(q) * nc + c] =
          DotScalar(queries + int64_t(q) * dimension, candidates + int64_t(c) * dimension, dimension);
    }
  }
}

}  // namespace

float Dot(const float* a, const float* b, int dimension) {
#if defined(__x86_64__)
  if (HasAvx2()) return DotAvx2(a, b, dimension);
#endif
  return DotScalar(a, b, dimension);
}

KnnGraph ExactKnnGraph(const VectorMatrix& vectors, int k, int threads) {
  constexpr int kQueryBlock = 64;
  constexpr int kCandidateBlock = 512;
  const int64_t n = vectors.rows();
  const int d = vectors.dimension;
  KnnGraph graph;
  graph.k = k;
  graph.neighbors.assign(n * k, -1);
  graph.distances.assign(n * k, std::numeric_limits<float>::infinity());
  if (n == 0 || k <= 0) return graph;
  auto work = [&](int64_t first_block, int64_t stride) {
    std::vector<float> dots(kQueryBlock * kCandidateBlock);
    // Per query, a min-heap of (similarity, index): the k best so far, worst on top.
    std::vector<std::vector<std::pair<float, int32_t>>> best(kQueryBlock);
    auto worse = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) { return a > b; };
    for (int64_t q0 = first_block * kQueryBlock; q0 < n; q0 += stride * kQueryBlock) {
      const int nq = static_cast<int>(std::min<int64_t>(kQueryBlock, n - q0));
      for (auto& b : best) b.clear();
      for (int64_t c0 = 0; c0 < n; c0 += kCandidateBlock) {
        const int nc = static_cast<int>(std::min<int64_t>(kCandidateBlock, n - c0));
        DotBlock(vectors.values.data() + q0 * d, nq, vectors.values.data() + c0 * d, nc, d, dots.data());
        for (int q = 0; q < nq; ++q) {
          auto& heap = best[q];
          const float* row = dots.data() + int64_t(q) * nc;
          for (int c = 0; c < nc; ++c) {
            if (c0 + c == q0 + q) continue;
            if (static_cast<int>(heap.size()) < k) {
              heap.emplace_back(row[c], static_cast<int32_t>(c0 + c));
              std::push_heap(heap.begin(), heap.end(), worse);
            } else if (row[c] > heap.front().first) {
              std::pop_heap(heap.begin(), heap.end(), worse);
              heap.back() = {row[c], static_cast<int32_t>(c0 + c)};
              std::push_heap(heap.begin(), heap.end(), worse);
            }
          }
        }
      }
      for (int q = 0; q < nq; ++q) {
        auto& heap = best[q];
        std::sort(heap.begin(), heap.end(), [](const auto& a, const auto& b) { return a > b; });
        for (size_t j = 0; j < heap.size(); ++j) {
          graph.neighbors[(q0 + q) * k + j] = heap[j].second;
          graph.distances[(q0 + q) * k + j] = std::sqrt(std::max(0.0f, 2.0f - 2.0f * heap[j].first));
        }
      }
    }
  };
  threads = std::max(1, threads);
  std::vector<std::jthread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t, threads);
  work(0, threads);
  return graph;
}

}  // namespace facefill
