/* -*- c++ -*- -------------------------------------------------------------
   pair_style student: runs a TorchScript student model (pair_student contract v1).
   Torch stays out of this header: the model lives behind StudentEvaluator (student_evaluator.h).
------------------------------------------------------------------------- */

#ifndef LMP_PAIR_STUDENT_H
#define LMP_PAIR_STUDENT_H

#include "pair.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace LAMMPS_NS {

class StudentEvaluator;
struct StudentOptions;

class PairStudent : public Pair {
 public:
  PairStudent(class LAMMPS *);
  ~PairStudent() override;

  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  double init_one(int, int) override;
  void finish() override;
  void *extract(const char *, int &) override;
  void *extract_peratom(const char *, int &) override;

 protected:
  std::unique_ptr<StudentEvaluator> model;
  std::string model_file;
  double cutoff;
  int num_layers;
  int debug_edges;           // 1: append the edge list of every step to student_edges.<rank>.dat
  FILE *debug_file;          // that file, opened at the first step written
  std::vector<int> type2species;    // LAMMPS type -> model species, -1 for NULL
  bool types_mapped;         // pair_coeff has mapped the types to the current model's elements

  // per-atom uncertainty (keywords uncertainty, every): computed on the steps that are multiples
  // of uncertainty_every and on those fix pair asks for through uncertainty_flag
  int uncertainty_on;
  int uncertainty_every;
  int uncertainty_flag;
  int uncertainty_nmax;      // atoms uncertainty has room for
  double *uncertainty;       // (nmax) per atom, as of the last step computed
  std::vector<double> atom_uncertainty;    // (nlocal) model output

  // buffers reused between steps; they only grow
  std::vector<int64_t> species;     // (nlocal + nghost)
  std::vector<int64_t> edges;       // (2 * nedges): centers, then neighbors
  std::vector<int64_t> neighbors;   // (nedges) scratch before it is appended to edges
  std::vector<double> vectors;      // (nedges * 3)
  std::vector<double> energy;       // (nlocal) model output
  std::vector<double> grad;         // (nedges * 3) model output, dE/d(edge vector)

  // wall time of the current run, split into the model call and everything else in compute()
  double time_model, time_total;
  long ncalls;

  void allocate();
  void read_options(int narg, char **arg, StudentOptions &opts);
  void load_model(const StudentOptions &opts);
  int build_graph(int ncenters);
  void write_edges(int nedges);
  void tally_energies(int nlocal);
  void scatter_forces(int nedges);
  bool uncertainty_wanted() const;
  void grow_uncertainty();
  void publish_uncertainty(int nlocal);
};

}    // namespace LAMMPS_NS

#endif
