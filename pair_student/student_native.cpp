/* -------------------------------------------------------------------------
   Native kernel for tabulated local students (the same function as their
   TorchScript forward, pair_student/models/local.py, without autograd), on
   plain arrays: no torch here (the loader is student_native_load.cpp).

   Atoms in blocks of BLOCK, each in three steps:
   Edges, pass 1 (moments()): r, u = vec / r, angular components Y_k(u)
   (homogeneous of degree l_k in u) and radial weights w_lc(r) by cubic Hermite
   interpolation; moments A[i][k][c] = sum_j Y_k w_{l_k c}.
   Atoms (atoms()): invariants of A, the readout MLP and its input gradient
   (matrix products of student_gemm), then G = dE/dA in closed form.
   Edges, pass 2 (edge_gradients()):
     dE/dvec = (sum_k p_k Y_k - sum_k l_k q_k Y_k / r) u + sum_k q_k dY_k/du / r
   with p_k = sum_c G_kc dw_lc/dr and q_k = sum_c G_kc w_lc (u . dY_k/du = l_k Y_k).

   Every loop body over channels below is the one the stored reference values
   (tests/runtime/shipped_reference.json) were taken with: the compiler
   contracts a * b + c into FMAs within a body, so splitting or reordering one
   changes the last bits.
------------------------------------------------------------------------- */

#include "student_native.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <type_traits>

using namespace LAMMPS_NS;

