/* -*- c++ -*- -------------------------------------------------------------
   What makes a TorchScript student tabulated, and its one-time conversion to
   the plain arrays of the native kernel (student_native.h). The torch side
   of the native kernel: the kernel itself never sees a tensor.
------------------------------------------------------------------------- */

#ifndef LMP_STUDENT_NATIVE_LOAD_H
#define LMP_STUDENT_NATIVE_LOAD_H

#include "student_native.h"

#include <torch/script.h>

#include <string>
#include <vector>

namespace LAMMPS_NS {

// Every attribute the native kernel reads, "a.b" for attribute b of submodule a: a file is
// tabulated when it has all of them. The same list as TABLE_ATTRIBUTES in
// python/pair_student/models/tabulated.py (tests/runtime/test_tabulated_agreement.py checks it).
const std::vector<std::string> &tabulated_attributes();

// The first of tabulated_attributes() that module lacks, "" when it is tabulated.
std::string missing_tabulated_attribute(const torch::jit::Module &module);

// Copies a tabulated module (already in its run dtype) into the kernel: the tensors are read
// here once, into plain arrays. "" on success, else what is wrong with the file.
std::string load_native_kernel(const torch::jit::Module &module, torch::Dtype dtype,
                               const std::string &gemm, NativeKernel &kernel);

}    // namespace LAMMPS_NS

#endif
