/* -------------------------------------------------------------------------
   Native kernel for tabulated local students (the same function as their
   TorchScript forward, pair_student/models/local.py, without autograd).

   Atoms in blocks of BLOCK, each in three steps:
   Edges, pass 1: r, u = vec / r, angular components Y_k(u) (homogeneous of
   degree l_k in u) and radial weights w_lc(r) by cubic Hermite interpolation;
   moments A[i][k][c] = sum_j Y_k w_{l_k c}.
   Atoms: invariants of A, the readout MLP and its input gradient (matrix
   products of student_gemm), then G = dE/dA in closed form.
   Edges, pass 2:
     dE/dvec = (sum_k p_k Y_k - sum_k l_k q_k Y_k / r) u + sum_k q_k dY_k/du / r
   with p_k = sum_c G_kc dw_lc/dr and q_k = sum_c G_kc w_lc (u . dY_k/du = l_k Y_k).
------------------------------------------------------------------------- */

#include "student_native.h"

#include <torch/torch.h>

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

bool NativeKernel::supports(const torch::jit::Module &module)
{
  for (const char *name : {"radial_values", "radial_slopes", "table_spacing", "table_points",
                           "lmax", "channels", "num_elements", "mix", "sh2_cubic", "shift",
                           "scale", "element_bias", "readout_in", "readout_out"})
    if (!module.hasattr(name)) return false;
  return module.attr("readout_in").toModule().hasattr("weight");    // not quantized
}

template <typename T> static std::vector<T> to_vector(const torch::Tensor &t)
{
  auto c = t.contiguous();
  return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
}

// Channel c of a (.., blocks * true) last axis moves to block * padded + c; the new channels are 0.
static torch::Tensor pad_channels(const torch::Tensor &t, int64_t true_c, int64_t padded)
{
  auto shape = t.sizes().vec();
  int64_t blocks = shape.back() / true_c;
  shape.back() = blocks;
  shape.push_back(true_c);
  auto parts = t.reshape(shape);
  shape.back() = padded;
  auto out = torch::zeros(shape, t.options());
  out.narrow(-1, 0, true_c).copy_(parts);
  shape.pop_back();
  shape.back() = blocks * padded;
  return out.reshape(shape);
}

template <typename T> static void fill(const torch::jit::Module &m, NativeKernel::Weights<T> &w,
                                       torch::Dtype dtype, int lmax, int64_t true_c, int64_t padded)
{
  auto get = [&](const char *name) { return m.attr(name).toTensor().detach().to(torch::kCPU, dtype); };
  auto pack_plain = [](PackedMatrix<T> &p, const torch::Tensor &t) {
    torch::Tensor c = t.contiguous();
    p.pack(c.data_ptr<T>(), (int) c.size(0), (int) c.size(1), false);
  };
  w.values = to_vector<T>(pad_channels(get("radial_values"), true_c, padded));
  w.slopes = to_vector<T>(pad_channels(get("radial_slopes"), true_c, padded));
  w.cubic = to_vector<T>(get("sh2_cubic"));
  torch::Tensor mix = pad_channels(pad_channels(get("mix"), true_c, padded).transpose(1, 2), true_c, padded)
                          .transpose(1, 2).contiguous();
  pack_plain(w.m0, mix[0]);
  pack_plain(w.m0t, mix[0].t());
  if (lmax >= 2) {    // the three mixings of A2 side by side, and their transposes stacked
    pack_plain(w.mcat, torch::cat({mix[1], mix[2], mix[3]}, 1));
    pack_plain(w.mtcat, torch::cat({mix[1].t(), mix[2].t(), mix[3].t()}, 0));
  }
  if (lmax == 3) {
    pack_plain(w.m4, mix[4]);
    pack_plain(w.m4t, mix[4].t());
  }
}