static constexpr int COMPONENTS[4] = {0, 4, 9, 19};    // 1 + 3 + 5 + 10, by lmax
static constexpr int COMPONENT_L[19] = {0, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
static constexpr int NUM_M[4] = {1, 3, 5, 10};    // components of each l
// atoms per block (moments, readout, edge gradients): with 128, the block's moments, dE/dA and
// activations outgrew L2 in float64 (original: 64 ran 9-13% faster, 32 the same as 64)
static constexpr int64_t BLOCK = 64;
// rows of the uncertainty's whitening per block: a cache line (an AVX-512 register) of T
template <typename T> static constexpr int UNCERTAINTY_BLOCK = 64 / sizeof(T);

namespace {

using Shape = NativeKernel::Shape;
template <typename T> using Weights = NativeKernel::Weights<T>;
template <typename T> using Scratch = NativeKernel::Scratch<T>;

int feature_blocks(int lmax) { return lmax == 1 ? 2 : lmax == 2 ? 5 : 6; }    // of C each
int mixings(int lmax) { return lmax == 1 ? 1 : lmax == 2 ? 4 : 5; }

/* ---------------------------------------------------------------------- load */

// Channel c of every group of true_c along the last axis moves to group * padded + c; the new
// channels are 0.
template <typename T> std::vector<T> pad_channels(const std::vector<T> &t, int true_c, int padded)
{
  const size_t groups = t.size() / true_c;
  std::vector<T> out(groups * padded, T(0));
  for (size_t g = 0; g < groups; g++)
    std::copy(t.begin() + g * true_c, t.begin() + (g + 1) * true_c, out.begin() + g * padded);
  return out;
}

// Mixing m of mix (mixings, true_c, true_c) as a (padded, padded) matrix, or its transpose.
template <typename T>
std::vector<T> mixing(const std::vector<T> &mix, int m, int true_c, int padded, bool transpose)
{
  std::vector<T> out((size_t) padded * padded, T(0));
  const T *src = &mix[(size_t) m * true_c * true_c];
  for (int i = 0; i < true_c; i++)
    for (int j = 0; j < true_c; j++)
      out[transpose ? j * padded + i : i * padded + j] = src[i * true_c + j];
  return out;
}

// Whether the arrays have the sizes their counts imply; "" when they do.
template <typename T> std::string check_sizes(const TabulatedArrays<T> &a)
{
  const int64_t c = a.channels, rows = (int64_t) a.num_elements * a.num_elements * (a.points + 1);
  const auto &first = a.readout.empty() ? a.readout_out : a.readout.front();
  bool ok = c > 0 && a.num_elements > 0 && a.points > 0 && a.spacing > 0.0 &&
      a.radial_values.size() == (size_t) (rows * (a.lmax + 1) * c) &&
      a.radial_slopes.size() == a.radial_values.size() &&
      a.mix.size() == (size_t) (mixings(a.lmax) * c * c) && (a.lmax < 2 || a.sh2_cubic.size() == 125) &&
      !a.readout.empty() && first.in == feature_blocks(a.lmax) * c &&
      a.element_bias.size() == (size_t) a.num_elements * first.out &&
      a.shift.size() == (size_t) a.num_elements && a.readout_out.out == 1;
  int previous = first.in;
  for (size_t l = 0; ok && l <= a.readout.size(); l++) {    // the layers chain, readout_out last
    const auto &lin = l < a.readout.size() ? a.readout[l] : a.readout_out;
    ok = lin.in == previous && lin.weight.size() == (size_t) lin.in * lin.out &&
        lin.bias.size() == (size_t) lin.out;
    previous = lin.out;
  }
  return ok ? "" : "the tables and weights in the model file do not match its sizes; re-export it";
}

// The core repulsion windows: none, or one per ordered pair with 0 <= inner < outer (outer 0: off).
template <typename T> std::string fill_core(const TabulatedArrays<T> &a, CoreRepulsion &core)
{
  core = CoreRepulsion();
  const size_t pairs = (size_t) a.num_elements * a.num_elements;
  if (a.core_outer.empty() && a.core_inner.empty() && a.core_z.empty()) return "";
  bool ok = a.core_z.size() == (size_t) a.num_elements && a.core_inner.size() == pairs &&
      a.core_outer.size() == pairs;
  for (size_t p = 0; ok && p < pairs; p++)
    ok = a.core_outer[p] == 0.0 || (a.core_inner[p] >= 0.0 && a.core_inner[p] < a.core_outer[p]);
  if (!ok) return "the core repulsion windows in the model file are malformed; re-export it";
  core.z = a.core_z;
  core.inner = a.core_inner;
  core.outer = a.core_outer;
  for (double o : a.core_outer) {
    core.outer_sq.push_back(o * o);
    core.on = core.on || o > 0.0;
  }
  return "";
}

// The uncertainty's statistics, checked against the readout: none, or a mean and whitening per
// element of the readout's input (the invariants, F = feature_blocks * channels) and (a, p).
template <typename T>
std::string fill_uncertainty(const TabulatedArrays<T> &a, typename Weights<T>::Uncertainty &u)
{
  u = typename Weights<T>::Uncertainty();
  if (a.uncertainty_mean.empty()) return "";
  const size_t n = a.num_elements, F = (size_t) feature_blocks(a.lmax) * a.channels;
  if (a.uncertainty_mean.size() != n * F || a.uncertainty_whiten.size() != n * F * F ||
      a.uncertainty_calibration.size() != 2)
    return "the uncertainty statistics in the model file do not match its invariants (" +
        std::to_string(a.num_elements) + " elements, " + std::to_string(F) + " features); "
        "re-export it with 'pair-student export FILE --uncertainty-from DATASET'";
  constexpr size_t V = UNCERTAINTY_BLOCK<T>;
  const size_t padded = (F + V - 1) / V * V;
  // the kernel's invariants sit in channel blocks padded to a multiple of 8 (load())
  const int tc = a.channels, pc = (a.channels + 7) / 8 * 8;
  u.on = true;
  u.hidden = (int) F;
  u.padded = (int) padded;
  u.mean = a.uncertainty_mean;
  u.gather.resize(F);
  for (size_t j = 0; j < F; j++) u.gather[j] = (int) (j / tc) * pc + (int) (j % tc);
  u.columns.assign(n * F * padded, T(0));
  u.lower = true;
  for (size_t e = 0; e < n; e++)
    for (size_t r = 0; r < F; r++)
      for (size_t c = 0; c < F; c++) {
        const T w = a.uncertainty_whiten[(e * F + r) * F + c];
        u.columns[(e * F + c) * padded + r] = w;
        u.lower = u.lower && (c <= r || w == T(0));
      }
  u.a = (double) a.uncertainty_calibration[0];
  u.p = (double) a.uncertainty_calibration[1];
  return "";
}

template <typename T> void fill_tables(const TabulatedArrays<T> &a, int padded, Weights<T> &w)
{
  const int tc = a.channels, lmax = a.lmax;
  auto pack = [](PackedMatrix<T> &p, const std::vector<T> &m, int rows, int cols) {
    p.pack(m.data(), rows, cols, false);
  };
  w.values = pad_channels(a.radial_values, tc, padded);
  w.slopes = pad_channels(a.radial_slopes, tc, padded);
  w.cubic = a.sh2_cubic;
  pack(w.m0, mixing(a.mix, 0, tc, padded, false), padded, padded);
  pack(w.m0t, mixing(a.mix, 0, tc, padded, true), padded, padded);
  if (lmax >= 2) {    // the three mixings of A2 side by side, and their transposes stacked
    std::vector<T> cat((size_t) padded * 3 * padded), tcat;
    for (int k = 0; k < 3; k++) {
      std::vector<T> m = mixing(a.mix, 1 + k, tc, padded, false), mt = mixing(a.mix, 1 + k, tc, padded, true);
      for (int i = 0; i < padded; i++)
        std::copy(m.begin() + (size_t) i * padded, m.begin() + (size_t) (i + 1) * padded,
                  cat.begin() + ((size_t) 3 * i + k) * padded);
      tcat.insert(tcat.end(), mt.begin(), mt.end());
    }
    pack(w.mcat, cat, padded, 3 * padded);
    pack(w.mtcat, tcat, 3 * padded, padded);
  }
  if (lmax == 3) {
    pack(w.m4, mixing(a.mix, 4, tc, padded, false), padded, padded);
    pack(w.m4t, mixing(a.mix, 4, tc, padded, true), padded, padded);
  }
}

template <typename T> void fill_readout(const TabulatedArrays<T> &a, int padded, Weights<T> &w)
{
  const size_t L = a.readout.size();
  w.forward.resize(L);
  w.backward.resize(L);
  w.bias.resize(L);
  for (size_t l = 0; l < L; l++) {
    const auto &lin = a.readout[l];
    // the first layer reads the features of the padded channels: zero columns for the new ones
    std::vector<T> weight = l == 0 ? pad_channels(lin.weight, a.channels, padded) : lin.weight;
    const int in = (int) (weight.size() / lin.out);
    w.forward[l].pack(weight.data(), in, lin.out, true);
    w.backward[l].pack(weight.data(), lin.out, in, false);
    w.bias[l] = lin.bias;
  }
  // the first layer's bias per element: its own plus the element's (num_elements, hidden)
  const int hidden = a.readout[0].out;
  w.bias[0].resize(a.element_bias.size());
  for (int e = 0; e < a.num_elements; e++)
    for (int j = 0; j < hidden; j++)
      w.bias[0][e * hidden + j] = a.element_bias[e * hidden + j] + a.readout[0].bias[j];
  w.out_weight = a.readout_out.weight;
  w.out_bias = (double) a.readout_out.bias[0];
  w.shift = a.shift;
  w.scale = (double) a.scale;
}

// Whether the packed loop beats BLAS on this CPU: both time every product of the readout for one
// block of atoms (forward and backward; best of 7 after a warm-up, the two interleaved), since
// which wins depends on the vendor (MKL runs AVX2 code on AMD CPUs) and on the layer sizes. The
// channel mixings, a fraction of the readout's work, follow the same choice.
template <typename T> bool faster_packed(const Weights<T> &wt)
{
  if (!PackedMatrix<T>::available()) return false;
  int widest = 0;
  for (const auto &f : wt.forward) widest = std::max({widest, f.inner, f.cols});
  std::vector<T> x((size_t) BLOCK * widest), y((size_t) BLOCK * widest);
  for (size_t k = 0; k < x.size(); k++) x[k] = (T) ((k * 7919) % 997) / 997 - (T) 0.5;
  double best[2] = {1e30, 1e30};
  for (int rep = 0; rep < 8; rep++)
    for (int use = 0; use < 2; use++) {
      auto start = std::chrono::steady_clock::now();
      for (const auto *products : {&wt.forward, &wt.backward})
        for (const auto &f : *products) f.multiply(BLOCK, x.data(), f.inner, y.data(), f.cols, use == 1);
      double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (rep > 0) best[use] = std::min(best[use], t);
    }
  return best[1] < best[0];
}

}    // namespace

template <typename T> std::string NativeKernel::load(const TabulatedArrays<T> &a, const std::string &gemm)
{
  if (a.lmax < 1 || a.lmax > 3)
    return "the tabulated model has lmax " + std::to_string(a.lmax) +
        ", the native kernel knows 1 to 3; use 'kernel torch'";
  std::string problem = check_sizes(a);
  if (!problem.empty()) return problem;
  CoreRepulsion core;
  problem = fill_core(a, core);
  if (!problem.empty()) return problem;
  typename Weights<T>::Uncertainty uncertainty;
  problem = fill_uncertainty(a, uncertainty);
  if (!problem.empty()) return problem;
  if (gemm == "packed" && !PackedMatrix<double>::available())
    return "gemm packed needs the plugin built for AVX-512 (PAIR_STUDENT_MARCH_NATIVE on an "
           "AVX-512 CPU); use gemm blas or auto";

  shape = Shape();
  shape.num_elements = a.num_elements;
  shape.lmax = a.lmax;
  shape.points = a.points;
  shape.spacing = a.spacing;
  shape.components = COMPONENTS[a.lmax];
  // Every channel axis is padded with zero channels to a multiple of 8 (an AVX register of
  // floats, a cache line of doubles): the loops over channels then have no scalar remainder,
  // and the zero channels contribute exactly nothing (zero radial weights, moments, mixings
  // and readout columns). Padding floats to 16 measured no faster (22 -> 32 is 45% more work).
  shape.channels = (a.channels + 7) / 8 * 8;
  shape.features = feature_blocks(a.lmax) * shape.channels;
  single = std::is_same<T, float>::value;
  Weights<T> &w = weights<T>();
  fill_tables(a, shape.channels, w);
  fill_readout(a, shape.channels, w);
  w.core = core;
  w.uncertainty = std::move(uncertainty);
  shape.packed = gemm == "packed" || (gemm == "auto" && faster_packed(w));
  return "";
}

template std::string NativeKernel::load(const TabulatedArrays<double> &, const std::string &);
template std::string NativeKernel::load(const TabulatedArrays<float> &, const std::string &);

/* ------------------------------------------------------------ shared pieces */

// v^T B_m v for the 5 basis matrices of LocalStudent.angular_l2; their gradients are written out
// where needed (angular(), invariants(), gradients_l2(), l2_matrix()), which keeps the
// per-channel loops vector
template <typename T> static inline void quadratic_l2(T x, T y, T z, T *q)
{
  const T s2 = (T) 1.4142135623730951, s6 = (T) 2.449489742783178;
  q[0] = s2 * x * y; q[1] = s2 * y * z; q[2] = s2 * x * z;
  q[3] = (x * x - y * y) / s2; q[4] = (2 * z * z - x * x - y * y) / s6;
}
// Y_k(u) and, when dy is given, dY_k/du (3 per component), in the order of LocalStudent.angular.
template <typename T> static void angular(int lmax, T x, T y, T z, T *Y, T *dy)
{
  const T s3 = (T) 1.7320508075688772, s6 = (T) 2.449489742783178;
  Y[0] = 1; Y[1] = x; Y[2] = y; Y[3] = z;
  if (dy) {
    std::fill(dy, dy + 12, (T) 0);
    dy[3] = dy[7] = dy[11] = 1;    // d u_a / d u_b
  }
  if (lmax >= 2) {
    quadratic_l2(x, y, z, Y + 4);
    if (dy) {
      const T s2 = (T) 1.4142135623730951, d4 = 2 / s6;
      const T d[15] = {s2 * y, s2 * x, 0, 0, s2 * z, s2 * y, s2 * z, 0, s2 * x,
                       s2 * x, -s2 * y, 0, -d4 * x, -d4 * y, 2 * d4 * z};
      std::copy(d, d + 15, dy + 12);
    }
  }
  if (lmax < 3) return;
  Y[9] = x * x * x; Y[10] = y * y * y; Y[11] = z * z * z;
  Y[12] = s3 * x * x * y; Y[13] = s3 * x * x * z; Y[14] = s3 * y * y * x;
  Y[15] = s3 * y * y * z; Y[16] = s3 * z * z * x; Y[17] = s3 * z * z * y;
  Y[18] = s6 * x * y * z;
  if (!dy) return;
  const T d[10][3] = {
      {3 * x * x, 0, 0}, {0, 3 * y * y, 0}, {0, 0, 3 * z * z},
      {s3 * 2 * x * y, s3 * x * x, 0}, {s3 * 2 * x * z, 0, s3 * x * x},
      {s3 * y * y, s3 * 2 * x * y, 0}, {0, s3 * 2 * y * z, s3 * y * y},
      {s3 * z * z, 0, s3 * 2 * x * z}, {0, s3 * z * z, s3 * 2 * y * z},
      {s6 * y * z, s6 * x * z, s6 * x * y}};
  for (int k = 0; k < 10; k++)
    for (int a = 0; a < 3; a++) dy[3 * (9 + k) + a] = d[k][a];
}

namespace {

// Cubic Hermite interpolation of one edge's table row: w and dw/dr for every output column.
template <typename T> struct Spline {
  const T *y0, *y1, *d0, *d1;
  T h00, h10, h01, h11, g00, g10, g01, g11;
  __attribute__((always_inline)) Spline(const std::vector<T> &values, const std::vector<T> &slopes,
                                        int64_t width, int points, double inv_spacing, int64_t pair, double r)
  {
    // 0 <= r < cutoff = points * spacing for every edge. LAMMPS stops on NaN coordinates before
    // the pair style runs; should a NaN r come anyway, it reads row 0, never out of range.
    double xr = r * inv_spacing;
    int64_t node = xr > 0.0 ? std::min((int64_t) xr, (int64_t) points - 1) : 0;
    T t = (T) (xr - (double) node);
    int64_t row = pair * (points + 1) + node;
    y0 = &values[row * width]; y1 = y0 + width;
    d0 = &slopes[row * width]; d1 = d0 + width;
    T t2 = t * t, t3 = t2 * t, inv = (T) inv_spacing;
    h00 = 2 * t3 - 3 * t2 + 1; h10 = t3 - 2 * t2 + t; h01 = 3 * t2 - 2 * t3; h11 = t3 - t2;
    g00 = (6 * t2 - 6 * t) * inv; g10 = (3 * t2 - 4 * t + 1) * inv;
    g01 = (6 * t - 6 * t2) * inv; g11 = (3 * t2 - 2 * t) * inv;
  }
  void value(int64_t n, T *__restrict w) const
  {
    for (int64_t c = 0; c < n; c++) w[c] = h00 * y0[c] + h10 * d0[c] + h01 * y1[c] + h11 * d1[c];
  }
  // both in one pass: the four table rows are read once
  void value_slope(int64_t n, T *__restrict w, T *__restrict dw) const
  {
    for (int64_t c = 0; c < n; c++) {
      T a = y0[c], b = d0[c], p = y1[c], q = d1[c];
      w[c] = h00 * a + h10 * b + h01 * p + h11 * q;
      dw[c] = g00 * a + g10 * b + g01 * p + g11 * q;
    }
  }
};

// S(r) of models/repulsion.py (1 below inner, 0 above outer, the C2 quintic step between) and
// dS/dr, written in the order of the Python so that float64 agrees to the last bits or nearly.
static inline void core_switch(double r, double inner, double outer, double &s, double &ds)
{
  const double width = std::max(outer - inner, 1e-12);
  const double t = (r - inner) / width;
  if (t <= 0.0 || t >= 1.0) {
    s = t <= 0.0 ? 1.0 : 0.0;
    ds = 0.0;
    return;
  }
  s = 1.0 - t * t * t * (10.0 - 15.0 * t + 6.0 * t * t);
  ds = -30.0 * t * t * (1.0 - t) * (1.0 - t) / width;
}

// ZBL screened nuclear repulsion V(r) (eV) and dV/dr, constants as in models/repulsion.py zbl().
static inline void zbl(double r, double zi, double zj, double &v, double &dv)
{
  static const double c[4] = {0.18175, 0.50986, 0.28022, 0.02817};
  static const double k[4] = {3.19980, 0.94229, 0.40290, 0.20162};
  const double a = 0.46850 / (std::pow(zi, 0.23) + std::pow(zj, 0.23)), x = r / a;
  double phi = 0.0, dphi = 0.0;
  for (int m = 0; m < 4; m++) {
    const double e = c[m] * std::exp(-k[m] * x);
    phi += e;
    dphi -= k[m] * e / a;
  }
  const double q = 14.399645478425668 * zi * zj;
  v = q / r * phi;
  dv = q * (dphi / r - phi / (r * r));
}

// The learned radial weights of an edge inside its pair's window fade as (1 - S) w; with dw,
// also their slope. Outside every window (and for students without the repulsion) untouched.
template <typename T>
static inline void core_fade(const CoreRepulsion &core, int64_t pair, double r, int64_t n, T *w, T *dw)
{
  if (!core.on || r >= core.outer[pair]) return;
  double s, ds;
  core_switch(r, core.inner[pair], core.outer[pair], s, ds);
  const T f = (T) (1.0 - s), df = (T) (-ds);
  if (dw)
    for (int64_t c = 0; c < n; c++) dw[c] = dw[c] * f + w[c] * df;
  for (int64_t c = 0; c < n; c++) w[c] *= f;
}

// e^x for |x| <= 708 (doubles) or 87 (floats), clamped beyond: 2^k e^r with |r| <= ln 2 / 2,
// e^r by its Taylor series (degree 13 / 7: truncation below 1e-17 / 6e-9 relative) and 2^k
// from exponent bits. Unlike libm's exp, a loop calling this vectorises.
template <typename T> static inline __attribute__((always_inline)) T exp_clamped(T x)
{
  constexpr bool dbl = std::is_same<T, double>::value;
  using I = typename std::conditional<dbl, int64_t, int32_t>::type;
  constexpr int mantissa = dbl ? 52 : 23, bias = dbl ? 1023 : 127;
  const T lim = dbl ? 708 : 87;
  // ln 2 split so that k * hi is exact for every k in range
  const T ln2_hi = dbl ? (T) 6.93147180369123816490e-01 : (T) 0.693359375;
  const T ln2_lo = dbl ? (T) 1.90821492927058770002e-10 : (T) -2.12194440e-4;
  // k = round(x / ln 2) by adding 1.5 2^mantissa: the sum's low bits are then k itself
  // (std::floor or nearbyint would not vectorise without -fno-trapping-math)
  const T shifter = dbl ? (T) 6755399441055744.0 : (T) 12582912.0;
  x = std::min(std::max(x, -lim), lim);
  T shifted = x * (T) 1.4426950408889634 + shifter;
  I k_int = __builtin_bit_cast(I, shifted) - __builtin_bit_cast(I, shifter);
  T k = shifted - shifter;
  T r = (x - k * ln2_hi) - k * ln2_lo;
  // Horner, unrolled by hand: a table of coefficients would keep the caller's loop scalar
  T p = (T) (1.0 / 5040);
  if (dbl) {
    p = (T) (1.0 / 6227020800);
    p = p * r + (T) (1.0 / 479001600); p = p * r + (T) (1.0 / 39916800);
    p = p * r + (T) (1.0 / 3628800); p = p * r + (T) (1.0 / 362880);
    p = p * r + (T) (1.0 / 40320); p = p * r + (T) (1.0 / 5040);
  }
  p = p * r + (T) (1.0 / 720); p = p * r + (T) (1.0 / 120); p = p * r + (T) (1.0 / 24);
  p = p * r + (T) (1.0 / 6); p = p * r + (T) 0.5; p = p * r + 1; p = p * r + 1;
  return p * __builtin_bit_cast(T, (k_int + bias) << mantissa);
}

/* ------------------------------------------------------------------- atoms */

// The channel mixings of the block's moments A (n, K, C), one gemm per angular component and
// direction: per atom a1 M0 (3C); a2 [M1 M2 M3] as [m][j][c] (15C); a3 M4 (10C).
template <typename T, int CT>
void mix_moments(const Shape &d, const Weights<T> &wt, Scratch<T> &s, int n, const T *A)
{
  const int C = CT ? CT : d.channels, KC = d.components * C, F = d.features, lmax = d.lmax;
  const bool packed = d.packed;
  const size_t L = wt.forward.size();
  s.h.resize(L + 1);
  s.slope.resize(L);
  std::vector<T> &X = s.h[0], &B1 = s.B1, &b = s.b, &q = s.q, &b5 = s.b5;
  X.resize(n * F); B1.resize(n * 3 * C); b.resize(n * 15 * C); q.resize(n * 5 * C);
  b5.resize(lmax == 3 ? n * 10 * C : 0);
  for (int k = 0; k < 3; k++)
    wt.m0.multiply(n, A + (1 + k) * C, KC, &B1[k * C], 3 * C, packed);
  if (lmax >= 2)
    for (int m = 0; m < 5; m++)
      wt.mcat.multiply(n, A + (4 + m) * C, KC, &b[m * 3 * C], 15 * C, packed);
  if (lmax == 3)
    for (int k = 0; k < 10; k++)
      wt.m4.multiply(n, A + (9 + k) * C, KC, &b5[k * C], 10 * C, packed);
}

// The readout's input X (n, F) = h[0] from the moments and their mixings: f0 = a0,
// f1 = a1 . (a1 M0), f2 = a2 . (a2 M1), f3 = y2(a1) . (a2 M2), f4 = q(a2) . (a2 M3) with
// q_p = T_pmn a_m a_n (kept for the gradients), f5 = a3 . (a3 M4).
template <typename T, int CT>
void invariants(const Shape &d, const Weights<T> &wt, Scratch<T> &s, int n, const T *A)
{
  const int C = CT ? CT : d.channels, KC = d.components * C, F = d.features, lmax = d.lmax;
  const T *cubic = wt.cubic.data();
  std::vector<T> &X = s.h[0], &B1 = s.B1, &b = s.b, &q = s.q, &b5 = s.b5;
  for (int i = 0; i < n; i++) {
    const T *__restrict a0 = A + i * KC, *__restrict a1 = a0 + C, *__restrict a2 = a0 + 4 * C;
    const T *__restrict B = &B1[i * 3 * C], *__restrict bi = &b[i * 15 * C];
    T *__restrict x = &X[i * F], *__restrict qi = &q[i * 5 * C];
    for (int c = 0; c < C; c++) {
      x[c] = a0[c];
      x[C + c] = a1[c] * B[c] + a1[C + c] * B[C + c] + a1[2 * C + c] * B[2 * C + c];
    }
    if (lmax >= 2) {
      T *__restrict f2 = x + 2 * C, *__restrict f3 = x + 3 * C, *__restrict f4 = x + 4 * C;
      std::fill(qi, qi + 5 * C, (T) 0);
      for (int p = 0; p < 5; p++)
        for (int mm = 0; mm < 5; mm++)
          for (int nn = 0; nn < 5; nn++) {
            T t = cubic[p * 25 + mm * 5 + nn];
            if (t == 0) continue;    // most of tr(B_m B_n B_p) vanishes
            for (int c = 0; c < C; c++) qi[p * C + c] += t * a2[mm * C + c] * a2[nn * C + c];
          }
      // y2(a1) (quadratic_l2) written out per channel: scalars only, so the loop vectorises
      const T s2 = (T) 1.4142135623730951, s6 = (T) 2.449489742783178;
#pragma omp simd
      for (int c = 0; c < C; c++) {
        auto bm = [&](int m, int j) { return bi[(m * 3 + j) * C + c]; };
        const T x = a1[c], y = a1[C + c], z = a1[2 * C + c];
        f3[c] = s2 * (x * y * bm(0, 1) + y * z * bm(1, 1) + x * z * bm(2, 1)) +
            (x * x - y * y) / s2 * bm(3, 1) + (2 * z * z - x * x - y * y) / s6 * bm(4, 1);
        T sum2 = 0, sum4 = 0;
        for (int m = 0; m < 5; m++) {
          sum2 += a2[m * C + c] * bm(m, 0);
          sum4 += qi[m * C + c] * bm(m, 2);
        }
        f2[c] = sum2;
        f4[c] = sum4;
      }
    }
    if (lmax == 3) {
      const T *__restrict a3 = a0 + 9 * C, *__restrict b5i = &b5[i * 10 * C];
      T *__restrict f5 = x + 5 * C;
      std::fill(f5, f5 + C, (T) 0);
      for (int k = 0; k < 10; k++)
        for (int c = 0; c < C; c++) f5[c] += a3[k * C + c] * b5i[k * C + c];
    }
  }
}

// The readout MLP: z_l = h_{l-1} W_l^T + b_l (+ element bias), h_l = silu(z_l), and the
// energies E = scale (w.h_L + b) + shift of the block's n atoms.
template <typename T>
void readout(const Shape &d, const Weights<T> &wt, Scratch<T> &s, const int64_t *species, int n,
             double *energy)
{
  const size_t L = wt.forward.size();
  const bool packed = d.packed;
  // After each gemm one pass adds the bias and forms silu(z) and, for the backward pass, silu'(z):
  // the activations of a block outgrow L2 for the largest preset, so every pass over them counts.
  std::vector<std::vector<T>> &h = s.h, &slope = s.slope;
  for (size_t l = 0; l < L; l++) {
    int out = wt.forward[l].cols, in = wt.forward[l].inner;
    std::vector<T> &z = h[l + 1];
    z.resize(n * out);
    slope[l].resize(n * out);
    wt.forward[l].multiply(n, h[l].data(), in, z.data(), out, packed);
    for (int i = 0; i < n; i++) {
      const T *__restrict b = wt.bias[l].data() + (l == 0 ? species[i] * out : 0);
      T *__restrict hi = &z[i * out], *__restrict di = &slope[l][i * out];
#pragma omp simd
      for (int j = 0; j < out; j++) {
        T zj = hi[j] + b[j];
        T sj = 1 / (1 + exp_clamped(-zj));
        hi[j] = zj * sj;
        di[j] = sj * (1 + zj * (1 - sj));
      }
    }
  }
  const T *w = wt.out_weight.data(), *sh = wt.shift.data();
  const int H = (int) wt.out_weight.size();
  for (int i = 0; i < n; i++) {
    T dot = 0;
    const T *hi = &h[L][i * H];
#pragma omp simd reduction(+ : dot)
    for (int j = 0; j < H; j++) dot += hi[j] * w[j];
    energy[i] = ((double) dot + wt.out_bias) * wt.scale + (double) sh[species[i]];
  }
}

// Each atom's uncertainty u = a d^p, d = sqrt(|z|^2 / H), z = W_e (x - mu_e), from the H
// invariants x of the readout's input (s.h[0], gathered out of its padded channel blocks).
// z goes in blocks of V rows (a cache line of T), each
// summed over the columns of W in four vector accumulators (one would wait on its own adds:
// 25% slower on H = 80); for a lower-triangular W (an inverse Cholesky factor: load() checked
// that the rest is exactly zero) a block stops at its last row's diagonal, which skips only
// exact zeros. Rows are padded with zeros to a multiple of V (fill_uncertainty()).
template <typename T>
void uncertainty(const Shape &d, const Weights<T> &wt, Scratch<T> &s, const int64_t *species, int n, double *out)
{
  constexpr int V = UNCERTAINTY_BLOCK<T>;
  const auto &un = wt.uncertainty;
  const int H = un.hidden, Hp = un.padded;
  const std::vector<T> &X = s.h[0];
  const size_t stride = (size_t) d.features;    // padded channel blocks
  s.centred.resize(H);
  T *__restrict x = s.centred.data();
  const int *__restrict gather = un.gather.data();
  for (int i = 0; i < n; i++) {
    const T *__restrict xi = &X[(size_t) i * stride], *__restrict mu = &un.mean[species[i] * H];
    const T *columns = &un.columns[(size_t) species[i] * H * Hp];
    for (int j = 0; j < H; j++) x[j] = xi[gather[j]] - mu[j];
    T squares[V] = {};
    for (int r0 = 0; r0 < Hp; r0 += V) {
      const int last = un.lower ? std::min(r0 + V, H) : H;
      T z[4][V] = {};
      int c = 0;
      for (; c + 4 <= last; c += 4)
        for (int k = 0; k < 4; k++) {
          const T *__restrict col = columns + (size_t) (c + k) * Hp + r0;
          const T xc = x[c + k];
#pragma omp simd
          for (int q = 0; q < V; q++) z[k][q] += col[q] * xc;
        }
      for (; c < last; c++) {
        const T *__restrict col = columns + (size_t) c * Hp + r0;
        const T xc = x[c];
#pragma omp simd
        for (int q = 0; q < V; q++) z[0][q] += col[q] * xc;
      }
#pragma omp simd
      for (int q = 0; q < V; q++) {
        const T zq = (z[0][q] + z[1][q]) + (z[2][q] + z[3][q]);
        squares[q] += zq * zq;
      }
    }
    T sum = 0;
    for (int q = 0; q < V; q++) sum += squares[q];
    const T dist = std::sqrt(sum / (T) H);
    out[i] = un.a * std::pow((double) dist, un.p);
  }
}

// dE/dX (n, F) into s.g, back through the readout: gz = dE/dz_l, g = dE/dh_l.
template <typename T> void readout_gradient(const Shape &d, const Weights<T> &wt, Scratch<T> &s, int n)
{
  const size_t L = wt.forward.size();
  const bool packed = d.packed;
  const T *w = wt.out_weight.data();
  const int H = (int) wt.out_weight.size();
  std::vector<std::vector<T>> &slope = s.slope;
  std::vector<T> &g = s.g, &gz = s.gz;
  gz.resize(n * H);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < H; j++) gz[i * H + j] = (T) wt.scale * w[j] * slope[L - 1][i * H + j];
  for (int l = (int) L - 1; l >= 0; l--) {
    int out = wt.forward[l].cols, in = wt.forward[l].inner;
    g.resize(n * in);
    wt.backward[l].multiply(n, gz.data(), out, g.data(), in, packed);
    if (l == 0) break;
    gz.resize(n * in);
    for (int64_t k = 0; k < (int64_t) n * in; k++) gz[k] = g[k] * slope[l - 1][k];
  }
}

// One atom's l = 2 part of dE/dA: the direct terms of f2, f3 and f4 into g1 and g2 and the factors
// t2 (15C, as [m][j][c]) that go back through [M1 M2 M3]; gf: the atom's dE/dX.
template <typename T, int CT>
inline void gradients_l2(int C_, const T *cubic, const T *__restrict a1, const T *__restrict a2,
                         const T *__restrict bi, const T *__restrict qi, const T *__restrict gf,
                         T *__restrict g1, T *__restrict g2, T *__restrict t2i)
{
  const int C = CT ? CT : C_;
  const T *gf2 = gf + 2 * C, *gf3 = gf + 3 * C, *gf4 = gf + 4 * C;
  const T s2 = (T) 1.4142135623730951, s6 = (T) 2.449489742783178;
#pragma omp simd
  for (int c = 0; c < C; c++) {
    auto bm = [&](int m, int j) { return bi[(m * 3 + j) * C + c]; };
    auto tm = [&](int m, int j) -> T & { return t2i[(m * 3 + j) * C + c]; };
    const T x = a1[c], y = a1[C + c], z = a1[2 * C + c], e2 = gf2[c], e3 = gf3[c], e4 = gf4[c];
    for (int m = 0; m < 5; m++) {
      tm(m, 0) = e2 * a2[m * C + c];    // f2 = a2 . (a2 M1)
      g2[m * C + c] += e2 * bm(m, 0);
      tm(m, 2) = e4 * qi[m * C + c];    // f4 = q(a2) . (a2 M3)
    }
    // f3 = y2(a1) . (a2 M2): y2 and its gradient (quadratic_l2) written out
    tm(0, 1) = e3 * s2 * x * y;
    tm(1, 1) = e3 * s2 * y * z;
    tm(2, 1) = e3 * s2 * x * z;
    tm(3, 1) = e3 * (x * x - y * y) / s2;
    tm(4, 1) = e3 * (2 * z * z - x * x - y * y) / s6;
    const T w0 = e3 * bm(0, 1), w1 = e3 * bm(1, 1), w2 = e3 * bm(2, 1), w3 = e3 * bm(3, 1);
    const T w4 = 2 * e3 * bm(4, 1) / s6;
    g1[c] += s2 * (w0 * y + w2 * z + w3 * x) - w4 * x;
    g1[C + c] += s2 * (w0 * x + w1 * z - w3 * y) - w4 * y;
    g1[2 * C + c] += s2 * (w1 * y + w2 * x) + 2 * w4 * z;
  }
  // d/da_m and d/da_n of T_pmn a_m a_n, taken separately: no symmetry of T is assumed
  for (int p = 0; p < 5; p++)
    for (int mm = 0; mm < 5; mm++)
      for (int nn = 0; nn < 5; nn++) {
        T t = cubic[p * 25 + mm * 5 + nn];
        if (t == 0) continue;
        const T *bp = bi + p * 3 * C + 2 * C, *am = a2 + mm * C, *an = a2 + nn * C;
        T *gm = g2 + mm * C, *gn = g2 + nn * C;
        if (mm == nn) {
#pragma omp simd
          for (int c = 0; c < C; c++) gm[c] += 2 * t * gf4[c] * bp[c] * am[c];
        } else {    // two distinct rows of g2: the loop vectorises
#pragma omp simd
          for (int c = 0; c < C; c++) {
            T gb = gf4[c] * bp[c] * t;
            gm[c] += gb * an[c];
            gn[c] += gb * am[c];
          }
        }
      }
}

// dE/dA (n, K, C) into G: the direct terms per atom, and the factors t that go back through the
// mixings (mix_gradients()); dE/dX from readout_gradient() in s.g.
template <typename T, int CT>
void invariant_gradients(const Shape &d, const Weights<T> &wt, Scratch<T> &s, int n, const T *A, T *G)
{
  const int C = CT ? CT : d.channels, KC = d.components * C, F = d.features, lmax = d.lmax;
  const T *cubic = wt.cubic.data(), *GX = s.g.data();
  const std::vector<T> &B1 = s.B1, &b = s.b, &q = s.q, &b5 = s.b5;
  std::vector<T> &t1 = s.t1, &t2 = s.t2, &t3 = s.t3;
  t1.resize(n * 3 * C); t2.resize(lmax >= 2 ? n * 15 * C : 0); t3.resize(lmax == 3 ? n * 10 * C : 0);
  for (int i = 0; i < n; i++) {
    const T *__restrict a0 = A + i * KC, *__restrict a1 = a0 + C, *__restrict a2 = a0 + 4 * C;
    const T *__restrict B = &B1[i * 3 * C], *__restrict bi = &b[i * 15 * C], *__restrict qi = &q[i * 5 * C];
    const T *__restrict gf = GX + (int64_t) i * F;
    T *__restrict g0 = G + i * KC, *__restrict g1 = g0 + C, *__restrict g2 = g0 + 4 * C;
    T *__restrict t1i = &t1[i * 3 * C];
    std::fill(g0, g0 + KC, (T) 0);
    for (int c = 0; c < C; c++) g0[c] = gf[c];
    // f1 = a1 . (a1 M0)
    for (int k = 0; k < 3; k++)
      for (int c = 0; c < C; c++) {
        t1i[k * C + c] = gf[C + c] * a1[k * C + c];
        g1[k * C + c] = gf[C + c] * B[k * C + c];
      }
    if (lmax >= 2) gradients_l2<T, CT>(C, cubic, a1, a2, bi, qi, gf, g1, g2, &t2[i * 15 * C]);
    if (lmax == 3) {
      const T *__restrict a3 = a0 + 9 * C, *__restrict b5i = &b5[i * 10 * C], *gf5 = gf + 5 * C;
      T *__restrict g3 = g0 + 9 * C, *__restrict t3i = &t3[i * 10 * C];
      for (int k = 0; k < 10; k++)
        for (int c = 0; c < C; c++) {
          t3i[k * C + c] = gf5[c] * a3[k * C + c];
          g3[k * C + c] = gf5[c] * b5i[k * C + c];
        }
    }
  }
}

// The factors t back through the transposed mixings, added to G.
template <typename T, int CT>
void mix_gradients(const Shape &d, const Weights<T> &wt, Scratch<T> &s, int n, T *G)
{
  const int C = CT ? CT : d.channels, KC = d.components * C, lmax = d.lmax;
  const bool packed = d.packed;
  const std::vector<T> &t1 = s.t1, &t2 = s.t2, &t3 = s.t3;
  for (int k = 0; k < 3; k++)
    wt.m0t.multiply(n, &t1[k * C], 3 * C, G + (1 + k) * C, KC, packed, true);
  if (lmax >= 2)
    for (int m = 0; m < 5; m++)
      wt.mtcat.multiply(n, &t2[m * 3 * C], 15 * C, G + (4 + m) * C, KC, packed, true);
  if (lmax == 3)
    for (int k = 0; k < 10; k++)
      wt.m4t.multiply(n, &t3[k * C], 10 * C, G + (9 + k) * C, KC, packed, true);
}

// Energies of n atoms from their moments A (n, K, C), and G = dE/dA (n, K, C). The channel
// mixings of all n atoms go through gemm, one call per angular component and direction. The
// uncertainties, when asked for, right after the readout: its activations are still in cache.
template <typename T, int CT>
void atoms(const Shape &d, const Weights<T> &wt, Scratch<T> &s, const int64_t *species, int n,
           const T *A, T *G, double *energy, double *uncertainties)
{
  mix_moments<T, CT>(d, wt, s, n, A);
  invariants<T, CT>(d, wt, s, n, A);
  readout(d, wt, s, species, n, energy);
  if (uncertainties) uncertainty(d, wt, s, species, n, uncertainties);
  readout_gradient(d, wt, s, n);
  invariant_gradients<T, CT>(d, wt, s, n, A, G);
  mix_gradients<T, CT>(d, wt, s, n, G);
}

/* ------------------------------------------------------------------- edges */

// Edges in centre order (NativeKernel::sort_edges()): those of atom i are order[first[i] ..
// first[i + 1]], indices into center, neighbor and vectors (3 per edge).
struct EdgeList {
  const int64_t *center, *neighbor, *first, *order;
  const double *vectors;
};

// One run()'s per-edge buffers: radial weights and slopes (num_l * C), per-l sums P and the four
// channel rows acc of an edge (4C each), S = 2 M of the current atom for lmax 2 (6C).
template <typename T> struct EdgeWork {
  std::vector<T> w, dw, P, acc, S;
  T Y[19], dY[57];
  EdgeWork(int lmax, int C) :
      w((int64_t) (lmax + 1) * C), dw(w.size()), P(4 * C), acc(4 * C), S(lmax == 2 ? 6 * C : 0)
  {
  }
};

// Edges, pass 1: the moments A (n, K, C) of atoms start .. start + n - 1.
template <typename T, int CT>
void moments(const Shape &d, const Weights<T> &wt, const EdgeList &el, const int64_t *species,
             int64_t start, int64_t n, EdgeWork<T> &ew, T *A)
{
  const int K = d.components, C = CT ? CT : d.channels, lmax = d.lmax;
  const int64_t width = (int64_t) (lmax + 1) * C;
  const double inv_spacing = 1.0 / d.spacing;
  T *Y = ew.Y;
  std::vector<T> &w = ew.w;
  std::fill(A, A + n * K * C, (T) 0);
  for (int64_t o = el.first[start]; o < el.first[start + n]; o++) {
    const int64_t e = el.order[o], i = el.center[e];
    const double *v = &el.vectors[3 * e];
    double r = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    int64_t pair = species[i] * d.num_elements + species[el.neighbor[e]];
    Spline<T> s(wt.values, wt.slopes, width, d.points, inv_spacing, pair, r);
    s.value(width, w.data());
    core_fade<T>(wt.core, pair, r, width, w.data(), nullptr);
    angular<T>(lmax, (T) (v[0] / r), (T) (v[1] / r), (T) (v[2] / r), Y, nullptr);
    T *__restrict a = &A[(i - start) * K * C];
    for (int k = 0; k < K; k++) {
      const T *__restrict wl = &w[COMPONENT_L[k] * C];
      T yk = Y[k];
      for (int c = 0; c < C; c++) a[k * C + c] += yk * wl[c];
    }
  }
}

// For l = 2, sum_k G_k Y_k(u) = u^T M u with M = sum_k G_k B_k (symmetric, per atom and
// channel), so P = u^T M u and D = 2 M u: M is formed once per atom instead of Y_k, dY_k and
// five products per edge. S holds 2 M as xx, yy, zz, xy, yz, xz rows of C; g2: the atom's G_2.
template <typename T, int CT> inline void l2_matrix(int C_, const T *__restrict g2, T *__restrict m)
{
  const int C = CT ? CT : C_;
  const T s2 = (T) 1.4142135623730951, s6 = (T) 2.449489742783178;
  for (int c = 0; c < C; c++) {
    T g7 = g2[3 * C + c] / s2, g8 = g2[4 * C + c] / s6;
    m[c] = 2 * (g7 - g8);                 // 2 M_xx, from Y = (x^2 - y^2)/s2 and (2z^2 - x^2 - y^2)/s6
    m[C + c] = 2 * (-g7 - g8);            // 2 M_yy
    m[2 * C + c] = 4 * g8;                // 2 M_zz
    m[3 * C + c] = s2 * g2[c];            // 2 M_xy, from Y = s2 xy
    m[4 * C + c] = s2 * g2[C + c];        // 2 M_yz
    m[5 * C + c] = s2 * g2[2 * C + c];    // 2 M_xz
  }
}

// The four channel rows of one edge for l <= 1, written: per l, over channels, P = sum_k G_k Y_k
// and D_a = sum_k G_k dY_k/du_a (k of that l); then dE/dvec = sum_c [(dw - l w / r) P] u +
// sum_c [w D] / r, with 4 sums over channels. l = 0 has no D; for l = 1, Y = u and D_a is G_a
// itself.
template <typename T, int CT>
inline void terms_l01(int C_, const T *__restrict g, const T *u, T inv_r, EdgeWork<T> &ew)
{
  const int C = CT ? CT : C_;
  const T *__restrict wp = ew.w.data(), *__restrict dwp = ew.dw.data();
  T *__restrict ap = ew.acc.data();
  for (int c = 0; c < C; c++) {
    ap[c] = dwp[c] * g[c];
    T p1 = g[C + c] * u[0] + g[2 * C + c] * u[1] + g[3 * C + c] * u[2];
    ap[c] += (dwp[C + c] - inv_r * wp[C + c]) * p1;
    ap[C + c] = wp[C + c] * g[C + c];
    ap[2 * C + c] = wp[C + c] * g[2 * C + c];
    ap[3 * C + c] = wp[C + c] * g[3 * C + c];
  }
}

// The l = 2 terms from 2 M (l2_matrix()), added to the channel rows.
template <typename T, int CT> inline void terms_l2(int C_, const T *u, T inv_r, EdgeWork<T> &ew)
{
  const int C = CT ? CT : C_;
  const T *__restrict wp = ew.w.data(), *__restrict dwp = ew.dw.data();
  T *__restrict ap = ew.acc.data();
  const T *__restrict m = ew.S.data(), *__restrict w2 = wp + 2 * C, *__restrict dw2 = dwp + 2 * C;
  const T x = u[0], y = u[1], z = u[2], lr = 2 * inv_r;
  for (int c = 0; c < C; c++) {
    T dx = m[c] * x + m[3 * C + c] * y + m[5 * C + c] * z;
    T dy = m[C + c] * y + m[3 * C + c] * x + m[4 * C + c] * z;
    T dz = m[2 * C + c] * z + m[4 * C + c] * y + m[5 * C + c] * x;
    T p = (T) 0.5 * (x * dx + y * dy + z * dz);    // u^T M u, as u . (2 M u) = 2 P
    ap[c] += (dw2[c] - lr * w2[c]) * p;
    ap[C + c] += w2[c] * dx;
    ap[2 * C + c] += w2[c] * dy;
    ap[3 * C + c] += w2[c] * dz;
  }
}

// The l >= 2 terms of lmax 3 through Y_k and dY_k/du (ew.Y, ew.dY), added to the channel rows.
template <typename T, int CT>
inline void terms_by_component(int C_, int lmax, const T *__restrict g, T inv_r, EdgeWork<T> &ew)
{
  const int C = CT ? CT : C_;
  const T *__restrict wp = ew.w.data(), *__restrict dwp = ew.dw.data();
  T *__restrict Pp = ew.P.data(), *__restrict ap = ew.acc.data();
  const T *Y = ew.Y, *dY = ew.dY;
  for (int l = 2, k0 = 4; l <= lmax; k0 += NUM_M[l], l++) {
    const T *__restrict wl = wp + l * C, *__restrict dwl = dwp + l * C;
    for (int k = k0; k < k0 + NUM_M[l]; k++) {
      const T *__restrict gk = g + k * C;
      const T yk = Y[k], dx = dY[3 * k], dy = dY[3 * k + 1], dz = dY[3 * k + 2];
      if (k == k0) {
        for (int c = 0; c < C; c++) {
          Pp[c] = gk[c] * yk;
          Pp[C + c] = gk[c] * dx;
          Pp[2 * C + c] = gk[c] * dy;
          Pp[3 * C + c] = gk[c] * dz;
        }
        continue;
      }
      for (int c = 0; c < C; c++) {
        Pp[c] += gk[c] * yk;
        Pp[C + c] += gk[c] * dx;
        Pp[2 * C + c] += gk[c] * dy;
        Pp[3 * C + c] += gk[c] * dz;
      }
    }
    T lr = l * inv_r;
    for (int c = 0; c < C; c++) {
      ap[c] += (dwl[c] - lr * wl[c]) * Pp[c];
      ap[C + c] += wl[c] * Pp[C + c];
      ap[2 * C + c] += wl[c] * Pp[2 * C + c];
      ap[3 * C + c] += wl[c] * Pp[3 * C + c];
    }
  }
}

// dE/dvec of one edge (3 doubles into out) from its four channel rows.
template <typename T, int CT> inline void channel_sums(int C_, const T *ap, const T *u, T inv_r, double *out)
{
  const int C = CT ? CT : C_;
  // The four sums over channels, as 8 partial sums per row (C is a multiple of 8) and then
  // across rows: vector adds both times, where a plain sum is one serial chain of adds.
  T part[4][8], sums[4] = {0, 0, 0, 0};
  for (int j = 0; j < 4; j++) {
    for (int q = 0; q < 8; q++) part[j][q] = ap[j * C + q];
    for (int c = 8; c < C; c += 8)
      for (int q = 0; q < 8; q++) part[j][q] += ap[j * C + c + q];
  }
  for (int q = 0; q < 8; q++)
    for (int j = 0; j < 4; j++) sums[j] += part[j][q];
  for (int a = 0; a < 3; a++)
    out[a] = (double) (sums[0] * u[a] + sums[1 + a] * inv_r);
}

// Edges, pass 2: dE/dvec of the edges of atoms start .. start + n - 1 from their G = dE/dA.
template <typename T, int CT>
void edge_gradients(const Shape &d, const Weights<T> &wt, const EdgeList &el, const int64_t *species,
                    int64_t start, int64_t n, const T *G, EdgeWork<T> &ew, double *edge_grad)
{
  const int K = d.components, C = CT ? CT : d.channels, lmax = d.lmax;
  const int64_t width = (int64_t) (lmax + 1) * C;
  const double inv_spacing = 1.0 / d.spacing;
  int64_t s_atom = -1;
  for (int64_t o = el.first[start]; o < el.first[start + n]; o++) {
    const int64_t e = el.order[o], i = el.center[e];
    const double *v = &el.vectors[3 * e];
    double r = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    T u[3] = {(T) (v[0] / r), (T) (v[1] / r), (T) (v[2] / r)};
    int64_t pair = species[i] * d.num_elements + species[el.neighbor[e]];
    Spline<T> s(wt.values, wt.slopes, width, d.points, inv_spacing, pair, r);
    s.value_slope(width, ew.w.data(), ew.dw.data());
    core_fade<T>(wt.core, pair, r, width, ew.w.data(), ew.dw.data());
    const T *__restrict g = &G[(i - start) * K * C];
    if (lmax == 2 && i != s_atom) {
      l2_matrix<T, CT>(C, g + 4 * C, ew.S.data());
      s_atom = i;
    }
    if (lmax > 2) angular<T>(lmax, u[0], u[1], u[2], ew.Y, ew.dY);    // l <= 1 needs only u, l = 2 only S
    T inv_r = (T) (1.0 / r);
    terms_l01<T, CT>(C, g, u, inv_r, ew);
    if (lmax == 2) terms_l2<T, CT>(C, u, inv_r, ew);
    else terms_by_component<T, CT>(C, lmax, g, inv_r, ew);
    channel_sums<T, CT>(C, ew.acc.data(), u, inv_r, &edge_grad[3 * e]);
  }
}

// The pair term of the core repulsion: half of S V of each edge to its centre (the reverse edge
// carries the other half), and d(S V / 2)/dvec to the edge. Only edges inside a window cost more
// than a comparison.
void core_pairs(const CoreRepulsion &core, int num_elements, const EdgeList &el, const int64_t *species,
                int64_t nlocal, double *energy, double *edge_grad)
{
  for (int64_t o = 0; o < el.first[nlocal]; o++) {
    const int64_t e = el.order[o], i = el.center[e];
    const int64_t pair = species[i] * num_elements + species[el.neighbor[e]];
    const double *v = &el.vectors[3 * e];
    const double r2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
    if (r2 >= core.outer_sq[pair]) continue;
    const double r = std::sqrt(r2);
    double s, ds, u, du;
    core_switch(r, core.inner[pair], core.outer[pair], s, ds);
    zbl(r, core.z[species[i]], core.z[species[el.neighbor[e]]], u, du);
    energy[i] += 0.5 * s * u;
    const double g = 0.5 * (ds * u + s * du) / r;
    for (int k = 0; k < 3; k++) edge_grad[3 * e + k] += g * v[k];
  }
}

}    // namespace

