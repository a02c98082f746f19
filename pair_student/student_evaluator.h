/* -*- c++ -*- -------------------------------------------------------------
   The torch side of pair_style student: load a contract-following TorchScript
   file with its metadata, and evaluate it on a graph held in host buffers.
------------------------------------------------------------------------- */

#ifndef LMP_STUDENT_EVALUATOR_H
#define LMP_STUDENT_EVALUATOR_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace LAMMPS_NS {

struct StudentMetadata {
  int contract_version = 0;
  std::vector<std::string> elements;
  double cutoff = 0.0;
  int num_layers = 1;
  std::string units, dtype;
};

struct StudentOptions {
  std::string device = "cpu";    // cpu | cuda | auto
  std::string dtype;             // float32 | float64 | "" = as stored in the file
  std::string kernel = "auto";    // auto | native | torch (native: tabulated files, CPU)
  std::string gemm = "auto";      // auto | blas | packed: the native kernel's readout products
  int threads = 1;
  int local_rank = 0;            // rank on this node, picks the GPU
};

class StudentEvaluator {
 public:
  // Returns an empty string on success, else a message naming the problem and the fix.
  std::string load(const std::string &file, const StudentOptions &opts);
  const StudentMetadata &metadata() const { return meta; }
  std::string describe() const;

  // Whether the file carries the statistics of the per-atom uncertainty (exported with a dataset).
  bool has_uncertainty() const;

  // Evaluates the model; energy (nlocal) and edge_grad (3*nedges) are written as doubles, and,
  // when uncertainty is given, each local atom's uncertainty (nlocal, eV/A).
  // species: one per atom (local and ghost), each an index into metadata().elements.
  std::string evaluate(const std::vector<int64_t> &species, const std::vector<int64_t> &edges,
                       const std::vector<double> &vectors, int64_t nedges, int64_t nlocal,
                       std::vector<double> &energy, std::vector<double> &edge_grad,
                       std::vector<double> *uncertainty = nullptr);

  StudentEvaluator();
  ~StudentEvaluator();
  // Moved, never copied: the module, the native kernel's tables and its step buffers belong to
  // one pair style.
  StudentEvaluator(const StudentEvaluator &) = delete;
  StudentEvaluator &operator=(const StudentEvaluator &) = delete;
  StudentEvaluator(StudentEvaluator &&) noexcept;
  StudentEvaluator &operator=(StudentEvaluator &&) noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl;
  StudentMetadata meta;

  std::string choose_kernel(const std::string &file, const StudentOptions &opts);
  std::string evaluate_torch(const std::vector<int64_t> &species, const std::vector<int64_t> &edges,
                             const std::vector<double> &vectors, int64_t nedges, int64_t nlocal,
                             std::vector<double> &energy, std::vector<double> &edge_grad,
                             std::vector<double> *uncertainty);
};

}    // namespace LAMMPS_NS

#endif