template <typename T>
static void pack(const std::vector<torch::Tensor> &layer, NativeKernel::Weights<T> &w)
{
  w.forward.resize(layer.size());
  w.backward.resize(layer.size());
  for (size_t l = 0; l < layer.size(); l++) {
    int out = (int) layer[l].size(0), in = (int) layer[l].size(1);
    w.forward[l].pack(layer[l].data_ptr<T>(), in, out, true);
    w.backward[l].pack(layer[l].data_ptr<T>(), out, in, false);
  }
}

// Whether the packed loop beats BLAS on this CPU: both time every product of the readout for one
// block of atoms (forward and backward; best of 7 after a warm-up, the two interleaved), since
// which wins depends on the vendor (MKL runs AVX2 code on AMD CPUs) and on the layer sizes. The
// channel mixings, a fraction of the readout's work, follow the same choice.
template <typename T> bool NativeKernel::faster_packed(const Weights<T> &wt)
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

std::string NativeKernel::load(const torch::jit::Module &m, torch::Dtype run_dtype, const std::string &gemm)
{
  dtype = run_dtype;
  lmax = (int) m.attr("lmax").toInt();
  int true_c = (int) m.attr("channels").toInt();
  num_elements = (int) m.attr("num_elements").toInt();
  points = (int) m.attr("table_points").toInt();
  spacing = m.attr("table_spacing").toDouble();
  if (lmax < 1 || lmax > 3)
    return "the tabulated model has lmax " + std::to_string(lmax) +
        ", the native kernel knows 1 to 3; use 'kernel torch'";
  components = COMPONENTS[lmax];
  int blocks = lmax == 1 ? 2 : lmax == 2 ? 5 : 6;    // feature blocks of C each
  int num_mix = lmax == 1 ? 1 : lmax == 2 ? 4 : 5;

  auto tensor = [&](const torch::jit::Module &mod, const char *name) {
    return mod.attr(name).toTensor().detach().to(torch::kCPU, dtype).contiguous();
  };
  std::vector<torch::jit::Module> linears = {m.attr("readout_in").toModule()};
  for (const auto &sub : m.attr("readout_hidden").toModule().children()) linears.push_back(sub);
  for (const auto &lin : linears) {
    layer.push_back(tensor(lin, "weight"));
    bias.push_back(tensor(lin, "bias"));
  }
  torch::Tensor mix = m.attr("mix").toTensor(), values = m.attr("radial_values").toTensor();
  int64_t rows = (int64_t) num_elements * num_elements * (points + 1);
  bool ok = mix.dim() == 3 && mix.size(0) == num_mix && mix.size(1) == true_c &&
      mix.size(2) == true_c && values.dim() == 2 && values.size(0) == rows &&
      values.size(1) == (lmax + 1) * true_c && layer[0].size(1) == blocks * true_c &&
      spacing > 0.0;
  if (!ok) return "the tables and weights in the model file do not match its sizes; re-export it";

  // Every channel axis is padded with zero channels to a multiple of 8 (an AVX register of
  // floats, a cache line of doubles): the loops over channels then have no scalar remainder,
  // and the zero channels contribute exactly nothing (zero radial weights, moments, mixings
  // and readout columns). Padding floats to 16 measured no faster (22 -> 32 is 45% more work).
  channels = (true_c + 7) / 8 * 8;
  features = blocks * channels;
  layer[0] = pad_channels(layer[0], true_c, channels).contiguous();
  if (gemm == "packed" && !PackedMatrix<double>::available())
    return "gemm packed needs the plugin built for AVX-512 (PAIR_STUDENT_MARCH_NATIVE on an "
           "AVX-512 CPU); use gemm blas or auto";
  auto prepare = [&](auto &w) {
    fill(m, w, dtype, lmax, true_c, channels);
    pack(layer, w);
    return gemm == "packed" || (gemm == "auto" && faster_packed(w));
  };
  packed = dtype == torch::kFloat64 ? prepare(w64) : prepare(w32);

  torch::jit::Module out = m.attr("readout_out").toModule();
  out_weight = tensor(out, "weight").reshape({-1});
  out_bias = tensor(out, "bias").item<double>();
  // the first layer's bias per element: its own plus the element's (num_elements, hidden)
  bias[0] = (tensor(m, "element_bias") + bias[0]).contiguous();
  shift = tensor(m, "shift");
  scale = tensor(m, "scale").item<double>();
  return "";
}

