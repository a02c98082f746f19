/* -------------------------------------------------------------------------
   Torch side of pair_style student. Every torch call that can throw is caught
   here and turned into a message; the pair style reports it via error->all.
------------------------------------------------------------------------- */

#include "student_evaluator.h"
#include "student_native.h"
#include "student_native_load.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <sstream>
#include <unordered_map>

using namespace LAMMPS_NS;

static constexpr int CONTRACT_VERSION = 1;

struct StudentEvaluator::Impl {
  torch::jit::Module module;
  torch::Device device = torch::kCPU;
  torch::Dtype dtype = torch::kFloat64;
  std::unique_ptr<NativeKernel> native;    // set when the native kernel runs this model
  std::string not_tabulated;               // the tabulated attribute the file lacks, if any
  bool uncertainty = false;                // the file carries uncertainty statistics
};

StudentEvaluator::StudentEvaluator() : impl(std::make_unique<Impl>()) {}
StudentEvaluator::~StudentEvaluator() = default;
StudentEvaluator::StudentEvaluator(StudentEvaluator &&) noexcept = default;
StudentEvaluator &StudentEvaluator::operator=(StudentEvaluator &&) noexcept = default;

static std::vector<std::string> split_words(const std::string &text)
{
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// The whole of text as a number; false for anything else (std::stoi would throw or stop early).
template <typename Number> static bool parse_number(const std::string &text, Number &value)
{
  std::istringstream in(text);
  in >> value;
  return !in.fail() && (in >> std::ws).eof();
}

static std::string choose_device(const StudentOptions &opts, torch::Device &device)
{
  if (opts.device == "cuda" && !torch::cuda::is_available())
    return "device cuda requested but torch sees no CUDA device (is this a GPU node, and is "
           "libtorch built with CUDA?); use 'device cpu' or 'device auto'";
  if (opts.device == "cuda" || (opts.device == "auto" && torch::cuda::is_available())) {
    int ngpu = (int) torch::cuda::device_count();
    device = torch::Device(torch::kCUDA, opts.local_rank % ngpu);
  } else if (opts.device != "cpu" && opts.device != "auto") {
    return "unknown device '" + opts.device + "'; use cpu, cuda or auto";
  }
  return "";
}

// The contract's metadata from the file's extra entries.
static std::string read_metadata(const std::string &file,
                                 std::unordered_map<std::string, std::string> &extra,
                                 StudentMetadata &meta)
{
  if (extra["contract_version"].empty())
    return "'" + file + "' is TorchScript but not a pair_student model: it carries no "
           "student metadata; export it with pair_student.save_student";
  if (!parse_number(extra["contract_version"], meta.contract_version) ||
      meta.contract_version != CONTRACT_VERSION)
    return "'" + file + "' follows student contract v" + extra["contract_version"] +
        " but this pair_style student reads v" + std::to_string(CONTRACT_VERSION) +
        "; re-export the model with a matching pair_student version";
  meta.elements = split_words(extra["elements"]);
  meta.units = extra["units"];
  meta.dtype = extra["dtype"];
  if (!parse_number(extra["cutoff"], meta.cutoff) || !parse_number(extra["num_layers"], meta.num_layers) ||
      meta.elements.empty() || meta.cutoff <= 0.0 || meta.num_layers < 1)
    return "'" + file + "' has invalid metadata (elements, cutoff or num_layers); re-export it "
           "with pair_student.save_student";
  return "";
}

// Statistics with rows and the method that uses them (LocalStudent.atom_uncertainty); files from
// before the uncertainty have neither, files exported without a dataset 0 rows.
static bool carries_uncertainty(const torch::jit::Module &module)
{
  try {
    return module.hasattr("uncertainty_mean") && module.find_method("atom_uncertainty") &&
        module.attr("uncertainty_mean").toTensor().size(0) > 0;
  } catch (const c10::Error &) {    // an attribute of that name that is no tensor
    return false;
  }
}

std::string StudentEvaluator::load(const std::string &file, const StudentOptions &opts)
{
  std::unordered_map<std::string, std::string> extra = {
      {"contract_version", ""}, {"elements", ""}, {"cutoff", ""},
      {"num_layers", ""},       {"units", ""},    {"dtype", ""}};

  std::string problem = choose_device(opts, impl->device);
  if (!problem.empty()) return problem;
  torch::set_num_threads(opts.threads);
  // The profiling executor re-specializes whenever the edge count changes; plain
  // interpretation is steadier for graphs whose size changes every step.
  torch::jit::setGraphExecutorOptimize(false);

  try {
    impl->module = torch::jit::load(file, impl->device, extra);
  } catch (const c10::Error &e) {
    return "cannot read '" + file + "' as a TorchScript student model (" +
        split_words(e.what_without_backtrace()).front() + " ...); export it with "
        "pair_student.save_student or 'pair-student export'";
  }
  problem = read_metadata(file, extra, meta);
  if (!problem.empty()) return problem;

  std::string dtype = opts.dtype.empty() ? meta.dtype : opts.dtype;
  if (dtype == "float64") impl->dtype = torch::kFloat64;
  else if (dtype == "float32") impl->dtype = torch::kFloat32;
  else return "unknown dtype '" + dtype + "'; use float32 or float64";
  meta.dtype = dtype;
  impl->module.to(impl->dtype);
  impl->module.eval();
  impl->uncertainty = carries_uncertainty(impl->module);
  return choose_kernel(file, opts);
}

bool StudentEvaluator::has_uncertainty() const { return impl->uncertainty; }

std::string StudentEvaluator::choose_kernel(const std::string &file, const StudentOptions &opts)
{
  if (opts.kernel != "auto" && opts.kernel != "native" && opts.kernel != "torch")
    return "unknown kernel '" + opts.kernel + "'; use auto, native or torch";
  if (opts.gemm != "auto" && opts.gemm != "blas" && opts.gemm != "packed")
    return "unknown gemm '" + opts.gemm + "'; use auto, blas or packed";
  impl->not_tabulated = missing_tabulated_attribute(impl->module);
  bool tabulated = impl->not_tabulated.empty();
  if (opts.kernel == "native" && !tabulated) {
    std::string all;
    for (const auto &name : tabulated_attributes()) all += (all.empty() ? "" : ", ") + name;
    return "kernel native needs a tabulated student, and '" + file + "' has no '" +
        impl->not_tabulated + "' (a tabulated student has all of: " + all + "); export a local "
        "student with 'pair-student export' (tables are on by default, see --table-points, and "
        "the readout must not be quantized) or use 'kernel torch'";
  }
  if (opts.kernel == "native" && !impl->device.is_cpu())
    return "kernel native runs on the CPU only; use 'kernel torch' (or auto) with device cuda";
  if (tabulated && impl->device.is_cpu() && opts.kernel != "torch") {
    impl->native = std::make_unique<NativeKernel>();
    return load_native_kernel(impl->module, impl->dtype, opts.gemm, *impl->native);
  }
  return "";
}

std::string StudentEvaluator::describe() const
{
  std::ostringstream out;
  out << "elements";
  for (const auto &e : meta.elements) out << ' ' << e;
  out << ", cutoff " << meta.cutoff << " A, " << meta.num_layers << " layer(s), " << meta.dtype
      << " on " << impl->device.str() << ", ";
  if (impl->native) out << "native kernel, " << impl->native->gemm_name() << " gemm";
  else if (!impl->not_tabulated.empty())
    out << "libtorch autograd (not tabulated: no '" << impl->not_tabulated << "')";
  else out << "libtorch autograd";
  return out.str();
}

std::string StudentEvaluator::evaluate(const std::vector<int64_t> &species,
                                   const std::vector<int64_t> &edges,
                                   const std::vector<double> &vectors, int64_t nedges,
                                   int64_t nlocal, std::vector<double> &energy,
                                   std::vector<double> &edge_grad, std::vector<double> *uncertainty)
{
  // the native kernel indexes its tables by species unchecked: one out of range reads past them
  const int64_t num_elements = (int64_t) meta.elements.size();
  for (size_t i = 0; i < species.size(); i++)
    if (species[i] < 0 || species[i] >= num_elements)
      return "atom " + std::to_string(i) + " has species " + std::to_string(species[i]) +
          ", but the model knows " + std::to_string(num_elements) + " element(s); map every "
          "atom type with 'pair_coeff * * <elements>' after 'pair_style student'";
  if (uncertainty && !impl->uncertainty)
    return "the model file carries no uncertainty statistics; re-export it with 'pair-student "
           "export FILE --uncertainty-from DATASET'";
  if (impl->native)
    return impl->native->evaluate(species, edges, vectors, nedges, nlocal, energy, edge_grad, uncertainty);
  return evaluate_torch(species, edges, vectors, nedges, nlocal, energy, edge_grad, uncertainty);
}

// The module's own atom_uncertainty on the inputs of forward(): forward() hands back no features
// to reuse, so 'kernel torch' pays a second pass through the moments and the readout for it.
static std::string torch_uncertainty(torch::jit::Module &module, std::vector<torch::jit::IValue> &inputs,
                                     int64_t nlocal, std::vector<double> &uncertainty)
{
  torch::Tensor u;
  try {
    torch::NoGradGuard no_grad;
    u = module.get_method("atom_uncertainty")(inputs).toTensor().to(torch::kCPU, torch::kFloat64).contiguous();
  } catch (const c10::Error &e) {
    return std::string("the model's atom_uncertainty failed: ") + e.what_without_backtrace();
  }
  if (u.numel() != nlocal)
    return "the model's atom_uncertainty returned " + std::to_string(u.numel()) + " values for " +
        std::to_string(nlocal) + " local atoms; re-export it with 'pair-student export'";
  uncertainty.assign(u.data_ptr<double>(), u.data_ptr<double>() + nlocal);
  return "";
}

std::string StudentEvaluator::evaluate_torch(const std::vector<int64_t> &species,
                                         const std::vector<int64_t> &edges,
                                         const std::vector<double> &vectors, int64_t nedges,
                                         int64_t nlocal, std::vector<double> &energy,
                                         std::vector<double> &edge_grad,
                                         std::vector<double> *uncertainty)
{
  // from_blob wraps the host buffers without copying; .to() copies only across devices/dtypes
  auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  auto *spec = const_cast<int64_t *>(species.data());
  auto *edge = const_cast<int64_t *>(edges.data());
  auto *vec = const_cast<double *>(vectors.data());
  torch::Tensor t_species = torch::from_blob(spec, {(int64_t) species.size()}, i64);
  torch::Tensor t_edges = torch::from_blob(edge, {2, nedges}, i64);
  torch::Tensor t_vectors = torch::from_blob(vec, {nedges, 3}, f64);

  std::vector<torch::jit::IValue> inputs = {
      t_species.to(impl->device), t_edges.to(impl->device),
      t_vectors.to(impl->device, impl->dtype), torch::jit::IValue(nlocal)};
  torch::Tensor t_energy, t_grad;
  try {
    auto out = impl->module.forward(inputs).toTuple();
    t_energy = out->elements()[0].toTensor().to(torch::kCPU, torch::kFloat64).contiguous();
    t_grad = out->elements()[1].toTensor().to(torch::kCPU, torch::kFloat64).contiguous();
  } catch (const c10::Error &e) {
    return std::string("the model failed: ") + e.what_without_backtrace();
  }
  if (t_energy.numel() != nlocal || t_grad.numel() != 3 * nedges)
    return "the model returned " + std::to_string(t_energy.numel()) + " energies and " +
        std::to_string(t_grad.numel() / 3) + " edge gradients for " + std::to_string(nlocal) +
        " local atoms and " + std::to_string(nedges) + " edges; it breaks the student contract";
  energy.assign(t_energy.data_ptr<double>(), t_energy.data_ptr<double>() + nlocal);
  edge_grad.assign(t_grad.data_ptr<double>(), t_grad.data_ptr<double>() + 3 * nedges);
  return uncertainty ? torch_uncertainty(impl->module, inputs, nlocal, *uncertainty) : "";
}
