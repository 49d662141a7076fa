/* ----------------------------------------------------------------------
   tensorml: pair_style tensorml (see pair_tensorml.h for the syntax).

   Each step, on each MPI rank:
   1. the system builder (tensorml_system.h) numbers the modelled atoms (types
      not NULL) local first, then the ghosts that appear in an edge, unwraps
      local positions with their image flags (tensorml_images.h guards them)
      and makes the contract's inputs in model units;
   2. the module is called with the outputs this step needs: energy and
      forces (unless properties_only), the virial when LAMMPS tallies it, and
      the position-only global properties (dipole, polarizability) on steps
      where energy is tallied (compute tensorml/props declares peflag, so they
      share the forward pass); everything else a compute asks for (per-atom
      APTs, velocity-dependent dM/dt with the final velocities of the step) is
      evaluated when the compute is invoked, in a second call (evaluate_now);
   3. the pair tallies energy, forces and virial; the output store
      (tensorml_outputs.h) converts the properties to LAMMPS units through the
      metadata dimensions, sums globals over ranks and adds derivatives on
      ghost atoms (forces with newton off, APTs) onto their owners by reverse
      communication; compute tensorml/props reads its values.
   The pair style knows no physics: every output is handled by its metadata.
------------------------------------------------------------------------- */

#include "pair_tensorml.h"

#include "tensorml_allocator.h"
#include "tensorml_model.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "modify.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

#include <ATen/Parallel.h>
#include <mpi.h>
#include <torch/cuda.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

using namespace LAMMPS_NS;

// Boltzmann constant of LAMMPS "metal" units in eV/K: force->boltz / BOLTZ_METAL
// is one eV in the native energy unit, with the constants LAMMPS itself uses.
static constexpr double BOLTZ_METAL = 8.617343e-5;
static constexpr int CENTROID_NOTAVAIL_FLAG = 2;    // LAMMPS' CENTROID_NOTAVAIL

/* ---------------------------------------------------------------------- */

PairTensorML::PairTensorML(LAMMPS *lmp) : Pair(lmp), builder_(std::make_unique<TensorML::SystemBuilder>(lmp))
{
  single_enable = 0;
  restartinfo = 1;
  comm_forward = 3;    // velocities of ghost atoms, for dM/dt
  one_coeff = 1;
  manybody_flag = 1;
  no_virial_fdotr_compute = 1;
  centroidstressflag = CENTROID_NOTAVAIL_FLAG;
  device_ = "auto";
  allocator_ = TensorML::keep_freed_memory();
}

PairTensorML::~PairTensorML()
{
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
    memory->destroy(cutghost);
  }
}

/* ---------------------------------------------------------------------- */

void PairTensorML::allocate()
{
  allocated = 1;
  int n = atom->ntypes + 1;
  memory->create(setflag, n, n, "pair:setflag");
  memory->create(cutsq, n, n, "pair:cutsq");
  memory->create(cutghost, n, n, "pair:cutghost");
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) setflag[i][j] = 0;
  type_z_.assign(n, -1);
}

/* ----------------------------------------------------------------------
   pair_style tensorml model.pt [device D] [dtype T] [properties_only yes/no] [efield Ex Ey Ez]
------------------------------------------------------------------------- */

void PairTensorML::settings(int narg, char **arg)
{
  if (narg < 1) utils::missing_cmd_args(FLERR, "pair_style tensorml", error);
  model_path_ = arg[0];
  int iarg = 1;
  while (iarg < narg) {
    std::string key = arg[iarg];
    if (key == "device") {
      if (iarg + 2 > narg) utils::missing_cmd_args(FLERR, "pair_style tensorml device", error);
      device_ = arg[iarg + 1];
      iarg += 2;
    } else if (key == "dtype") {
      if (iarg + 2 > narg) utils::missing_cmd_args(FLERR, "pair_style tensorml dtype", error);
      dtype_ = arg[iarg + 1];
      if (dtype_ != "float32" && dtype_ != "float64")
        error->all(FLERR, "pair_style tensorml: dtype must be float32 or float64, not {}", dtype_);
      iarg += 2;
    } else if (key == "properties_only") {
      if (iarg + 2 > narg) utils::missing_cmd_args(FLERR, "pair_style tensorml properties_only", error);
      properties_only_ = utils::logical(FLERR, arg[iarg + 1], false, lmp) ? 1 : 0;
      iarg += 2;
    } else if (key == "efield") {
      if (iarg + 4 > narg) utils::missing_cmd_args(FLERR, "pair_style tensorml efield", error);
      for (int k = 0; k < 3; ++k) efield_[k] = utils::numeric(FLERR, arg[iarg + 1 + k], false, lmp);
      iarg += 4;
    } else {
      error->all(FLERR, "pair_style tensorml: unknown keyword '{}' (known: device, dtype, properties_only, efield)",
                 key);
    }
  }
  load_model();
}

