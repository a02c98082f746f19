#include "student_gemm.h"

#include <ATen/Parallel.h>

#include <dlfcn.h>

#include <algorithm>
#include <type_traits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

using namespace LAMMPS_NS;

// Column-major BLAS gemm, taken from libtorch's own scope: lmp exports LAMMPS' bundled reference
// dgemm_, which would otherwise serve every double-precision torch matmul in the process
// (measured: 5x slower readout for the original preset in float64).
template <typename T>
using Gemm = void (*)(const char *, const char *, const int *, const int *, const int *, const T *,
                      const T *, const int *, const T *, const int *, const T *, T *, const int *);

template <typename T> static Gemm<T> torch_gemm()
{
  static Gemm<T> gemm = [] {
    Dl_info info;
    void *self = nullptr;
    if (dladdr(reinterpret_cast<void *>(&at::set_num_threads), &info) && info.dli_fname)
      self = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    void *sym = self ? dlsym(self, std::is_same<T, double>::value ? "dgemm_" : "sgemm_") : nullptr;
    return reinterpret_cast<Gemm<T>>(sym);
  }();
  return gemm;
}

// Row-major out (n, cols) = beta out + x (n, inner) M, M row-major (inner, cols), or M^T for
// M row-major (cols, inner) when transposed; plain loops when libtorch has no BLAS symbol.
template <typename T>
static void gemm_rows(int n, int inner, int cols, const T *x, int ldx, const T *M, bool transposed,
                      T *out, int ldo, T beta)
{
  Gemm<T> gemm = torch_gemm<T>();
  if (gemm) {    // column-major: out^T = M'^T x^T
    T one = 1;
    int ldm = transposed ? inner : cols;
    gemm(transposed ? "T" : "N", "N", &cols, &n, &inner, &one, M, &ldm, x, &ldx, &beta, out, &ldo);
    return;
  }
  for (int i = 0; i < n; i++) {    // no BLAS symbol in libtorch's scope: plain loops
    T *o = out + (int64_t) i * ldo;
    for (int d = 0; d < cols; d++) o[d] = beta == 0 ? 0 : beta * o[d];
    for (int c = 0; c < inner; c++) {
      T xc = x[(int64_t) i * ldx + c];
      for (int d = 0; d < cols; d++) o[d] += xc * (transposed ? M[d * inner + c] : M[c * cols + d]);
    }
  }
}

