/* -*- c++ -*- -------------------------------------------------------------
   Matrix products of the native kernel (readout, channel mixings): out (n, cols) = x (n, inner) M
   for a matrix M fixed at load time, either through libtorch's BLAS or through
   a register-blocked AVX-512 loop over M packed once into column panels.
   The second exists because MKL (libtorch's BLAS on x86) takes its AVX2 path on
   AMD CPUs: on an AVX-512 EPYC it reached half the FMA peak of the core.
------------------------------------------------------------------------- */

#ifndef LMP_STUDENT_GEMM_H
#define LMP_STUDENT_GEMM_H

#include <vector>

namespace LAMMPS_NS {

template <typename T> class PackedMatrix {
 public:
  // True when this build has the packed loop (compiled for AVX-512).
  static bool available();
  // Keeps M, row-major (inner, cols), or M^T for M row-major (cols, inner) when transposed, in
  // zero-padded panels of 1-3 SIMD vectors of columns.
  void pack(const T *M, int inner, int cols, bool transposed);
  // Row-major out (n, cols) = x (n, inner) M, or out += x M when `add`; ldx/ldo are row strides.
  // The packed loop when `packed`, else BLAS on the copy of M.
  void multiply(int n, const T *x, int ldx, T *out, int ldo, bool packed, bool add = false) const;
  int inner = 0, cols = 0;

 private:
  std::vector<T> panels;    // [panel][k][vectors * lanes]
  int vectors = 3;          // SIMD vectors per panel row
  std::vector<T> plain;     // M as given, for BLAS
  bool transposed = false;
};

}    // namespace LAMMPS_NS

#endif
