/* -------------------------------------------------------------------------
   pair_style student FILE [device cpu|cuda|auto] [dtype float32|float64]
                           [kernel auto|native|torch] [gemm auto|blas|packed]
                           [threads N] [debug yes|no] [uncertainty yes|no] [every N]
   pair_coeff * * El1 El2 ...   (one element per type, NULL for types the model skips)

   uncertainty yes: each atom's expected force error (eV/A) from a file exported with
   --uncertainty-from, computed on steps that are multiples of N (every, default 1) and on the
   steps 'fix ID all pair M student uncertainty 1' asks for; that fix holds it per atom (f_ID),
   'compute ID all pair student' its maximum and mean over all atoms (c_ID[1], c_ID[2]; compute
   pair calls them extensive, so thermo output wants 'thermo_modify norm no', metal's default).

   Every pair_style student command forgets the type map: the next model may
   know other elements, so a pair_coeff must follow it.

   Builds the contract's graph (species, edges over local+ghost atoms, edge
   vectors), runs the model, and turns dE/d(edge vector) into forces on both ends
   of each edge and into the virial. Ghost forces go home by reverse comm.
------------------------------------------------------------------------- */

#include "pair_student.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "platform.h"
#include "update.h"
#include "utils.h"

#include "student_evaluator.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

using namespace LAMMPS_NS;

PairStudent::PairStudent(LAMMPS *lmp) :
    Pair(lmp), cutoff(0.0), num_layers(1), debug_edges(0), debug_file(nullptr), types_mapped(false),
    uncertainty_on(0), uncertainty_every(1), uncertainty_flag(0), uncertainty_nmax(0),
    uncertainty(nullptr), time_model(0.0), time_total(0.0), ncalls(0)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  no_virial_fdotr_compute = 1;    // the virial comes from the edges, exactly as in Python
  // the uncertainty's maximum and mean; allocated once, since a compute pair made while
  // 'uncertainty yes' keeps reading them after a re-issued pair_style turns it off
  pvector = new double[2]();
}

PairStudent::~PairStudent()
{
  if (debug_file) fclose(debug_file);
  delete[] pvector;
  memory->destroy(uncertainty);
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairStudent::allocate()
{
  allocated = 1;
  int n = atom->ntypes + 1;
  memory->create(setflag, n, n, "pair:setflag");
  memory->create(cutsq, n, n, "pair:cutsq");
  type2species.assign(n, -1);
}

void PairStudent::settings(int narg, char **arg)
{
  if (narg < 1) error->all(FLERR, "Illegal pair_style student command: expected a model file");
  model_file = arg[0];
  StudentOptions opts;
  read_options(narg, arg, opts);
  if (!platform::file_is_readable(model_file))
    error->all(FLERR, "pair_style student: cannot open model file '{}'; check the path "
               "(pair-student models lists the shipped students)", model_file);
  // A re-issued pair_style keeps this object, and with it the species indices of the previous
  // model: indices past the new model's tables would be read unchecked, so the map goes and
  // init_style() insists on a new pair_coeff.
  types_mapped = false;
  std::fill(type2species.begin(), type2species.end(), -1);
  if (!debug_edges && debug_file) {
    fclose(debug_file);
    debug_file = nullptr;
  }
  load_model(opts);
}

void PairStudent::read_options(int narg, char **arg, StudentOptions &opts)
{
  debug_edges = 0;
  uncertainty_on = 0;
  uncertainty_every = 1;
  for (int iarg = 1; iarg < narg; iarg += 2) {
    if (iarg + 1 >= narg)
      error->all(FLERR, "pair_style student: keyword {} needs a value", arg[iarg]);
    std::string key = arg[iarg], value = arg[iarg + 1];
    if (key == "device") opts.device = value;
    else if (key == "dtype") opts.dtype = value;
    else if (key == "kernel") opts.kernel = value;
    else if (key == "gemm") opts.gemm = value;
    else if (key == "threads") opts.threads = utils::inumeric(FLERR, value, false, lmp);
    else if (key == "debug") debug_edges = utils::logical(FLERR, value, false, lmp);
    else if (key == "uncertainty") uncertainty_on = utils::logical(FLERR, value, false, lmp);
    else if (key == "every") uncertainty_every = utils::inumeric(FLERR, value, false, lmp);
    else
      error->all(FLERR, "pair_style student: unknown keyword '{}'; known: device, dtype, kernel, "
                 "gemm, threads, debug, uncertainty, every", key);
  }
  if (opts.threads < 1)
    error->all(FLERR, "pair_style student: threads must be >= 1, got {}", opts.threads);
  if (uncertainty_every < 1)
    error->all(FLERR, "pair_style student: every must be >= 1 (the uncertainty is computed on "
               "steps that are multiples of it), got {}", uncertainty_every);
  // compute pair makes a global vector of these only when there is one to read
  nextra = uncertainty_on ? 2 : 0;
}

void PairStudent::load_model(const StudentOptions &options)
{
  StudentOptions opts = options;
  MPI_Comm node;    // ranks sharing a node share its GPUs round-robin
  MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, comm->me, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &opts.local_rank);
  MPI_Comm_free(&node);

  model = std::make_unique<StudentEvaluator>();
  std::string problem = model->load(model_file, opts);
  if (!problem.empty()) error->all(FLERR, "pair_style student: {}", problem);
  const StudentMetadata &meta = model->metadata();
  cutoff = meta.cutoff;
  num_layers = meta.num_layers;
  if (comm->me == 0)
    utils::logmesg(lmp, "pair_style student: {} ({})\n", model_file, model->describe());
  if (uncertainty_on && !model->has_uncertainty())
    error->all(FLERR, "pair_style student: 'uncertainty yes' but {} carries no uncertainty "
               "statistics; re-export it with 'pair-student export FILE --uncertainty-from "
               "DATASET' (the dataset it was trained on) or use 'uncertainty no'", model_file);
  if (uncertainty_on && comm->me == 0)
    utils::logmesg(lmp, "pair_style student: per-atom uncertainty on, every {} step(s) and when "
                   "fix pair asks (max and mean: compute pair student)\n", uncertainty_every);
}

