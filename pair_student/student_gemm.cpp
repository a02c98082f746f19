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

template <typename T>
void LAMMPS_NS::gemm_rows(int n, int inner, int cols, const T *x, int ldx, const T *M,
                          bool transposed, T *out, int ldo, T beta)
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

template void LAMMPS_NS::gemm_rows<double>(int, int, int, const double *, int, const double *, bool,
                                           double *, int, double);
template void LAMMPS_NS::gemm_rows<float>(int, int, int, const float *, int, const float *, bool,
                                          float *, int, float);

namespace {

// A tile of ROWS x 3 vectors of out: 3 * ROWS accumulators, 3 panel loads and one broadcast per
// k, ROWS <= 8 so that everything stays in the 32 vector registers.
#if defined(__AVX512F__)
struct F64 {
  using V = __m512d;
  static constexpr int LANES = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const double *p) { return _mm512_loadu_pd(p); }
  static V fma(double a, V b, V c) { return _mm512_fmadd_pd(_mm512_set1_pd(a), b, c); }
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
  static void store(float *p, int valid, V v)
  {
    _mm512_mask_storeu_ps(p, (__mmask16) ((1u << valid) - 1), v);
  }
};
template <typename T> using Simd = typename std::conditional<std::is_same<T, double>::value, F64, F32>::type;

template <typename T, int ROWS>
void tile(int inner, const T *__restrict x, int ldx, const T *__restrict panel, T *out, int ldo,
          int valid)
{
  using S = Simd<T>;
  constexpr int L = S::LANES;
  typename S::V c[ROWS][3];
#pragma GCC unroll 8
  for (int r = 0; r < ROWS; r++) c[r][0] = c[r][1] = c[r][2] = S::zero();
  for (int k = 0; k < inner; k++) {
    const T *p = panel + (int64_t) k * 3 * L;
    typename S::V b0 = S::load(p), b1 = S::load(p + L), b2 = S::load(p + 2 * L);
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; r++) {
      T a = x[(int64_t) r * ldx + k];
      c[r][0] = S::fma(a, b0, c[r][0]);
      c[r][1] = S::fma(a, b1, c[r][1]);
      c[r][2] = S::fma(a, b2, c[r][2]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < ROWS; r++)
    for (int j = 0; j < 3; j++) {
      int v = std::min(L, valid - j * L);
      if (v > 0) S::store(out + (int64_t) r * ldo + j * L, v, c[r][j]);
    }
}

template <typename T>
void tile_rows(int rows, int inner, const T *x, int ldx, const T *panel, T *out, int ldo, int valid)
{
  switch (rows) {
    case 8: return tile<T, 8>(inner, x, ldx, panel, out, ldo, valid);
    case 7: return tile<T, 7>(inner, x, ldx, panel, out, ldo, valid);
    case 6: return tile<T, 6>(inner, x, ldx, panel, out, ldo, valid);
    case 5: return tile<T, 5>(inner, x, ldx, panel, out, ldo, valid);
    case 4: return tile<T, 4>(inner, x, ldx, panel, out, ldo, valid);
    case 3: return tile<T, 3>(inner, x, ldx, panel, out, ldo, valid);
    case 2: return tile<T, 2>(inner, x, ldx, panel, out, ldo, valid);
    default: return tile<T, 1>(inner, x, ldx, panel, out, ldo, valid);
  }
}
constexpr int TILE_ROWS = 8;
template <typename T> constexpr int panel_width() { return 3 * Simd<T>::LANES; }
#else
template <typename T> constexpr int panel_width() { return 1; }
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
  const int P = panel_width<T>(), count = (cols + P - 1) / P;
  panels.assign((size_t) count * inner * P, T(0));
  for (int p = 0; p < count; p++)
    for (int k = 0; k < inner; k++)
      for (int j = 0; j < P && p * P + j < cols; j++) {
        int d = p * P + j;
        panels[((size_t) p * inner + k) * P + j] = transposed ? M[(size_t) d * inner + k] : M[(size_t) k * cols + d];
      }
}

template <typename T>
void PackedMatrix<T>::multiply(int n, const T *x, int ldx, T *out, int ldo, bool packed) const
{
#if defined(__AVX512F__)
  if (packed) {
    const int P = panel_width<T>(), count = (cols + P - 1) / P;
    // panel-major: one panel (inner x P) stays in L2 while every row block passes over it
    for (int p = 0; p < count; p++) {
      const T *panel = panels.data() + (size_t) p * inner * P;
      for (int i = 0; i < n; i += TILE_ROWS)
        tile_rows<T>(std::min(TILE_ROWS, n - i), inner, x + (int64_t) i * ldx, ldx, panel,
                     out + (int64_t) i * ldo + p * P, ldo, std::min(P, cols - p * P));
    }
    return;
  }
#endif
  gemm_rows<T>(n, inner, cols, x, ldx, plain.data(), transposed, out, ldo, 0);
}

template class LAMMPS_NS::PackedMatrix<double>;
template class LAMMPS_NS::PackedMatrix<float>;