/* ------------------------------------------------------------------ kernel */

// Edges by centre (a counting sort; LAMMPS lists are already in that order): the atoms are
// then done in blocks, moments -> energies and dE/dA -> edge gradients, with the moments and
// dE/dA of one block in cache, where a pass over all atoms sent them through memory twice.
void NativeKernel::sort_edges(const int64_t *center, int64_t nedges, int64_t nlocal)
{
  std::vector<int64_t> &first = edge_first, &order = edge_order, &cursor = edge_cursor;
  first.assign(nlocal + 1, 0);
  for (int64_t e = 0; e < nedges; e++)
    if (center[e] < nlocal) first[center[e] + 1]++;    // ghost-centred edges carry no energy
  for (int64_t i = 0; i < nlocal; i++) first[i + 1] += first[i];
  order.resize(first[nlocal]);
  cursor.assign(first.begin(), first.end() - 1);
  for (int64_t e = 0; e < nedges; e++)
    if (center[e] < nlocal) order[cursor[center[e]]++] = e;
}

template <typename T, int CT>
void NativeKernel::run(const Weights<T> &wt, Scratch<T> &s, const std::vector<int64_t> &species,
                       const std::vector<int64_t> &edges, const std::vector<double> &vectors,
                       int64_t nedges, int64_t nlocal, std::vector<double> &energy,
                       std::vector<double> &edge_grad, double *uncertainty)
{
  const int K = shape.components, C = CT ? CT : shape.channels;    // C: a multiple of 8 (load())
  sort_edges(edges.data(), nedges, nlocal);
  const EdgeList el = {edges.data(), edges.data() + nedges, edge_first.data(), edge_order.data(),
                       vectors.data()};
  EdgeWork<T> ew(shape.lmax, C);
  s.A.resize(BLOCK * K * C);
  s.G.resize(BLOCK * K * C);
  energy.resize(nlocal);
  edge_grad.assign(3 * nedges, 0.0);
  for (int64_t start = 0; start < nlocal; start += BLOCK) {
    const int64_t n = std::min(BLOCK, nlocal - start);
    moments<T, CT>(shape, wt, el, species.data(), start, n, ew, s.A.data());
    atoms<T, CT>(shape, wt, s, species.data() + start, (int) n, s.A.data(), s.G.data(), &energy[start],
                 uncertainty ? uncertainty + start : nullptr);
    edge_gradients<T, CT>(shape, wt, el, species.data(), start, n, s.G.data(), ew, edge_grad.data());
  }
  if (wt.core.on) core_pairs(wt.core, shape.num_elements, el, species.data(), nlocal, energy.data(), edge_grad.data());
}