void PairTensorML::load_model()
{
  std::string device = device_;
  if (device == "auto") {
    device = "cpu";
    if (torch::cuda::is_available()) {
      // one GPU per rank, round robin over the ranks of this node
      MPI_Comm node;
      int local_rank = 0;
      MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, comm->me, MPI_INFO_NULL, &node);
      MPI_Comm_rank(node, &local_rank);
      MPI_Comm_free(&node);
      device = "cuda:" + std::to_string(local_rank % torch::cuda::device_count());
    }
  }
  // one intra-op thread per OpenMP thread LAMMPS was given (OMP_NUM_THREADS, default 1)
  at::set_num_threads(std::max(1, comm->nthreads));
  try {
    model_ = std::make_unique<TensorML::Model>(model_path_, device, dtype_);
  } catch (const std::exception &e) {
    error->all(FLERR, "pair_style tensorml: {}", e.what());
  }
  if (comm->me == 0)
    for (const auto &w : model_->warnings) error->warning(FLERR, "pair tensorml: {}: {}", model_path_, w);
  if (!properties_only_ && !model_->provides("forces"))
    error->all(FLERR,
               "pair_style tensorml: model {} has no energy/forces; use 'properties_only yes' (with "
               "pair_style hybrid/overlay and a force field)",
               model_path_);

  global_props.clear();
  peratom_props.clear();
  std::string skipped;
  for (const auto &name : model_->output_order) {
    const auto &spec = model_->output(name);
    if (name == "energy" || name == "virial" || name == "forces" || name == "atomic_energies") continue;
    // outputs a model forms from a whole system (or derives from one) do not split over domains
    bool whole = spec.reduction == "system" || (!spec.source.empty() && model_->provides(spec.source) &&
                                                model_->output(spec.source).reduction == "system");
    if (whole) {
      skipped += " " + name;
      continue;
    }
    (spec.per_atom ? peratom_props : global_props).push_back(name);
  }
  set_comm_sizes();
  ewaldflag = pppmflag = (model_->electrons.long_range == "gaussian_kspace") ? 1 : 0;
  if (!skipped.empty() && comm->me == 0)
    error->warning(FLERR,
                   "pair tensorml: model outputs{} are defined for whole systems only (not on MPI "
                   "domains with ghost atoms) and are not available in LAMMPS",
                   skipped);
  if (comm->me == 0) {
    std::string species;
    for (const auto &s : model_->species_symbols) species += " " + s;
    utils::logmesg(lmp, "pair tensorml: model {} ({}), species{}, cutoff {} {}, halo {}, dtype {}, device {}\n",
                   model_path_, model_->model_type, species, model_->cutoff, model_->unit_names[0], model_->halo,
                   model_->dtype_name, model_->device.str());
    utils::logmesg(lmp, "pair tensorml: {}\n", allocator_);
  }
}

/* ----------------------------------------------------------------------
   pair_coeff * * El1 El2 ... ElN   (NULL: type not handled by this model)
------------------------------------------------------------------------- */

