/* -*- c++ -*- -------------------------------------------------------------
   Native CPU kernel of pair_style student for tabulated local students
   (pair_student.models.tabulated): radial weights from cubic Hermite tables,
   moments, invariants and all gradients in closed form, the readout MLP as
   plain matrix products. No autograd. Private to the torch side:
   pair_student.h never sees torch.
------------------------------------------------------------------------- */

#ifndef LMP_STUDENT_NATIVE_H
#define LMP_STUDENT_NATIVE_H

#include "student_gemm.h"

#include <torch/script.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace LAMMPS_NS {

class NativeKernel {
 public:
  // True when the module is a tabulated local student with plain (unquantized) weights.
  static bool supports(const torch::jit::Module &module);
  // Copies tables and weights from the module (already in its run dtype); "" on success.
  // gemm: how the readout and channel mixings multiply, "blas", "packed" or "auto" (the faster of
  // the two, timed here).
  std::string load(const torch::jit::Module &module, torch::Dtype dtype, const std::string &gemm);
  // "packed" or "blas": the matrix products as chosen at load
  const char *gemm_name() const { return packed ? "packed" : "blas"; }
  std::string evaluate(const std::vector<int64_t> &species, const std::vector<int64_t> &edges,
                       const std::vector<double> &vectors, int64_t nedges, int64_t nlocal,
                       std::vector<double> &energy, std::vector<double> &edge_grad);

  template <typename T> struct Weights {
    std::vector<T> values, slopes;    // radial tables: (pairs * (points + 1), num_l * channels)
    PackedMatrix<T> m0, m0t;          // mixing of A1 (channels, channels) and its transpose
    PackedMatrix<T> mcat, mtcat;      // of A2: [M1 M2 M3] (C, 3C) and [M1^T; M2^T; M3^T] (3C, C)
    PackedMatrix<T> m4, m4t;          // of A3 (lmax 3)
    std::vector<T> cubic;             // (5, 25): tr(B_m B_n B_p) as [p][m * 5 + n]
    std::vector<PackedMatrix<T>> forward, backward;    // per readout layer: W^T and W
  };
  // Buffers kept across steps: allocating them per call cost 17-25% of a step (page faults, zeroing).
  template <typename T> struct Scratch {
    std::vector<T> A, G, B1, b, q, b5, g, gz, t1, t2, t3;
    std::vector<std::vector<T>> h, slope;    // readout activations and silu' per layer
  };

 private:
  template <typename T, int CT>    // CT: channels known at compile time, 0 = at run time
  void run(const Weights<T> &wt, const std::vector<int64_t> &species,
           const std::vector<int64_t> &edges, const std::vector<double> &vectors,
           int64_t nedges, int64_t nlocal, std::vector<double> &energy,
           std::vector<double> &edge_grad);
  template <typename T, int CT>
  void atoms(const Weights<T> &wt, const int64_t *species, int64_t n, const T *A, T *G,
             double *energy);

  template <typename T> bool faster_packed(const Weights<T> &wt);
  torch::Dtype dtype = torch::kFloat64;
  bool packed = false;
  Weights<double> w64;
  Weights<float> w32;
  std::vector<int64_t> edge_first, edge_order, edge_cursor;    // edges by centre (run())
  Scratch<double> s64;
  Scratch<float> s32;
  template <typename T> Scratch<T> &scratch()
  {
    if constexpr (std::is_same<T, double>::value) return s64;
    else return s32;
  }
  // readout, as torch tensors in the run dtype: weights (out, in) and biases (out) per layer,
  // the first layer's per element (num_elements, out)
  std::vector<torch::Tensor> layer, bias;
  torch::Tensor out_weight, shift;
  double out_bias = 0.0, scale = 1.0;
  // channels: the model's, padded to a multiple of 8 (load()); every channel axis here has this width
  int num_elements = 0, lmax = 0, channels = 0, points = 0, components = 0, features = 0;
  double spacing = 0.0;
};

}    // namespace LAMMPS_NS

#endif