std::string NativeKernel::evaluate(const std::vector<int64_t> &species,
                                   const std::vector<int64_t> &edges,
                                   const std::vector<double> &vectors, int64_t nedges,
                                   int64_t nlocal, std::vector<double> &energy,
                                   std::vector<double> &edge_grad, std::vector<double> *uncertainty)
{
  double *u = nullptr;
  if (uncertainty) {
    if (!has_uncertainty())
      return "the model file carries no uncertainty statistics; re-export it with 'pair-student "
             "export FILE --uncertainty-from DATASET'";
    uncertainty->resize(nlocal);
    u = uncertainty->data();
  }
  // the presets' channel counts once padded (22, 46, 64 in models/local.py -> 24, 48, 64), as
  // floats or doubles, get loops of compile-time length; other widths run generic loops
  auto go = [&](const auto &weights, auto &scratch, auto width) {
    using T = typename std::decay_t<decltype(weights.values)>::value_type;
    run<T, decltype(width)::value>(weights, scratch, species, edges, vectors, nedges, nlocal, energy,
                                   edge_grad, u);
  };
  auto by_width = [&](const auto &weights, auto &scratch) {
    if (shape.channels == 24) go(weights, scratch, std::integral_constant<int, 24>());
    else if (shape.channels == 48) go(weights, scratch, std::integral_constant<int, 48>());
    else if (shape.channels == 64) go(weights, scratch, std::integral_constant<int, 64>());
    else go(weights, scratch, std::integral_constant<int, 0>());
  };
  if (single) by_width(w32, s32);
  else by_width(w64, s64);
  return "";
}