void PairTensorML::coeff(int narg, char **arg)
{
  if (!allocated) allocate();
  int ntypes = atom->ntypes;
  if (narg != 2 + ntypes)
    error->all(FLERR, "pair_coeff * * for tensorml needs one element per atom type: {} types, {} given", ntypes,
               narg - 2);
  if (strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "pair_coeff for tensorml must be 'pair_coeff * * El1 ... El{}'", ntypes);

  for (int t = 1; t <= ntypes; ++t) {
    std::string el = arg[1 + t];
    if (el == "NULL") {
      type_z_[t] = -1;
      continue;
    }
    int z = TensorML::atomic_number(el);
    if (z < 0) error->all(FLERR, "pair_coeff tensorml: '{}' (type {}) is not an element symbol", el, t);
    bool known = false;
    for (int s : model_->species) known = known || (s == z);
    if (!known) {
      std::string list;
      for (const auto &s : model_->species_symbols) list += " " + s;
      error->all(FLERR, "pair_coeff tensorml: unknown element {} for type {}; the model knows{}", el, t, list);
    }
    type_z_[t] = z;
  }
  int count = 0;
  for (int i = 1; i <= ntypes; i++)
    for (int j = i; j <= ntypes; j++) {
      setflag[i][j] = (type_z_[i] >= 0 && type_z_[j] >= 0) ? 1 : 0;
      count += setflag[i][j];
    }
  if (count == 0) error->all(FLERR, "pair_coeff tensorml: no atom type is mapped to an element");
}

/* ---------------------------------------------------------------------- */

void PairTensorML::init_style()
{
  ride_along_.clear();    // the computes register again in their init, which follows
  if (atom->tag_enable == 0) error->all(FLERR, "pair_style tensorml requires atom IDs");
  if (strcmp(update->unit_style, "lj") == 0)
    error->all(FLERR, "pair_style tensorml cannot run in 'units lj': the model has physical units ({}, {}, {})",
               model_->unit_names[0], model_->unit_names[1], model_->unit_names[2]);

  if (model_->electrons.enabled) {
    bool mapped = false;
    for (int t = 1; t <= atom->ntypes; ++t)
      mapped = mapped || (type_z_[t] >= 0 && model_->electrons.relaxed(type_z_[t]));
    if (!mapped)
      error->all(FLERR,
                 "pair tensorml: {} is an explicit-electron model: map the type of its electron pairs to X "
                 "(e.g. 'pair_coeff * * O H X')",
                 model_path_);
    if (modify->get_fix_by_style("^tensorml/relax").empty())
      error->all(FLERR,
                 "pair tensorml: the explicit-electron model {} needs 'fix ID PAIRS tensorml/relax' on its electron "
                 "pairs: unrelaxed pairs give wrong forces on the cores",
                 model_path_);
    if (properties_only_)
      error->all(FLERR, "pair tensorml: properties_only does not apply to an explicit-electron model");
  }

  // one model unit of length, energy, charge expressed in the LAMMPS units of this run
  double ev = force->boltz / BOLTZ_METAL;
  units_.base[TensorML::LENGTH] = model_->unit_factor[TensorML::LENGTH] * force->angstrom;
  units_.base[TensorML::ENERGY] = model_->unit_factor[TensorML::ENERGY] * ev;
  units_.base[TensorML::CHARGE] = model_->unit_factor[TensorML::CHARGE] * force->qelectron;
  units_.base[TensorML::TIME] = model_->unit_factor[TensorML::TIME] * force->femtosecond;
  cut_lmp_ = model_->cutoff * units_.base[TensorML::LENGTH];
  halo_lmp_ = model_->halo * units_.base[TensorML::LENGTH];

  int flags = NeighConst::REQ_FULL;
  if (halo_lmp_ > cut_lmp_ * (1.0 + 1e-12)) {
    // message passing: ghosts need neighbours of their own, and the ghost shell must cover the halo
    flags |= NeighConst::REQ_GHOST;
    ghostneigh = 1;
    comm->cutghostuser = MAX(comm->cutghostuser, halo_lmp_ + neighbor->skin);
  }
  neighbor->add_request(this, flags);

  set_comm_sizes();
}

// Reverse communication carries forces (newton_pair off) and every per-atom "sum" output. The
// sizes must be known when pair_style is read: pair_style hybrid sizes the Comm buffers from its
// substyles' comm_reverse right after their settings(), before any init_style().
void PairTensorML::set_comm_sizes()
{
  int size = 3;
  for (const auto &name : peratom_props)
    if (model_->output(name).ghost == "sum") size += (int) model_->output(name).size;
  comm_reverse = comm_reverse_off = size;
}

