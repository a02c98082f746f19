/* -*- c++ -*- -------------------------------------------------------------
   Native CPU kernel of pair_style student for tabulated local students
   (pair_student.models.tabulated): radial weights from cubic Hermite tables,
   moments, invariants and all gradients in closed form, the readout MLP as
   plain matrix products. No autograd and no torch: the loader
   (student_native_load.cpp) copies the TorchScript module into a
   TabulatedArrays once, and the kernel keeps its own padded, packed copy.
------------------------------------------------------------------------- */

#ifndef LMP_STUDENT_NATIVE_H
#define LMP_STUDENT_NATIVE_H

#include "student_gemm.h"

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace LAMMPS_NS {

// A tabulated local student as plain row-major arrays in its run dtype T, every channel axis at
// the model's own width `channels` (shapes as in pair_student/models/tabulated.py and local.py).
template <typename T> struct TabulatedArrays {
  struct Linear {
    int in = 0, out = 0;
    std::vector<T> weight, bias;    // (out, in), (out)
  };
  int num_elements = 0, lmax = 0, channels = 0, points = 0;
  double spacing = 0.0;
  std::vector<T> radial_values, radial_slopes;    // (num_elements^2 * (points + 1), (lmax + 1) * channels)
  std::vector<T> mix;                             // (mixings, channels, channels)
  std::vector<T> sh2_cubic;                       // (5, 5, 5): tr(B_m B_n B_p) as [p][m][n]
  std::vector<Linear> readout;                    // readout_in, then every readout_hidden layer
  Linear readout_out;                             // (1, hidden)
  std::vector<T> element_bias;                    // (num_elements, readout[0].out)
  std::vector<T> shift;                           // (num_elements)
  T scale = 1;
  // core repulsion (pair_student/models/repulsion.py): atomic numbers (num_elements) and the
  // switching window of each ordered pair (num_elements^2); empty or every outer 0: off
  std::vector<double> core_z, core_inner, core_outer;
  // per-atom uncertainty (pair_student/models/uncertainty.py): per element the mean of the last
  // readout activations (num_elements, H) and their whitening (num_elements, H, H), and the
  // calibration (a, p); empty: the file carries none
  std::vector<T> uncertainty_mean, uncertainty_whiten, uncertainty_calibration;
};

// The core repulsion as the kernel runs it: on only where some pair has a window.
struct CoreRepulsion {
  bool on = false;
  std::vector<double> z, inner, outer, outer_sq;
};

class NativeKernel {
 public:
  // Takes its own padded and packed copy of the arrays; "" on success, else what is wrong.
  // gemm: how the readout and channel mixings multiply, "blas", "packed" or "auto" (the faster of
  // the two, timed here).
  template <typename T> std::string load(const TabulatedArrays<T> &model, const std::string &gemm);
  // "packed" or "blas": the matrix products as chosen at load
  const char *gemm_name() const { return shape.packed ? "packed" : "blas"; }
  // whether the model file carries the statistics of the per-atom uncertainty
  bool has_uncertainty() const { return single ? w32.uncertainty.on : w64.uncertainty.on; }
  // species must lie in [0, num_elements) for all nlocal + ghost atoms (StudentEvaluator checks it).
  // uncertainty: when given, each local atom's uncertainty a d^p (eV/A) is written into it.
  std::string evaluate(const std::vector<int64_t> &species, const std::vector<int64_t> &edges,
                       const std::vector<double> &vectors, int64_t nedges, int64_t nlocal,
                       std::vector<double> &energy, std::vector<double> &edge_grad,
                       std::vector<double> *uncertainty = nullptr);

  template <typename T> struct Weights {
    std::vector<T> values, slopes;    // radial tables: (pairs * (points + 1), num_l * channels)
    PackedMatrix<T> m0, m0t;          // mixing of A1 (channels, channels) and its transpose
    PackedMatrix<T> mcat, mtcat;      // of A2: [M1 M2 M3] (C, 3C) and [M1^T; M2^T; M3^T] (3C, C)
    PackedMatrix<T> m4, m4t;          // of A3 (lmax 3)
    std::vector<T> cubic;             // (5, 25): tr(B_m B_n B_p) as [p][m * 5 + n]
    std::vector<PackedMatrix<T>> forward, backward;    // per readout layer: W^T and W
    // per readout layer (out); the first layer's per element (num_elements, out), the element's
    // own bias added
    std::vector<std::vector<T>> bias;
    std::vector<T> out_weight, shift;    // (hidden), (num_elements)
    double out_bias = 0.0, scale = 1.0;  // in the run dtype's precision
    CoreRepulsion core;
    struct Uncertainty {
      bool on = false;
      bool lower = false;       // every whitening is lower-triangular: the zeros above are skipped
      int hidden = 0, padded = 0;    // the invariants' count F; padded: F rounded up to a cache line of T
      std::vector<int> gather;  // (F): where feature j sits in the kernel's padded invariants
      std::vector<T> mean;      // (num_elements, F)
      std::vector<T> columns;   // (num_elements, F, padded): W_e transposed, a column of W a row
      double a = 0.0, p = 1.0;  // the calibration, as the file holds it in the run dtype
    } uncertainty;
  };
  // Buffers kept across steps: allocating them per call cost 17-25% of a step (page faults, zeroing).
  template <typename T> struct Scratch {
    std::vector<T> A, G, B1, b, q, b5, g, gz, t1, t2, t3;
    std::vector<std::vector<T>> h, slope;    // readout activations and silu' per layer
    std::vector<T> centred;                  // one atom's h - mu (uncertainty)
  };
  // What every step needs: the sizes and the gemm chosen at load. channels: the model's, padded
  // to a multiple of 8 (load()), the width of every channel axis here.
  struct Shape {
    int num_elements = 0, lmax = 0, channels = 0, points = 0, components = 0, features = 0;
    double spacing = 0.0;
    bool packed = false;
  };

 private:
  template <typename T, int CT>    // CT: channels known at compile time, 0 = at run time
  void run(const Weights<T> &wt, Scratch<T> &s, const std::vector<int64_t> &species,
           const std::vector<int64_t> &edges, const std::vector<double> &vectors,
           int64_t nedges, int64_t nlocal, std::vector<double> &energy,
           std::vector<double> &edge_grad, double *uncertainty);
  void sort_edges(const int64_t *center, int64_t nedges, int64_t nlocal);

  bool single = false;    // float32 run dtype: w32 and s32, else w64 and s64
  Shape shape;
  Weights<double> w64;
  Weights<float> w32;
  Scratch<double> s64;
  Scratch<float> s32;
  std::vector<int64_t> edge_first, edge_order, edge_cursor;    // edges by centre (sort_edges())
  template <typename T> Weights<T> &weights()
  {
    if constexpr (std::is_same<T, float>::value) return w32;
    else return w64;
  }
};

}    // namespace LAMMPS_NS

#endif