void PairStudent::coeff(int narg, char **arg)
{
  if (!model) error->all(FLERR, "pair_coeff before pair_style student");
  if (!allocated) allocate();
  const auto &elements = model->metadata().elements;
  int ntypes = atom->ntypes;
  if (narg != 2 + ntypes || strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "pair_coeff for student must be '* *' followed by one element (or NULL) "
               "for each of the {} atom types, got {} words", ntypes, narg);

  for (int i = 1; i <= ntypes; i++) {
    std::string el = arg[1 + i];
    type2species[i] = -1;
    if (el == "NULL") continue;
    for (size_t s = 0; s < elements.size(); s++)
      if (elements[s] == el) type2species[i] = (int) s;
    if (type2species[i] < 0)
      error->all(FLERR, "pair_coeff: element '{}' of type {} is unknown to {}, which knows {}", el,
                 i, model_file, utils::join_words(elements, " "));
  }
  int count = 0;
  for (int i = 1; i <= ntypes; i++)
    for (int j = i; j <= ntypes; j++) {
      setflag[i][j] = (type2species[i] >= 0 && type2species[j] >= 0) ? 1 : 0;
      count += setflag[i][j];
    }
  if (count == 0) error->all(FLERR, "pair_coeff for student maps no atom type to an element");
  types_mapped = true;
}

void PairStudent::init_style()
{
  if (!types_mapped)
    error->all(FLERR, "pair_style student: no pair_coeff since 'pair_style student {}', which "
               "forgets the previous type map; follow it with 'pair_coeff * *' and, per atom type, "
               "one of the model's elements ({}) or NULL", model_file,
               utils::join_words(model->metadata().elements, " "));
  if (atom->tag_enable == 0) error->all(FLERR, "pair_style student requires atom IDs");
  if (force->newton_pair == 0)
    error->all(FLERR, "pair_style student requires 'newton on': its forces on ghost atoms "
               "are sent home by reverse communication");
  if (strcmp(update->unit_style, model->metadata().units.c_str()) != 0)
    error->all(FLERR, "pair_style student: the model is in '{}' units (eV, Angstrom) but the "
               "input uses 'units {}'; use 'units {}'", model->metadata().units,
               update->unit_style, model->metadata().units);

  int flags = NeighConst::REQ_FULL;
  if (num_layers > 1) flags |= NeighConst::REQ_GHOST;
  neighbor->add_request(this, flags);

  // a model with L message-passing layers sees atoms L cutoffs away
  if (num_layers > 1) {
    double needed = num_layers * cutoff + neighbor->skin;
    if (comm->cutghostuser < needed) {
      comm->cutghostuser = needed;
      if (comm->me == 0)
        utils::logmesg(lmp, "pair_style student: {} layers, ghost cutoff raised to {:.4g} A\n",
                       num_layers, needed);
    }
  }
}

