/* -------------------------------------------------------------------------
   Native kernel for tabulated local students (the same function as their
   TorchScript forward, pair_student/models/local.py, without autograd).

   Edges, pass 1: r, u = vec / r, angular components Y_k(u) (homogeneous of
   degree l_k in u) and radial weights w_lc(r) by cubic Hermite interpolation;
   moments A[i][k][c] = sum_j Y_k w_{l_k c}.
   Atoms, in blocks: invariants of A, the readout MLP and its input gradient
   (matrix products through libtorch), then G = dE/dA in closed form.
   Edges, pass 2:
     dE/dvec = (sum_k p_k Y_k - sum_k l_k q_k Y_k / r) u + sum_k q_k dY_k/du / r
   with p_k = sum_c G_kc dw_lc/dr and q_k = sum_c G_kc w_lc (u . dY_k/du = l_k Y_k).
------------------------------------------------------------------------- */

#include "student_native.h"

#include <torch/torch.h>

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

using namespace LAMMPS_NS;

static constexpr int COMPONENTS[4] = {0, 4, 9, 19};    // 1 + 3 + 5 + 10, by lmax
static constexpr int COMPONENT_L[19] = {0, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
static constexpr int NUM_M[4] = {1, 3, 5, 10};    // components of each l
static constexpr int64_t BLOCK = 256;    // atoms per readout call: keeps the block in cache

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

template <typename T> static void fill(const torch::jit::Module &m, std::vector<T> &values,
                                       std::vector<T> &slopes, std::vector<T> &mix,
                                       std::vector<T> &mix_t, std::vector<T> &cubic,
                                       torch::Dtype dtype)
{
  auto get = [&](const char *name) { return m.attr(name).toTensor().detach().to(torch::kCPU, dtype); };
  values = to_vector<T>(get("radial_values"));
  slopes = to_vector<T>(get("radial_slopes"));
  mix = to_vector<T>(get("mix"));
  // the gradients need x M^T: keep each mixing transposed, so both directions are row updates
  mix_t = to_vector<T>(get("mix").transpose(1, 2));
  cubic = to_vector<T>(get("sh2_cubic"));
}

std::string NativeKernel::load(const torch::jit::Module &m, torch::Dtype run_dtype)
{
  dtype = run_dtype;
  lmax = (int) m.attr("lmax").toInt();
  channels = (int) m.attr("channels").toInt();
  num_elements = (int) m.attr("num_elements").toInt();
  points = (int) m.attr("table_points").toInt();
  spacing = m.attr("table_spacing").toDouble();
  if (lmax < 1 || lmax > 3)
    return "the tabulated model has lmax " + std::to_string(lmax) +
        ", the native kernel knows 1 to 3; use 'kernel torch'";
  components = COMPONENTS[lmax];
  features = channels * (lmax == 1 ? 2 : lmax == 2 ? 5 : 6);

  auto tensor = [&](const torch::jit::Module &mod, const char *name) {
    return mod.attr(name).toTensor().detach().to(torch::kCPU, dtype).contiguous();
  };
  std::vector<torch::jit::Module> linears = {m.attr("readout_in").toModule()};
  for (const auto &sub : m.attr("readout_hidden").toModule().children()) linears.push_back(sub);
  for (const auto &lin : linears) {
    layer.push_back(tensor(lin, "weight"));
    bias.push_back(tensor(lin, "bias"));
  }
  torch::jit::Module out = m.attr("readout_out").toModule();
  out_weight = tensor(out, "weight").reshape({-1});
  out_bias = tensor(out, "bias").item<double>();
  element_bias = tensor(m, "element_bias");
  shift = tensor(m, "shift");
  scale = tensor(m, "scale").item<double>();

  int64_t rows = (int64_t) num_elements * num_elements * (points + 1);
  int64_t width = (int64_t) (lmax + 1) * channels;
  int num_mix = lmax == 1 ? 1 : lmax == 2 ? 4 : 5;
  bool ok;
  if (dtype == torch::kFloat64) {
    fill(m, w64.values, w64.slopes, w64.mix, w64.mix_t, w64.cubic, dtype);
    ok = (int64_t) w64.values.size() == rows * width && w64.slopes.size() == w64.values.size() &&
        (int64_t) w64.mix.size() == (int64_t) num_mix * channels * channels;
  } else {
    fill(m, w32.values, w32.slopes, w32.mix, w32.mix_t, w32.cubic, dtype);
    ok = (int64_t) w32.values.size() == rows * width && w32.slopes.size() == w32.values.size() &&
        (int64_t) w32.mix.size() == (int64_t) num_mix * channels * channels;
  }
  if (!ok || spacing <= 0.0 || layer[0].size(1) != features)
    return "the tables and weights in the model file do not match its sizes; re-export it";
  return "";
}

// Y_k(u) and, when dy is given, dY_k/du (3 per component), in the order of LocalStudent.angular.
template <typename T> static void angular(int lmax, T x, T y, T z, T *Y, T *dy)
{
  const T s2 = (T) 1.4142135623730951, s3 = (T) 1.7320508075688772, s6 = (T) 2.449489742783178;
  Y[0] = 1; Y[1] = x; Y[2] = y; Y[3] = z;
  if (lmax >= 2) {
    Y[4] = s2 * x * y; Y[5] = s2 * y * z; Y[6] = s2 * x * z;
    Y[7] = (x * x - y * y) / s2; Y[8] = (2 * z * z - x * x - y * y) / s6;
  }
  if (lmax == 3) {
    Y[9] = x * x * x; Y[10] = y * y * y; Y[11] = z * z * z;
    Y[12] = s3 * x * x * y; Y[13] = s3 * x * x * z; Y[14] = s3 * y * y * x;
    Y[15] = s3 * y * y * z; Y[16] = s3 * z * z * x; Y[17] = s3 * z * z * y;
    Y[18] = s6 * x * y * z;
  }
  if (!dy) return;
  const T d[19][3] = {
      {0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1},
      {s2 * y, s2 * x, 0}, {0, s2 * z, s2 * y}, {s2 * z, 0, s2 * x},
      {s2 * x, -s2 * y, 0}, {-2 * x / s6, -2 * y / s6, 4 * z / s6},
      {3 * x * x, 0, 0}, {0, 3 * y * y, 0}, {0, 0, 3 * z * z},
      {s3 * 2 * x * y, s3 * x * x, 0}, {s3 * 2 * x * z, 0, s3 * x * x},
      {s3 * y * y, s3 * 2 * x * y, 0}, {0, s3 * 2 * y * z, s3 * y * y},
      {s3 * z * z, 0, s3 * 2 * x * z}, {0, s3 * z * z, s3 * 2 * y * z},
      {s6 * y * z, s6 * x * z, s6 * x * y}};
  for (int k = 0; k < COMPONENTS[lmax]; k++)
    for (int a = 0; a < 3; a++) dy[3 * k + a] = d[k][a];
}

namespace {
// Cubic Hermite interpolation of one edge's table row: w and dw/dr for every output column.
template <typename T> struct Spline {
  const T *y0, *y1, *d0, *d1;
  T h00, h10, h01, h11, g00, g10, g01, g11;
  Spline(const std::vector<T> &values, const std::vector<T> &slopes, int64_t width, int points,
         double spacing, int64_t pair, double r)
  {
    double xr = r / spacing;
    double node = std::fmin(std::fmax(std::floor(xr), 0.0), (double) (points - 1));
    T t = (T) (xr - node);
    int64_t row = pair * (points + 1) + (int64_t) node;
    y0 = &values[row * width]; y1 = y0 + width;
    d0 = &slopes[row * width]; d1 = d0 + width;
    T t2 = t * t, t3 = t2 * t, inv = (T) (1.0 / spacing);
    h00 = 2 * t3 - 3 * t2 + 1; h10 = t3 - 2 * t2 + t; h01 = 3 * t2 - 2 * t3; h11 = t3 - t2;
    g00 = (6 * t2 - 6 * t) * inv; g10 = (3 * t2 - 4 * t + 1) * inv;
    g01 = (6 * t - 6 * t2) * inv; g11 = (3 * t2 - 2 * t) * inv;
  }
  void value(int64_t n, T *w) const
  {
    for (int64_t c = 0; c < n; c++) w[c] = h00 * y0[c] + h10 * d0[c] + h01 * y1[c] + h11 * d1[c];
  }
  void slope(int64_t n, T *dw) const
  {
    for (int64_t c = 0; c < n; c++) dw[c] = g00 * y0[c] + g10 * d0[c] + g01 * y1[c] + g11 * d1[c];
  }
};

// Column-major BLAS gemm, taken from libtorch's own scope: lmp exports LAMMPS' bundled reference
// dgemm_, which would otherwise serve every double-precision torch matmul in the process
// (measured: 5x slower readout for the original preset in float64).
template <typename T>
using Gemm = void (*)(const char *, const char *, const int *, const int *, const int *, const T *,
                      const T *, const int *, const T *, const int *, const T *, T *, const int *);

template <typename T> Gemm<T> torch_gemm()
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

// out (n, cols) = x (n, inner) times W^T (W: (cols, inner) row-major), or x W when transpose is false;
// beta 1 adds to what out holds
template <typename T>
void matmul(const torch::Tensor &x, const torch::Tensor &W, bool transpose, torch::Tensor &out, T beta)
{
  Gemm<T> gemm = torch_gemm<T>();
  int n = (int) x.size(0), inner = (int) x.size(1);
  int cols = (int) (transpose ? W.size(0) : W.size(1));
  if (!gemm) {    // no BLAS symbol found: torch's own matmul
    torch::Tensor p = transpose ? torch::mm(x, W.t()) : torch::mm(x, W);
    out = beta == 0 ? p : out + p;
    return;
  }
  // row-major out^T = (col-major) W'^T x^T
  T one = 1;
  int ldw = (int) W.size(1);
  gemm(transpose ? "T" : "N", "N", &cols, &n, &inner, &one, W.data_ptr<T>(), &ldw,
       x.data_ptr<T>(), &inner, &beta, out.data_ptr<T>(), &cols);
}

// out[r][:] (+)= sum_c x[r][c] M[c][:], M (C, C) row-major: row vectors times a channel mixing
template <typename T> void mix_rows(const T *x, int rows, const T *M, int C, T *out, bool add)
{
  for (int r = 0; r < rows; r++) {
    T *o = out + r * C;
    if (!add) std::fill(o, o + C, (T) 0);
    for (int c = 0; c < C; c++) {
      T xc = x[r * C + c];
      const T *m = M + c * C;
      for (int d = 0; d < C; d++) o[d] += xc * m[d];
    }
  }
}

// v^T B_m v for the 5 basis matrices of LocalStudent.angular_l2, and d/dv of each
template <typename T> inline void quadratic_l2(T x, T y, T z, T *q, T (*dq)[3])
{
  const T s2 = (T) 1.4142135623730951, s6 = (T) 2.449489742783178;
  q[0] = s2 * x * y; q[1] = s2 * y * z; q[2] = s2 * x * z;
  q[3] = (x * x - y * y) / s2; q[4] = (2 * z * z - x * x - y * y) / s6;
  if (!dq) return;
  const T d[5][3] = {{s2 * y, s2 * x, 0}, {0, s2 * z, s2 * y}, {s2 * z, 0, s2 * x},
                     {s2 * x, -s2 * y, 0}, {-2 * x / s6, -2 * y / s6, 4 * z / s6}};
  for (int m = 0; m < 5; m++)
    for (int a = 0; a < 3; a++) dq[m][a] = d[m][a];
}
}    // namespace

// Energies of n atoms from their moments A (n, K, C), and G = dE/dA.
template <typename T>
void NativeKernel::atoms(const Weights<T> &wt, const int64_t *species, int64_t n, const T *A,
                         T *G, double *energy)
{
  const int C = channels, K = components, F = features, CC = C * C;
  const T *M = wt.mix.data(), *MT = wt.mix_t.data(), *cubic = wt.cubic.data();
  // per atom: a1 M0 (3C), a2 M1..M3 (15C), the cubic quadratic forms (5C), a3 M4 (10C)
  const int S = 33 * C;
  std::vector<T> X(n * F), scratch(n * S), tmp(10 * C);
  for (int64_t i = 0; i < n; i++) {
    const T *a0 = A + i * K * C, *a1 = a0 + C, *a2 = a0 + 4 * C, *a3 = a0 + 9 * C;
    T *x = &X[i * F], *B1 = &scratch[i * S], *b = B1 + 3 * C, *q = b + 15 * C, *b5 = q + 5 * C;
    for (int c = 0; c < C; c++) x[c] = a0[c];
    mix_rows(a1, 3, M, C, B1, false);
    for (int c = 0; c < C; c++) x[C + c] = a1[c] * B1[c] + a1[C + c] * B1[C + c] + a1[2 * C + c] * B1[2 * C + c];
    if (lmax >= 2) {
      for (int j = 0; j < 3; j++) mix_rows(a2, 5, M + (1 + j) * CC, C, b + 5 * j * C, false);
      T *f2 = x + 2 * C, *f3 = x + 3 * C, *f4 = x + 4 * C;
      std::fill(f2, f2 + 3 * C, (T) 0);
      std::fill(q, q + 5 * C, (T) 0);
      for (int p = 0; p < 5; p++)
        for (int mm = 0; mm < 5; mm++)
          for (int nn = 0; nn < 5; nn++) {
            T t = cubic[p * 25 + mm * 5 + nn];
            if (t == 0) continue;    // most of tr(B_m B_n B_p) vanishes
            for (int c = 0; c < C; c++) q[p * C + c] += t * a2[mm * C + c] * a2[nn * C + c];
          }
      for (int c = 0; c < C; c++) {
        T y2[5];
        quadratic_l2(a1[c], a1[C + c], a1[2 * C + c], y2, (T(*)[3]) nullptr);
        for (int p = 0; p < 5; p++) {
          f2[c] += a2[p * C + c] * b[p * C + c];
          f3[c] += y2[p] * b[(5 + p) * C + c];
          f4[c] += q[p * C + c] * b[(10 + p) * C + c];
        }
      }
    }
    if (lmax == 3) {
      mix_rows(a3, 10, M + 4 * CC, C, b5, false);
      for (int c = 0; c < C; c++) {
        T f5 = 0;
        for (int k = 0; k < 10; k++) f5 += a3[k * C + c] * b5[k * C + c];
        x[5 * C + c] = f5;
      }
    }
  }

  // readout: z_l = h_{l-1} W_l^T + b_l (+ element bias), h_l = silu(z_l), E = scale (w.h_L + b) + shift
  torch::NoGradGuard no_grad;
  auto opts = torch::TensorOptions().dtype(dtype);
  torch::Tensor spec = torch::from_blob(const_cast<int64_t *>(species), {n}, torch::kInt64);
  torch::Tensor h = torch::from_blob(X.data(), {n, F}, opts);
  std::vector<torch::Tensor> z;
  for (size_t l = 0; l < layer.size(); l++) {
    torch::Tensor zl = bias[l].expand({n, bias[l].size(0)}).contiguous();
    if (l == 0) zl += element_bias.index_select(0, spec);
    matmul<T>(h, layer[l], true, zl, 1);
    z.push_back(zl);
    h = torch::silu(zl);
  }
  torch::Tensor e = (torch::mv(h, out_weight) + out_bias) * scale + shift.index_select(0, spec);
  e = e.to(torch::kFloat64).contiguous();
  std::copy(e.data_ptr<double>(), e.data_ptr<double>() + n, energy);
  torch::Tensor g = (out_weight * scale).expand({n, out_weight.size(0)});
  for (int l = (int) layer.size() - 1; l >= 0; l--) {
    torch::Tensor s = torch::sigmoid(z[l]);
    torch::Tensor gz = (g * s * (1 + z[l] * (1 - s))).contiguous();
    g = torch::empty({n, layer[l].size(1)}, opts);
    matmul<T>(gz, layer[l], false, g, 0);
  }
  g = g.contiguous();
  const T *GX = g.data_ptr<T>();

  for (int64_t i = 0; i < n; i++) {
    const T *a0 = A + i * K * C, *a1 = a0 + C, *a2 = a0 + 4 * C, *a3 = a0 + 9 * C;
    const T *B1 = &scratch[i * S], *b = B1 + 3 * C, *q = b + 15 * C, *b5 = q + 5 * C;
    const T *gf = GX + i * F;
    T *g0 = G + i * K * C, *g1 = g0 + C, *g2 = g0 + 4 * C, *g3 = g0 + 9 * C;
    std::fill(g0, g0 + K * C, (T) 0);
    for (int c = 0; c < C; c++) g0[c] = gf[c];
    // f1 = a1 . (a1 M0)
    for (int k = 0; k < 3; k++)
      for (int c = 0; c < C; c++) {
        tmp[k * C + c] = gf[C + c] * a1[k * C + c];
        g1[k * C + c] += gf[C + c] * B1[k * C + c];
      }
    mix_rows(tmp.data(), 3, MT, C, g1, true);
    if (lmax >= 2) {
      const T *gf2 = gf + 2 * C, *gf3 = gf + 3 * C, *gf4 = gf + 4 * C;
      // f2 = a2 . (a2 M1)
      for (int m = 0; m < 5; m++)
        for (int c = 0; c < C; c++) {
          tmp[m * C + c] = gf2[c] * a2[m * C + c];
          g2[m * C + c] += gf2[c] * b[m * C + c];
        }
      mix_rows(tmp.data(), 5, MT + CC, C, g2, true);
      // f3 = y2(a1) . (a2 M2)
      for (int c = 0; c < C; c++) {
        T y2[5], dy2[5][3];
        quadratic_l2(a1[c], a1[C + c], a1[2 * C + c], y2, dy2);
        for (int m = 0; m < 5; m++) {
          T bm = gf3[c] * b[(5 + m) * C + c];
          for (int k = 0; k < 3; k++) g1[k * C + c] += bm * dy2[m][k];
          tmp[m * C + c] = gf3[c] * y2[m];
        }
      }
      mix_rows(tmp.data(), 5, MT + 2 * CC, C, g2, true);
      // f4 = sum_p q_p(a2) (a2 M3)_p with q_p = sum_mn T_pmn a2_m a2_n
      for (int p = 0; p < 5; p++) {
        const T *bp = b + (10 + p) * C;
        for (int c = 0; c < C; c++) tmp[p * C + c] = gf4[c] * q[p * C + c];
        for (int mm = 0; mm < 5; mm++)
          for (int nn = 0; nn < 5; nn++) {
            T t = cubic[p * 25 + mm * 5 + nn];
            if (t == 0) continue;
            // d/da_m and d/da_n of t a_m a_n, taken separately: no symmetry of T is assumed
            for (int c = 0; c < C; c++) {
              T gb = gf4[c] * bp[c] * t;
              g2[mm * C + c] += gb * a2[nn * C + c];
              g2[nn * C + c] += gb * a2[mm * C + c];
            }
          }
      }
      mix_rows(tmp.data(), 5, MT + 3 * CC, C, g2, true);
    }
    if (lmax == 3) {
      const T *gf5 = gf + 5 * C;
      for (int k = 0; k < 10; k++)
        for (int c = 0; c < C; c++) {
          tmp[k * C + c] = gf5[c] * a3[k * C + c];
          g3[k * C + c] += gf5[c] * b5[k * C + c];
        }
      mix_rows(tmp.data(), 10, MT + 4 * CC, C, g3, true);
    }
  }
}

template <typename T>
void NativeKernel::run(const Weights<T> &wt, const std::vector<int64_t> &species,
                       const std::vector<int64_t> &edges, const std::vector<double> &vectors,
                       int64_t nedges, int64_t nlocal, std::vector<double> &energy,
                       std::vector<double> &edge_grad)
{
  const int K = components, C = channels;
  const int64_t width = (int64_t) (lmax + 1) * C;
  const int64_t *center = edges.data(), *neighbor = edges.data() + nedges;
  std::vector<T> A(nlocal * K * C, (T) 0), G(nlocal * K * C), w(width), dw(width);
  std::vector<T> P(4 * C), acc(4 * C);
  T Y[19], dY[57];

  for (int64_t e = 0; e < nedges; e++) {
    int64_t i = center[e];
    if (i >= nlocal) continue;    // ghost-centred edges carry no energy for a local model
    const double *v = &vectors[3 * e];
    double r = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    int64_t pair = species[i] * num_elements + species[neighbor[e]];
    Spline<T> s(wt.values, wt.slopes, width, points, spacing, pair, r);
    s.value(width, w.data());
    angular<T>(lmax, (T) (v[0] / r), (T) (v[1] / r), (T) (v[2] / r), Y, nullptr);
    T *a = &A[i * K * C];
    for (int k = 0; k < K; k++) {
      const T *wl = &w[COMPONENT_L[k] * C];
      T yk = Y[k];
      for (int c = 0; c < C; c++) a[k * C + c] += yk * wl[c];
    }
  }

  energy.resize(nlocal);
  for (int64_t start = 0; start < nlocal; start += BLOCK) {
    int64_t n = std::min(BLOCK, nlocal - start);
    atoms(wt, species.data() + start, n, &A[start * K * C], &G[start * K * C], &energy[start]);
  }

  edge_grad.assign(3 * nedges, 0.0);
  for (int64_t e = 0; e < nedges; e++) {
    int64_t i = center[e];
    if (i >= nlocal) continue;
    const double *v = &vectors[3 * e];
    double r = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    T u[3] = {(T) (v[0] / r), (T) (v[1] / r), (T) (v[2] / r)};
    int64_t pair = species[i] * num_elements + species[neighbor[e]];
    Spline<T> s(wt.values, wt.slopes, width, points, spacing, pair, r);
    s.value(width, w.data());
    s.slope(width, dw.data());
    angular<T>(lmax, u[0], u[1], u[2], Y, dY);
    // per l, over channels: P = sum_k G_k Y_k and D_a = sum_k G_k dY_k/du_a (k of that l);
    // then dE/dvec = sum_c [(dw - l w / r) P] u + sum_c [w D] / r, with 4 sums over channels
    const T *g = &G[i * K * C];
    T inv_r = (T) (1.0 / r);
    std::fill(acc.begin(), acc.end(), (T) 0);
    for (int l = 0, k0 = 0; l <= lmax; k0 += NUM_M[l], l++) {
      const T *wl = &w[l * C], *dwl = &dw[l * C];
      std::fill(P.begin(), P.end(), (T) 0);
      for (int k = k0; k < k0 + NUM_M[l]; k++) {
        const T *gk = g + k * C, yk = Y[k], dx = dY[3 * k], dy = dY[3 * k + 1], dz = dY[3 * k + 2];
        for (int c = 0; c < C; c++) {
          P[c] += gk[c] * yk;
          P[C + c] += gk[c] * dx;
          P[2 * C + c] += gk[c] * dy;
          P[3 * C + c] += gk[c] * dz;
        }
      }
      T lr = l * inv_r;
      for (int c = 0; c < C; c++) {
        acc[c] += (dwl[c] - lr * wl[c]) * P[c];
        acc[C + c] += wl[c] * P[C + c];
        acc[2 * C + c] += wl[c] * P[2 * C + c];
        acc[3 * C + c] += wl[c] * P[3 * C + c];
      }
    }
    T sums[4] = {0, 0, 0, 0};
    for (int j = 0; j < 4; j++)
      for (int c = 0; c < C; c++) sums[j] += acc[j * C + c];
    for (int a = 0; a < 3; a++)
      edge_grad[3 * e + a] = (double) (sums[0] * u[a] + sums[1 + a] * inv_r);
  }
}

std::string NativeKernel::evaluate(const std::vector<int64_t> &species,
                                   const std::vector<int64_t> &edges,
                                   const std::vector<double> &vectors, int64_t nedges,
                                   int64_t nlocal, std::vector<double> &energy,
                                   std::vector<double> &edge_grad)
{
  if (dtype == torch::kFloat64)
    run<double>(w64, species, edges, vectors, nedges, nlocal, energy, edge_grad);
  else
    run<float>(w32, species, edges, vectors, nedges, nlocal, energy, edge_grad);
  return "";
}