// Bonded (special) pairs must stay in the neighbour list: a learned model sees every neighbour.
void PairTensorML::setup()
{
  store_.forget();    // values cached in an earlier run (same timestep, other atoms) are stale
  const double ghost = comm->get_comm_cutoff();
  if (ghost < halo_lmp_)
    error->all(FLERR,
               "pair tensorml: the ghost cutoff {} is shorter than the model's halo {}; raise it "
               "with comm_modify cutoff",
               ghost, halo_lmp_);
  if (atom->molecular == Atom::ATOMIC) return;
  for (int k = 1; k <= 3; ++k)
    if (neighbor->special_flag[k] == 0)
      error->all(FLERR,
                 "pair tensorml: special_bonds removes 1-{} pairs from the neighbour list, but the model needs "
                 "every neighbour. Alone: 'special_bonds lj/coul 1.0 1.0 1.0'. Under hybrid/overlay with a "
                 "classical force field: a kspace style keeps them, or use 'special_bonds lj/coul 1.0e-50 "
                 "1.0e-50 1.0e-50' (bonded pairs stay listed, the classical style still excludes them)",
                 k + 1);
}

double PairTensorML::init_one(int i, int j)
{
  if (setflag[i][j] == 0) error->all(FLERR, "pair tensorml: all pair coeffs are not set");
  cutghost[i][j] = cutghost[j][i] = cut_lmp_;
  return cut_lmp_;
}

void PairTensorML::check_image_flags()
{
  std::vector<bool> modelled(atom->nlocal);
  for (int i = 0; i < atom->nlocal; ++i) modelled[i] = type_z_[atom->type[i]] >= 0;
  const std::string problem = images_.check(atom->nlocal, atom->tag, atom->image, modelled, update->ntimestep);
  if (!problem.empty()) error->one(FLERR, "pair tensorml: {}", problem);
}

/* ---------------------------------------------------------------------- */

void PairTensorML::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);
  if (vflag_atom)
    error->all(FLERR, "pair tensorml does not compute per-atom virials (compute stress/atom, centroid/stress/atom)");
  check_image_flags();

  std::vector<std::string> requested;
  if (!properties_only_) {
    requested = {"energy", "forces"};
    if (vflag_global || relax_virial_) requested.push_back("virial");
    if (eflag_atom && model_->provides("atomic_energies")) requested.push_back("atomic_energies");
  }
  // the position-only global properties some compute reports ride along with the energy: LAMMPS
  // tallies it on the steps where a compute with peflag (tensorml/props, pe, thermo) needs it
  // (inside fix tensorml/relax's loop, on such steps too, so that the step's own call can reuse the
  // last); not in a minimisation, whose every iteration tallies: a compute invoked there asks itself
  const bool tally_step = eflag_global || (relaxing_ && update->eflag_global == update->ntimestep);
  if (tally_step && update->whichflag != 2)
    for (const auto &p : ride_along_)
      if (!needs_velocities(p)) requested.push_back(p);
  if (!requested.empty()) evaluate(requested);
}

void PairTensorML::relaxing(bool on, bool with_virial)
{
  relaxing_ = on;
  relax_virial_ = on && with_virial;
  if (on) reuse_ = false;
}

void PairTensorML::report_on_tally_steps(const std::vector<std::string> &names)
{
  for (const auto &name : names)
    if (std::find(ride_along_.begin(), ride_along_.end(), name) == ride_along_.end()) ride_along_.push_back(name);
}

bool PairTensorML::needs_velocities(const std::string &name) const
{
  const auto &needs = model_->output(name).needs;
  return std::find(needs.begin(), needs.end(), "velocities") != needs.end();
}

bool PairTensorML::current(const std::string &name) const
{
  return store_.current(name, update->ntimestep);
}

void PairTensorML::evaluate_now(const std::vector<std::string> &names)
{
  if (update->whichflag == 0)
    error->all(FLERR, "pair tensorml: properties are evaluated during runs only; use compute tensorml/props in "
                      "thermo, a fix or a dump defined before 'run' (e.g. 'run 0')");
  if (!names.empty()) evaluate(names);
}