double PairStudent::init_one(int i, int j)
{
  if (setflag[i][j] == 0) error->all(FLERR, "All pair coeffs are not set");
  return cutoff;
}

int PairStudent::build_graph(int ncenters)
{
  double **x = atom->x;
  int *type = atom->type;
  int ntotal = atom->nlocal + atom->nghost;
  double cutsq_model = cutoff * cutoff;

  species.resize(ntotal);
  for (int i = 0; i < ntotal; i++) species[i] = std::max(type2species[type[i]], 0);

  edges.clear();
  neighbors.clear();
  vectors.clear();
  for (int ii = 0; ii < ncenters; ii++) {
    int i = list->ilist[ii];
    if (type2species[type[i]] < 0) continue;
    int *jlist = list->firstneigh[i];
    for (int jj = 0; jj < list->numneigh[i]; jj++) {
      int j = jlist[jj] & NEIGHMASK;
      if (type2species[type[j]] < 0) continue;
      double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
      if (dx * dx + dy * dy + dz * dz >= cutsq_model) continue;
      edges.push_back(i);
      neighbors.push_back(j);
      vectors.insert(vectors.end(), {dx, dy, dz});
    }
  }
  edges.insert(edges.end(), neighbors.begin(), neighbors.end());
  return (int) neighbors.size();
}

static double seconds_since(std::chrono::steady_clock::time_point start)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void PairStudent::compute(int eflag, int vflag)
{
  auto start = std::chrono::steady_clock::now();
  ev_init(eflag, vflag);
  const bool with_uncertainty = uncertainty_wanted();
  int nlocal = atom->nlocal;
  if (nlocal == 0) {    // an empty domain contributes nothing, but joins the uncertainty's reduction
    if (with_uncertainty) publish_uncertainty(0);
    return;
  }

  int ncenters = list->inum + (num_layers > 1 ? list->gnum : 0);
  int nedges = build_graph(ncenters);
  if (debug_edges) write_edges(nedges);

  auto start_model = std::chrono::steady_clock::now();
  std::string problem = model->evaluate(species, edges, vectors, nedges, nlocal, energy, grad,
                                        with_uncertainty ? &atom_uncertainty : nullptr);
  if (!problem.empty()) error->one(FLERR, "pair_style student: {}", problem);
  time_model += seconds_since(start_model);

  tally_energies(nlocal);
  scatter_forces(nedges);
  if (with_uncertainty) publish_uncertainty(nlocal);
  time_total += seconds_since(start);
  ncalls++;
}

// Every rank decides alike (the step and fix pair's flag are the same everywhere): the reduction
// in publish_uncertainty() needs them all.
bool PairStudent::uncertainty_wanted() const
{
  return uncertainty_on && (update->ntimestep % uncertainty_every == 0 || uncertainty_flag);
}

void PairStudent::grow_uncertainty()
{
  if (atom->nmax <= uncertainty_nmax && uncertainty) return;
  uncertainty_nmax = std::max(atom->nmax, 1);
  memory->grow(uncertainty, uncertainty_nmax, "pair:uncertainty");
}

// The model's per-atom values into the array fix pair reads (0 for atoms of NULL types, which the
// model skips), and their maximum and mean over all ranks into pvector. compute pair sums
// pvector over the ranks, so rank 0 alone holds the global values and the others hold 0.
void PairStudent::publish_uncertainty(int nlocal)
{
  grow_uncertainty();
  const int *type = atom->type;
  double local[2] = {0.0, 0.0}, global[2], largest = 0.0, all_largest;
  for (int i = 0; i < nlocal; i++) {
    const bool modelled = type2species[type[i]] >= 0;
    uncertainty[i] = modelled ? atom_uncertainty[i] : 0.0;
    if (!modelled) continue;
    largest = std::max(largest, uncertainty[i]);
    local[0] += uncertainty[i];
    local[1] += 1.0;
  }
  MPI_Allreduce(&largest, &all_largest, 1, MPI_DOUBLE, MPI_MAX, world);
  MPI_Allreduce(local, global, 2, MPI_DOUBLE, MPI_SUM, world);
  const bool mine = comm->me == 0;
  pvector[0] = mine ? all_largest : 0.0;
  pvector[1] = mine && global[1] > 0.0 ? global[0] / global[1] : 0.0;
}

// "uncertainty_flag": what fix pair sets on the steps it reads "uncertainty" (extract_peratom()).
void *PairStudent::extract(const char *name, int &dim)
{
  dim = 0;
  if (uncertainty_on && strcmp(name, "uncertainty_flag") == 0) return (void *) &uncertainty_flag;
  return nullptr;
}