namespace {

#if defined(__AVX512F__)
struct F64 {
  using V = __m512d;
  static constexpr int LANES = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const double *p) { return _mm512_loadu_pd(p); }
  static V fma(double a, V b, V c) { return _mm512_fmadd_pd(_mm512_set1_pd(a), b, c); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static V load(const double *p, int valid) { return _mm512_maskz_loadu_pd((__mmask8) ((1u << valid) - 1), p); }
  static void store(double *p, int valid, V v)
  {
    _mm512_mask_storeu_pd(p, (__mmask8) ((1u << valid) - 1), v);
  }
};
struct F32 {
  using V = __m512;
  static constexpr int LANES = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float *p) { return _mm512_loadu_ps(p); }
  static V fma(float a, V b, V c) { return _mm512_fmadd_ps(_mm512_set1_ps(a), b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V load(const float *p, int valid) { return _mm512_maskz_loadu_ps((__mmask16) ((1u << valid) - 1), p); }
  static void store(float *p, int valid, V v)
  {
    _mm512_mask_storeu_ps(p, (__mmask16) ((1u << valid) - 1), v);
  }
};
template <typename T> using Simd = typename std::conditional<std::is_same<T, double>::value, F64, F32>::type;

// A tile of ROWS x NV vectors of out: ROWS * NV accumulators, NV panel loads and one broadcast
// per k; ROWS <= 8 and NV <= 3 keep everything in the 32 vector registers.
template <typename T, int ROWS, int NV, bool ADD>
void tile(int inner, const T *__restrict x, int ldx, const T *__restrict panel, T *out, int ldo,
          int valid)
{
  using S = Simd<T>;
  constexpr int L = S::LANES;
  typename S::V c[ROWS][NV], b[NV];
#pragma GCC unroll 8
  for (int r = 0; r < ROWS; r++)
    for (int j = 0; j < NV; j++) c[r][j] = S::zero();
  for (int k = 0; k < inner; k++) {
    for (int j = 0; j < NV; j++) b[j] = S::load(panel + ((int64_t) k * NV + j) * L);
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; r++) {
      T a = x[(int64_t) r * ldx + k];
      for (int j = 0; j < NV; j++) c[r][j] = S::fma(a, b[j], c[r][j]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < ROWS; r++)
    for (int j = 0; j < NV; j++) {
      int v = std::min(L, valid - j * L);
      T *o = out + (int64_t) r * ldo + j * L;
      if (v > 0) S::store(o, v, ADD ? S::add(S::load(o, v), c[r][j]) : c[r][j]);
    }
}

template <typename T, int NV, bool ADD>
void tile_rows(int rows, int inner, const T *x, int ldx, const T *panel, T *out, int ldo, int valid)
{
  switch (rows) {
    case 8: return tile<T, 8, NV, ADD>(inner, x, ldx, panel, out, ldo, valid);
    case 7: return tile<T, 7, NV, ADD>(inner, x, ldx, panel, out, ldo, valid);
    case 6: return tile<T, 6, NV, ADD>(inner, x, ldx, panel, out, ldo, valid);
    case 5: return tile<T, 5, NV, ADD>(inner, x, ldx, panel, out, ldo, valid);
    case 4: return tile<T, 4, NV, ADD>(inner, x, ldx, panel, out, ldo, valid);
    case 3: return tile<T, 3, NV, ADD>(inner, x, ldx, panel, out, ldo, valid);
    case 2: return tile<T, 2, NV, ADD>(inner, x, ldx, panel, out, ldo, valid);
    default: return tile<T, 1, NV, ADD>(inner, x, ldx, panel, out, ldo, valid);
  }
}

template <typename T, bool ADD>
void tile_any(int vectors, int rows, int inner, const T *x, int ldx, const T *panel, T *out, int ldo,
              int valid)
{
  if (vectors == 3) tile_rows<T, 3, ADD>(rows, inner, x, ldx, panel, out, ldo, valid);
  else if (vectors == 2) tile_rows<T, 2, ADD>(rows, inner, x, ldx, panel, out, ldo, valid);
  else tile_rows<T, 1, ADD>(rows, inner, x, ldx, panel, out, ldo, valid);
}
constexpr int TILE_ROWS = 8;
template <typename T> constexpr int lanes() { return Simd<T>::LANES; }
#else
template <typename T> constexpr int lanes() { return 1; }
#endif

}    // namespace

template <typename T> bool PackedMatrix<T>::available()
{
#if defined(__AVX512F__)
  return true;
#else
  return false;
#endif
}

template <typename T> void PackedMatrix<T>::pack(const T *M, int inner_, int cols_, bool transposed_)
{
  inner = inner_;
  cols = cols_;
  transposed = transposed_;
  plain.assign(M, M + (size_t) inner * cols);
  if (!available()) return;
  // panels of 3 vectors (the fewest loads per FMA), or fewer where 3 would pad the columns by
  // over 20 % more than 1 would (24 floats: 2 vectors, not 3)
  const int L = lanes<T>();
  auto padded = [&](int v) { return (cols + v * L - 1) / (v * L) * v; };
  vectors = 3;
  while (vectors > 1 && 5 * padded(vectors) > 6 * padded(1)) vectors--;
  const int P = vectors * L, count = (cols + P - 1) / P;
  panels.assign((size_t) count * inner * P, T(0));
  for (int p = 0; p < count; p++)
    for (int k = 0; k < inner; k++)
      for (int j = 0; j < P && p * P + j < cols; j++) {
        int d = p * P + j;
        panels[((size_t) p * inner + k) * P + j] = transposed ? M[(size_t) d * inner + k] : M[(size_t) k * cols + d];
      }
}

template <typename T>
void PackedMatrix<T>::multiply(int n, const T *x, int ldx, T *out, int ldo, bool packed, bool add) const
{
#if defined(__AVX512F__)
  if (packed) {
    const int P = vectors * lanes<T>(), count = (cols + P - 1) / P;
    // panel-major: one panel (inner x P) stays in L2 while every row block passes over it
    for (int p = 0; p < count; p++) {
      const T *panel = panels.data() + (size_t) p * inner * P;
      for (int i = 0; i < n; i += TILE_ROWS) {
        int rows = std::min(TILE_ROWS, n - i), valid = std::min(P, cols - p * P);
        const T *xi = x + (int64_t) i * ldx;
        T *oi = out + (int64_t) i * ldo + p * P;
        if (add) tile_any<T, true>(vectors, rows, inner, xi, ldx, panel, oi, ldo, valid);
        else tile_any<T, false>(vectors, rows, inner, xi, ldx, panel, oi, ldo, valid);
      }
    }
    return;
  }
#endif
  gemm_rows<T>(n, inner, cols, x, ldx, plain.data(), transposed, out, ldo, add ? 1 : 0);
}

template class LAMMPS_NS::PackedMatrix<double>;
template class LAMMPS_NS::PackedMatrix<float>;
