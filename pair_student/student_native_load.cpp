/* -------------------------------------------------------------------------
   Tabulated TorchScript students -> TabulatedArrays -> NativeKernel.
------------------------------------------------------------------------- */

#include "student_native_load.h"

#include <torch/torch.h>

using namespace LAMMPS_NS;

const std::vector<std::string> &LAMMPS_NS::tabulated_attributes()
{
  static const std::vector<std::string> names = {
      "radial_values", "radial_slopes", "table_spacing",     "table_points",   "lmax",
      "channels",      "num_elements",  "mix",               "sh2_cubic",      "shift",
      "scale",         "element_bias",  "readout_in.weight", "readout_in.bias", "readout_hidden",
      "readout_out.weight", "readout_out.bias"};
  return names;
}

static bool has_attribute(const torch::jit::Module &module, const std::string &dotted)
{
  torch::jit::Module owner = module;
  size_t start = 0;
  for (size_t dot; (dot = dotted.find('.', start)) != std::string::npos; start = dot + 1) {
    std::string part = dotted.substr(start, dot - start);
    if (!owner.hasattr(part) || !owner.attr(part).isModule()) return false;
    owner = owner.attr(part).toModule();
  }
  return owner.hasattr(dotted.substr(start));
}

std::string LAMMPS_NS::missing_tabulated_attribute(const torch::jit::Module &module)
{
  for (const auto &name : tabulated_attributes())
    if (!has_attribute(module, name)) return name;
  return "";
}

namespace {

template <typename T> std::vector<T> values(const torch::Tensor &t, torch::Dtype dtype)
{
  torch::Tensor c = t.detach().to(torch::kCPU, dtype).contiguous();
  return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
}

// A Linear of the readout; false when it is not one (weight not 2-D).
template <typename T>
bool linear(const torch::jit::Module &module, torch::Dtype dtype, typename TabulatedArrays<T>::Linear &out)
{
  torch::Tensor weight = module.attr("weight").toTensor();
  if (weight.dim() != 2) return false;
  out.out = (int) weight.size(0);
  out.in = (int) weight.size(1);
  out.weight = values<T>(weight, dtype);
  out.bias = values<T>(module.attr("bias").toTensor(), dtype);
  return true;
}

// Throws c10::Error where an attribute has the wrong type (an int where a tensor belongs).
template <typename T>
std::string read_arrays(const torch::jit::Module &m, torch::Dtype dtype, TabulatedArrays<T> &a)
{
  auto tensor = [&](const char *name) { return values<T>(m.attr(name).toTensor(), dtype); };
  a.num_elements = (int) m.attr("num_elements").toInt();
  a.lmax = (int) m.attr("lmax").toInt();
  a.channels = (int) m.attr("channels").toInt();
  a.points = (int) m.attr("table_points").toInt();
  a.spacing = m.attr("table_spacing").toDouble();
  a.radial_values = tensor("radial_values");
  a.radial_slopes = tensor("radial_slopes");
  a.mix = tensor("mix");
  a.sh2_cubic = tensor("sh2_cubic");
  a.element_bias = tensor("element_bias");
  a.shift = tensor("shift");
  std::vector<T> scale = tensor("scale");
  bool ok = scale.size() == 1;
  a.scale = ok ? scale[0] : T(0);
  std::vector<torch::jit::Module> layers = {m.attr("readout_in").toModule()};
  for (const auto &sub : m.attr("readout_hidden").toModule().children()) layers.push_back(sub);
  a.readout.resize(layers.size());
  for (size_t l = 0; l < layers.size(); l++) {
    if (!layers[l].hasattr("weight") || !layers[l].hasattr("bias")) ok = false;
    else ok = linear<T>(layers[l], dtype, a.readout[l]) && ok;
  }
  ok = linear<T>(m.attr("readout_out").toModule(), dtype, a.readout_out) && ok;
  // files exported before the core repulsion existed have no windows: it is off for them
  if (m.hasattr("core_outer")) {
    auto doubles = [&](const char *name) { return values<double>(m.attr(name).toTensor(), torch::kFloat64); };
    a.core_z = doubles("core_z");
    a.core_inner = doubles("core_inner");
    a.core_outer = doubles("core_outer");
  }
  // files exported before the uncertainty, or without a dataset, have none (0 rows: none)
  if (m.hasattr("uncertainty_mean") && m.attr("uncertainty_mean").toTensor().size(0) > 0) {
    a.uncertainty_mean = tensor("uncertainty_mean");
    a.uncertainty_whiten = tensor("uncertainty_whiten");
    a.uncertainty_calibration = tensor("uncertainty_calibration");
  }
  return ok ? "" : "the tables and weights in the model file do not match its sizes; re-export it";
}

template <typename T>
std::string load_as(const torch::jit::Module &module, torch::Dtype dtype, const std::string &gemm,
                    NativeKernel &kernel)
{
  TabulatedArrays<T> arrays;
  std::string problem;
  try {
    problem = read_arrays(module, dtype, arrays);
  } catch (const c10::Error &e) {
    std::string what = e.what_without_backtrace();
    problem = "the tabulated model's attributes have unexpected types (" +
        what.substr(0, what.find('\n')) + "); re-export it";
  }
  return problem.empty() ? kernel.load(arrays, gemm) : problem;
}

}    // namespace

std::string LAMMPS_NS::load_native_kernel(const torch::jit::Module &module, torch::Dtype dtype,
                                          const std::string &gemm, NativeKernel &kernel)
{
  if (dtype == torch::kFloat64) return load_as<double>(module, dtype, gemm, kernel);
  if (dtype == torch::kFloat32) return load_as<float>(module, dtype, gemm, kernel);
  return "the native kernel runs float32 or float64 models only; use 'kernel torch'";
}