// "uncertainty": one value per atom (ncol 0), as of the last step it was computed on. Only fix
// pair asks for it, so a request while it is off is a user's input to stop on by name (fix pair's
// own error would say only that the pair style "cannot extract" it).
void *PairStudent::extract_peratom(const char *name, int &ncol)
{
  ncol = 0;
  if (strcmp(name, "uncertainty") != 0) return nullptr;
  if (!uncertainty_on)
    error->all(FLERR, "pair_style student: the per-atom 'uncertainty' is asked for (fix pair) but "
               "is off; add 'uncertainty yes' to pair_style student {}", model_file);
  grow_uncertainty();
  return (void *) uncertainty;
}

void PairStudent::tally_energies(int nlocal)
{
  int *type = atom->type;
  for (int i = 0; i < nlocal; i++) {
    if (type2species[type[i]] < 0) continue;
    if (!std::isfinite(energy[i]))
      error->one(FLERR, "pair_style student: energy of atom {} is {}; atoms too close or the "
                 "model is outside its training domain", atom->tag[i], energy[i]);
    if (eflag_global) eng_vdwl += energy[i];
    if (eflag_atom) eatom[i] += energy[i];
  }
  if (!std::isfinite(eng_vdwl))
    error->one(FLERR, "pair_style student: non-finite energy; atoms too close or the model is "
               "outside its training domain");
}

// dE/d(edge vector) onto both ends of each edge, and its virial; ghosts' go home by reverse comm.
void PairStudent::scatter_forces(int nedges)
{
  double **f = atom->f;
  const int64_t *center = edges.data(), *neighbor = edges.data() + nedges;
  for (int e = 0; e < nedges; e++) {
    const double *g = &grad[3 * e], *r = &vectors[3 * e];
    int i = (int) center[e], j = (int) neighbor[e];
    if (!std::isfinite(g[0] + g[1] + g[2]))
      error->one(FLERR, "pair_style student: non-finite force between atoms {} and {}; atoms "
                 "too close or the model is outside its training domain", atom->tag[i],
                 atom->tag[j]);
    for (int k = 0; k < 3; k++) {
      f[i][k] += g[k];
      f[j][k] -= g[k];
    }
    if (vflag_either) {
      // -r (x) g, symmetrized: the total is symmetric for a rotation-invariant model
      double v[6] = {-r[0] * g[0], -r[1] * g[1], -r[2] * g[2],
                     -0.5 * (r[0] * g[1] + r[1] * g[0]), -0.5 * (r[0] * g[2] + r[2] * g[0]),
                     -0.5 * (r[1] * g[2] + r[2] * g[1])};
      if (vflag_global)
        for (int k = 0; k < 6; k++) virial[k] += v[k];
      if (vflag_atom)
        for (int k = 0; k < 6; k++) {
          vatom[i][k] += 0.5 * v[k];
          vatom[j][k] += 0.5 * v[k];
        }
    }
  }
}

// After each run: how much of the pair time is the model itself (rank 0's view).
void PairStudent::finish()
{
  if (comm->me == 0 && ncalls > 0 && time_model > 0.0)
    utils::logmesg(lmp, "pair_style student timing: {} calls, model {:.4g} ms/call, graph build "
                   "and force scatter {:.4g} ms/call ({:.1f}% of the model time)\n", ncalls,
                   1e3 * time_model / ncalls, 1e3 * (time_total - time_model) / ncalls,
                   100.0 * (time_total - time_model) / time_model);
  time_model = time_total = 0.0;
  ncalls = 0;
}

// Appended every step (and flushed, so that a run that stops early leaves its last step) to one
// file per rank, opened at the first step of this pair style.
void PairStudent::write_edges(int nedges)
{
  if (!debug_file) {
    std::string name = "student_edges." + std::to_string(comm->me) + ".dat";
    debug_file = fopen(name.c_str(), "w");
    if (!debug_file)
      error->one(FLERR, "pair_style student: cannot write the edge list {}: {}; use 'debug no' or "
                 "run where the directory is writable", name, utils::getsyserror());
  }
  fprintf(debug_file, "# step %ld: tag_center tag_neighbor dx dy dz\n", (long) update->ntimestep);
  for (int e = 0; e < nedges; e++)
    fprintf(debug_file, "%ld %ld %.17g %.17g %.17g\n", (long) atom->tag[edges[e]],
            (long) atom->tag[edges[nedges + e]], vectors[3 * e], vectors[3 * e + 1],
            vectors[3 * e + 2]);
  fflush(debug_file);
}