void PairTensorML::evaluate(const std::vector<std::string> &requested)
{
  const bool forces = std::find(requested.begin(), requested.end(), "forces") != requested.end();
  bool velocities = false;
  for (const auto &r : requested) velocities = velocities || needs_velocities(r);
  // ghost atoms need their owners' velocities: a rank's dM/dt sums APT_j v_j over its ghosts too
  if (velocities) comm->forward_comm(this);
  TensorML::AtomSystem system;
  std::map<std::string, torch::Tensor> out;
  bool cached = reuse_;
  for (const auto &r : requested) cached = cached && cache_.count(r) > 0;
  reuse_ = false;
  if (cached) {
    // the relaxation's last call was at these very positions (fix tensorml/relax)
    system = std::move(cached_system_);
    out = std::move(cache_);
  } else {
    system = builder_->build(list, ghostneigh, type_z_, cut_lmp_, model_->min_distance * units_.base[TensorML::LENGTH]);
    try {
      out = model_->evaluate(builder_->inputs(system, *model_, units_, efield_, velocities), requested);
    } catch (const std::exception &e) {
      error->one(FLERR, "pair tensorml, step {}: {}", update->ntimestep, e.what());
    }
    ++model_calls;
  }
  cache_.clear();
  if (relaxing_) {
    cache_ = out;
    cached_system_ = system;
  }
  // with newton off, forces on ghosts travel in the first three slots of the reverse buffer
  const int lead = (force->newton_pair || !forces) ? 0 : 3;
  store_.store(*model_, units_, out, requested, system, lead, update->ntimestep, world);
  if (forces) tally(out, system, requested, lead > 0);
  if (store_.revsize > comm_reverse)
    error->one(FLERR,
               "pair tensorml: internal error: reverse communication of {} values per atom exceeds the "
               "declared {}",
               store_.revsize, comm_reverse);
  if (store_.revsize == 0) return;
  comm->reverse_comm(this, store_.revsize);
  if (lead > 0)
    for (int i = 0; i < atom->nlocal; ++i)
      for (int d = 0; d < 3; ++d) atom->f[i][d] += store_.slot(i)[d];
  store_.finish_reverse(*model_, atom->nlocal, update->ntimestep);
}

void PairTensorML::tally(const std::map<std::string, torch::Tensor> &out, const TensorML::AtomSystem &system,
                         const std::vector<std::string> &requested, bool ghost_forces_in_buffer)
{
  auto wants = [&](const std::string &name) {
    return std::find(requested.begin(), requested.end(), name) != requested.end();
  };
  const double ef = units_.base[TensorML::ENERGY];
  if (eflag_global) eng_vdwl += out.at("energy").item<double>() * ef;
  const double ff = units_.to_lammps(model_->output("forces").dimension);
  const double *fm = out.at("forces").data_ptr<double>();
  double **f = atom->f;
  for (int64_t k = 0; k < system.size(); ++k) {
    const int i = system.lammps_index[k];
    double *dest = (ghost_forces_in_buffer && i >= atom->nlocal) ? store_.slot(i) : f[i];
    for (int d = 0; d < 3; ++d) dest[d] += ff * fm[3 * k + d];
  }
  if (wants("virial")) {
    const double *w = out.at("virial").data_ptr<double>();    // [3][3], -dE/d(strain)
    virial[0] += w[0] * ef;
    virial[1] += w[4] * ef;
    virial[2] += w[8] * ef;
    virial[3] += 0.5 * (w[1] + w[3]) * ef;
    virial[4] += 0.5 * (w[2] + w[6]) * ef;
    virial[5] += 0.5 * (w[5] + w[7]) * ef;
  }
  if (wants("atomic_energies")) {
    const double *ea = out.at("atomic_energies").data_ptr<double>();
    for (int64_t k = 0; k < system.n_local; ++k) eatom[system.lammps_index[k]] += ea[k] * ef;
  }
}

/* ----------------------------------------------------------------------
   restart: the pair style writes its settings and the element of each type,
   so read_restart needs no pair_style / pair_coeff
------------------------------------------------------------------------- */

void PairTensorML::write_restart(FILE *fp)
{
  write_restart_settings(fp);
  for (int t = 1; t <= atom->ntypes; ++t) fwrite(&type_z_[t], sizeof(int), 1, fp);
}