// v^T B_m v for the 5 basis matrices of LocalStudent.angular_l2; their gradients are written out
// where needed (angular(), the l = 2 loops of atoms()), which keeps the per-channel loops vector
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

}    // namespace

// Energies of n atoms from their moments A (n, K, C), and G = dE/dA (n, K, C). The channel
// mixings of all n atoms go through gemm, one call per angular component and direction.
template <typename T, int CT>
void NativeKernel::atoms(const Weights<T> &wt, const int64_t *species, int64_t n64, const T *A,
                         T *G, double *energy)
{
  const int C = CT ? CT : channels, K = components, F = features, KC = K * C, n = (int) n64;
  const T *cubic = wt.cubic.data();
  // per atom: a1 M0 (3C); a2 [M1 M2 M3] as [m][j][c] (15C); q_p(a2) (5C); a3 M4 (10C)
  const size_t L = layer.size();
  Scratch<T> &s = scratch<T>();
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

  // readout: z_l = h_{l-1} W_l^T + b_l (+ element bias), h_l = silu(z_l), E = scale (w.h_L + b) + shift
  // After each gemm one pass adds the bias and forms silu(z) and, for the backward pass, silu'(z):
  // the activations of a block outgrow L2 for the largest preset, so every pass over them counts.
  std::vector<std::vector<T>> &h = s.h, &slope = s.slope;
  for (size_t l = 0; l < L; l++) {
    int out = (int) layer[l].size(0), in = (int) layer[l].size(1);
    std::vector<T> &z = h[l + 1];
    z.resize(n * out);
    slope[l].resize(n * out);
    wt.forward[l].multiply(n, h[l].data(), in, z.data(), out, packed);
    for (int i = 0; i < n; i++) {
      const T *__restrict b = bias[l].data_ptr<T>() + (l == 0 ? species[i] * out : 0);
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
  const T *w = out_weight.data_ptr<T>(), *sh = shift.data_ptr<T>();
  const int H = (int) out_weight.size(0);
  for (int i = 0; i < n; i++) {
    T dot = 0;
    const T *hi = &h[L][i * H];
#pragma omp simd reduction(+ : dot)
    for (int j = 0; j < H; j++) dot += hi[j] * w[j];
    energy[i] = ((double) dot + out_bias) * scale + (double) sh[species[i]];
  }
  std::vector<T> &g = s.g, &gz = s.gz;    // dE/dh_l and dE/dz_l
  gz.resize(n * H);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < H; j++) gz[i * H + j] = (T) scale * w[j] * slope[L - 1][i * H + j];
  for (int l = (int) L - 1; l >= 0; l--) {
    int out = (int) layer[l].size(0), in = (int) layer[l].size(1);
    g.resize(n * in);
    wt.backward[l].multiply(n, gz.data(), out, g.data(), in, packed);
    if (l == 0) break;
    gz.resize(n * in);
    for (int64_t k = 0; k < (int64_t) n * in; k++) gz[k] = g[k] * slope[l - 1][k];
  }
  const T *GX = g.data();

  // G: the direct terms per atom, and the factors t that go back through the mixings
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
    if (lmax >= 2) {
      const T *gf2 = gf + 2 * C, *gf3 = gf + 3 * C, *gf4 = gf + 4 * C;
      T *__restrict t2i = &t2[i * 15 * C];
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
  for (int k = 0; k < 3; k++)
    wt.m0t.multiply(n, &t1[k * C], 3 * C, G + (1 + k) * C, KC, packed, true);
  if (lmax >= 2)
    for (int m = 0; m < 5; m++)
      wt.mtcat.multiply(n, &t2[m * 3 * C], 15 * C, G + (4 + m) * C, KC, packed, true);
  if (lmax == 3)
    for (int k = 0; k < 10; k++)
      wt.m4t.multiply(n, &t3[k * C], 10 * C, G + (9 + k) * C, KC, packed, true);
}

template <typename T, int CT>
void NativeKernel::run(const Weights<T> &wt, const std::vector<int64_t> &species,
                       const std::vector<int64_t> &edges, const std::vector<double> &vectors,
                       int64_t nedges, int64_t nlocal, std::vector<double> &energy,
                       std::vector<double> &edge_grad)
{
  const int K = components, C = CT ? CT : channels;    // C: a multiple of 8 (load())
  const int64_t width = (int64_t) (lmax + 1) * C;
  const int64_t *center = edges.data(), *neighbor = edges.data() + nedges;
  const double inv_spacing = 1.0 / spacing;
  std::vector<T> &A = scratch<T>().A, &G = scratch<T>().G, w(width), dw(width);
  A.resize(BLOCK * K * C);
  G.resize(BLOCK * K * C);
  std::vector<T> P(4 * C), acc(4 * C);
  T Y[19], dY[57];
  // For l = 2, sum_k G_k Y_k(u) = u^T M u with M = sum_k G_k B_k (symmetric, per atom and
  // channel), so P = u^T M u and D = 2 M u: M is formed once per atom instead of Y_k, dY_k and
  // five products per edge. S holds 2 M as xx, yy, zz, xy, yz, xz rows of C.
  std::vector<T> S(lmax == 2 ? 6 * C : 0);

  // Edges by centre (a counting sort; LAMMPS lists are already in that order): the atoms are
  // then done in blocks, moments -> energies and dE/dA -> edge gradients, with the moments and
  // dE/dA of one block in cache, where a pass over all atoms sent them through memory twice.
  std::vector<int64_t> &first = edge_first, &order = edge_order;
  first.assign(nlocal + 1, 0);
  for (int64_t e = 0; e < nedges; e++)
    if (center[e] < nlocal) first[center[e] + 1]++;    // ghost-centred edges carry no energy
  for (int64_t i = 0; i < nlocal; i++) first[i + 1] += first[i];
  order.resize(first[nlocal]);
  {
    std::vector<int64_t> &cursor = edge_cursor;
    cursor.assign(first.begin(), first.end() - 1);
    for (int64_t e = 0; e < nedges; e++)
      if (center[e] < nlocal) order[cursor[center[e]]++] = e;
  }
  energy.resize(nlocal);
  edge_grad.assign(3 * nedges, 0.0);

  for (int64_t start = 0; start < nlocal; start += BLOCK) {
    const int64_t n = std::min(BLOCK, nlocal - start);
    std::fill(A.begin(), A.begin() + n * K * C, (T) 0);
    for (int64_t o = first[start]; o < first[start + n]; o++) {
      const int64_t e = order[o], i = center[e];
      const double *v = &vectors[3 * e];
      double r = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
      int64_t pair = species[i] * num_elements + species[neighbor[e]];
      Spline<T> s(wt.values, wt.slopes, width, points, inv_spacing, pair, r);
      s.value(width, w.data());
      angular<T>(lmax, (T) (v[0] / r), (T) (v[1] / r), (T) (v[2] / r), Y, nullptr);
      T *__restrict a = &A[(i - start) * K * C];
      for (int k = 0; k < K; k++) {
        const T *__restrict wl = &w[COMPONENT_L[k] * C];
        T yk = Y[k];
        for (int c = 0; c < C; c++) a[k * C + c] += yk * wl[c];
      }
    }

    atoms<T, CT>(wt, species.data() + start, n, A.data(), G.data(), &energy[start]);

    int64_t s_atom = -1;
    for (int64_t o = first[start]; o < first[start + n]; o++) {
      const int64_t e = order[o], i = center[e];
      const double *v = &vectors[3 * e];
      double r = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
      T u[3] = {(T) (v[0] / r), (T) (v[1] / r), (T) (v[2] / r)};
      int64_t pair = species[i] * num_elements + species[neighbor[e]];
      Spline<T> s(wt.values, wt.slopes, width, points, inv_spacing, pair, r);
      s.value_slope(width, w.data(), dw.data());
      const T *__restrict g = &G[(i - start) * K * C];
      if (lmax == 2 && i != s_atom) {
        const T *__restrict g2 = g + 4 * C;
        const T s2 = (T) 1.4142135623730951, s6 = (T) 2.449489742783178;
        T *__restrict m = S.data();
        for (int c = 0; c < C; c++) {
          T g7 = g2[3 * C + c] / s2, g8 = g2[4 * C + c] / s6;
          m[c] = 2 * (g7 - g8);                 // 2 M_xx, from Y = (x^2 - y^2)/s2 and (2z^2 - x^2 - y^2)/s6
          m[C + c] = 2 * (-g7 - g8);            // 2 M_yy
          m[2 * C + c] = 4 * g8;                // 2 M_zz
          m[3 * C + c] = s2 * g2[c];            // 2 M_xy, from Y = s2 xy
          m[4 * C + c] = s2 * g2[C + c];        // 2 M_yz
          m[5 * C + c] = s2 * g2[2 * C + c];    // 2 M_xz
        }
        s_atom = i;
      }
      if (lmax > 2) angular<T>(lmax, u[0], u[1], u[2], Y, dY);    // l <= 1 needs only u, l = 2 only S
      // per l, over channels: P = sum_k G_k Y_k and D_a = sum_k G_k dY_k/du_a (k of that l);
      // then dE/dvec = sum_c [(dw - l w / r) P] u + sum_c [w D] / r, with 4 sums over channels.
      // l = 0 has no D; for l = 1, Y = u and D_a is G_a itself.
      const T *__restrict wp = w.data(), *__restrict dwp = dw.data();
      T *__restrict Pp = P.data(), *__restrict ap = acc.data();
      T inv_r = (T) (1.0 / r);
      for (int c = 0; c < C; c++) {
        ap[c] = dwp[c] * g[c];
        T p1 = g[C + c] * u[0] + g[2 * C + c] * u[1] + g[3 * C + c] * u[2];
        ap[c] += (dwp[C + c] - inv_r * wp[C + c]) * p1;
        ap[C + c] = wp[C + c] * g[C + c];
        ap[2 * C + c] = wp[C + c] * g[2 * C + c];
        ap[3 * C + c] = wp[C + c] * g[3 * C + c];
      }
      if (lmax == 2) {
        const T *__restrict m = S.data(), *__restrict w2 = wp + 2 * C, *__restrict dw2 = dwp + 2 * C;
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
      for (int l = 2, k0 = 4; lmax != 2 && l <= lmax; k0 += NUM_M[l], l++) {
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
        edge_grad[3 * e + a] = (double) (sums[0] * u[a] + sums[1 + a] * inv_r);
    }
  }
}

std::string NativeKernel::evaluate(const std::vector<int64_t> &species,
                                   const std::vector<int64_t> &edges,
                                   const std::vector<double> &vectors, int64_t nedges,
                                   int64_t nlocal, std::vector<double> &energy,
                                   std::vector<double> &edge_grad)
{
  // the presets' channel counts once padded (22, 46, 64 in models/local.py -> 24, 48, 64), as
  // floats or doubles, get loops of compile-time length; other widths run generic loops
  auto go = [&](const auto &weights, auto width) {
    using T = typename std::decay_t<decltype(weights.values)>::value_type;
    run<T, decltype(width)::value>(weights, species, edges, vectors, nedges, nlocal, energy, edge_grad);
  };
  auto by_width = [&](const auto &weights) {
    if (channels == 24) go(weights, std::integral_constant<int, 24>());
    else if (channels == 48) go(weights, std::integral_constant<int, 48>());
    else if (channels == 64) go(weights, std::integral_constant<int, 64>());
    else go(weights, std::integral_constant<int, 0>());
  };
  if (dtype == torch::kFloat64) by_width(w64);
  else by_width(w32);
  return "";
}