void PairTensorML::read_restart(FILE *fp)
{
  read_restart_settings(fp);
  allocate();
  if (comm->me == 0)
    for (int t = 1; t <= atom->ntypes; ++t) utils::sfread(FLERR, &type_z_[t], sizeof(int), 1, fp, nullptr, error);
  MPI_Bcast(type_z_.data(), atom->ntypes + 1, MPI_INT, 0, world);
  for (int i = 1; i <= atom->ntypes; i++)
    for (int j = i; j <= atom->ntypes; j++) setflag[i][j] = (type_z_[i] >= 0 && type_z_[j] >= 0) ? 1 : 0;
}

static void write_string(const std::string &s, FILE *fp)
{
  int n = (int) s.size();
  fwrite(&n, sizeof(int), 1, fp);
  fwrite(s.data(), 1, n, fp);
}

void PairTensorML::write_restart_settings(FILE *fp)
{
  write_string(model_path_, fp);
  write_string(device_, fp);
  write_string(dtype_, fp);
  fwrite(&properties_only_, sizeof(int), 1, fp);
  fwrite(efield_, sizeof(double), 3, fp);
}

void PairTensorML::read_restart_settings(FILE *fp)
{
  std::string *fields[3] = {&model_path_, &device_, &dtype_};
  for (auto *field : fields) {
    int n = 0;
    if (comm->me == 0) utils::sfread(FLERR, &n, sizeof(int), 1, fp, nullptr, error);
    MPI_Bcast(&n, 1, MPI_INT, 0, world);
    std::vector<char> buf(n + 1, '\0');
    if (comm->me == 0 && n > 0) utils::sfread(FLERR, buf.data(), 1, n, fp, nullptr, error);
    MPI_Bcast(buf.data(), n, MPI_CHAR, 0, world);
    *field = std::string(buf.data(), n);
  }
  if (comm->me == 0) {
    utils::sfread(FLERR, &properties_only_, sizeof(int), 1, fp, nullptr, error);
    utils::sfread(FLERR, efield_, sizeof(double), 3, fp, nullptr, error);
  }
  MPI_Bcast(&properties_only_, 1, MPI_INT, 0, world);
  MPI_Bcast(efield_, 3, MPI_DOUBLE, 0, world);
  load_model();
}

/* ---------------------------------------------------------------------- */

int PairTensorML::pack_forward_comm(int n, int *list_, double *buf, int /*pbc_flag*/, int * /*pbc*/)
{
  double **v = atom->v;
  int m = 0;
  for (int k = 0; k < n; ++k) {
    const int j = list_[k];
    buf[m++] = v[j][0];
    buf[m++] = v[j][1];
    buf[m++] = v[j][2];
  }
  return m;
}

void PairTensorML::unpack_forward_comm(int n, int first, double *buf)
{
  double **v = atom->v;
  int m = 0;
  for (int i = first; i < first + n; ++i) {
    v[i][0] = buf[m++];
    v[i][1] = buf[m++];
    v[i][2] = buf[m++];
  }
}

/* ---------------------------------------------------------------------- */

int PairTensorML::pack_reverse_comm(int n, int first, double *buf)
{
  return store_.pack_reverse(n, first, buf);
}

void PairTensorML::unpack_reverse_comm(int n, int *list_, double *buf)
{
  store_.unpack_reverse(n, list_, buf);
}

// kspace styles ask the pair for its Coulomb cutoff; a gaussian_kspace eMLP is their real-space partner
// (its real-space part, erfc(gamma r)/r, is exactly what the Gaussian charges lack, so it computes none)
void *PairTensorML::extract(const char *name, int &dim)
{
  dim = 0;
  if (model_ && model_->electrons.long_range == "gaussian_kspace" && strcmp(name, "cut_coul") == 0)
    return (void *) &cut_lmp_;
  return nullptr;
}

double PairTensorML::memory_usage()
{
  double bytes = Pair::memory_usage();
  bytes += (double) store_.revbuf.capacity() * sizeof(double);
  for (const auto &kv : store_.values) bytes += (double) kv.second.capacity() * sizeof(double);
  return bytes;
}
