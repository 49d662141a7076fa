/* ----------------------------------------------------------------------
   tensorml: fix tensorml/relax, electron pairs relaxed every step (see fix_tensorml_relax.h).
------------------------------------------------------------------------- */

#include "fix_tensorml_relax.h"

#include "pair_tensorml.h"
#include "tensorml_lbfgs.h"
#include "tensorml_model.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "kspace.h"
#include "memory.h"
#include "modify.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

using namespace LAMMPS_NS;
using namespace FixConst;

FixTensorMLRelax::FixTensorMLRelax(LAMMPS *lmp, int narg, char **arg) : Fix(lmp, narg, arg)
{
  vector_flag = 1;
  size_vector = 5;
  global_freq = 1;
  extvector = 0;
  for (int iarg = 3; iarg < narg; iarg += 2) {
    if (iarg + 2 > narg) utils::missing_cmd_args(FLERR, std::string("fix tensorml/relax ") + arg[iarg], error);
    const std::string key = arg[iarg];
    const char *value = arg[iarg + 1];
    if (key == "fmax")
      fmax_ = utils::numeric(FLERR, value, false, lmp);
    else if (key == "max_step")
      max_step_ = utils::numeric(FLERR, value, false, lmp);
    else if (key == "max_iterations")
      max_iterations_ = utils::inumeric(FLERR, value, false, lmp);
    else if (key == "collapse")
      collapse_ = utils::numeric(FLERR, value, false, lmp);
    else if (key == "escape")
      escape_ = utils::numeric(FLERR, value, false, lmp);
    else if (key == "memory")
      memory_ = utils::inumeric(FLERR, value, false, lmp);
    else if (key == "alpha")
      alpha_ = utils::numeric(FLERR, value, false, lmp);
    else if (key == "predictor")
      order_ = utils::inumeric(FLERR, value, false, lmp);
    else
      error->all(FLERR,
                 "fix tensorml/relax: unknown keyword '{}' (known: fmax, max_step, max_iterations, collapse, escape, "
                 "memory, alpha, predictor)",
                 key);
  }
  if (order_ < 0 || order_ >= kHistory) error->all(FLERR, "fix tensorml/relax: predictor must be 0, 1, 2 or 3");
  if (memory_ < 1) error->all(FLERR, "fix tensorml/relax: memory must be at least 1");
  restart_global = 1;     // the step and depth of the history
  restart_peratom = 1;    // the history itself, per pair
  grow_arrays(atom->nmax);
  atom->add_callback(Atom::GROW);
  atom->add_callback(Atom::RESTART);
}

FixTensorMLRelax::~FixTensorMLRelax()
{
  lbfgs_.reset();
  if (modify->get_fix_by_id(id)) {
    atom->delete_callback(id, Atom::GROW);
    atom->delete_callback(id, Atom::RESTART);
  }
  memory->destroy(history_);
}

int FixTensorMLRelax::setmask()
{
  return PRE_FORCE;
}

void FixTensorMLRelax::init()
{
  pair_ = dynamic_cast<PairTensorML *>(force->pair_match("^tensorml", 0));
  if (!pair_) error->all(FLERR, "fix tensorml/relax needs pair_style tensorml (alone or in hybrid/overlay)");
  const auto &model = pair_->model();
  const auto &ee = model.electrons;
  if (!ee.enabled)
    error->all(FLERR, "fix tensorml/relax: the model {} has no explicit electrons (a tensorial model)", model.path);
  if (!atom->q_flag) error->all(FLERR, "fix tensorml/relax needs atom charges (atom_style charge or full)");
  if (ee.long_range == "gaussian_kspace") {
    // the Gaussian electrostatics are the reciprocal part of an Ewald sum split at gewald = gamma
    const double gamma = ee.gamma / pair_->unit_scale().base[TensorML::LENGTH];
    if (!domain->xperiodic || !domain->yperiodic || !domain->zperiodic)
      error->all(FLERR,
                 "fix tensorml/relax: the model {} takes its electrostatics from kspace (long range "
                 "gaussian_kspace): the box must be periodic; export with --long-range point_charges for molecules",
                 model.path);
    if (!force->kspace || std::fabs(force->kspace->g_ewald - gamma) > 1e-9 * gamma)
      error->all(FLERR,
                 "fix tensorml/relax: the model {} takes its electrostatics from kspace: use 'kspace_style ewald "
                 "(or pppm) ACCURACY' with 'kspace_modify gewald {:.10g}' (its gamma) and no Coulomb pair style",
                 model.path, gamma);
  }
  const double len = pair_->unit_scale().base[TensorML::LENGTH];
  const double frc = pair_->unit_scale().base[TensorML::ENERGY] / len;
  if (fmax_ < 0) fmax_ = ee.fmax * frc;
  if (max_step_ < 0) max_step_ = ee.max_step * len;
  if (max_iterations_ < 0) max_iterations_ = ee.max_iterations;
  if (collapse_ < 0) collapse_ = ee.collapse_distance * len;
  if (escape_ < 0) escape_ = ee.escape_distance * len;
  if (alpha_ < 0) alpha_ = 50.0 * pair_->unit_scale().base[TensorML::ENERGY] / (len * len);

  // the group is exactly the atoms of the relaxed types, and every charge is the model's
  const double qconv = pair_->unit_scale().base[TensorML::CHARGE];    // model charge -> LAMMPS charge
  int *type = atom->type, *mask = atom->mask;
  double *q = atom->q;
  int bad = 0, badtype = 0;
  double total = 0.0;
  for (int i = 0; i < atom->nlocal; ++i) {
    const int z = pair_->element_of_type(type[i]);
    if (z < 0) continue;
    if (ee.relaxed(z) != ((mask[i] & groupbit) != 0)) bad = std::max(bad, 1);
    const double want = ee.charges.at(z) * qconv;
    if (std::fabs(q[i] - want) > 1e-6 * std::fabs(want) + 1e-12) {
      bad = std::max(bad, 2);
      badtype = type[i];
    }
    total += q[i];
  }
  int anybad = 0;
  MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, world);
  if (anybad == 1)
    error->all(FLERR, "fix tensorml/relax: its group must hold exactly the electron pairs (the atoms of the types "
                      "pair_coeff maps to X)");
  if (anybad == 2) {
    int t = 0;
    MPI_Allreduce(&badtype, &t, 1, MPI_INT, MPI_MAX, world);
    std::string table;
    for (const auto &kv : ee.charges)
      table += fmt::format("{}{}: {:g}", table.empty() ? "" : ", ",
                           kv.first == 0 ? std::string("X") : std::to_string(kv.first), kv.second);
    error->all(FLERR,
               "fix tensorml/relax: atoms of type {} carry a charge other than the model's (by atomic number, in e: "
               "{}); set them (e.g. 'set type {} charge ...') so that kspace and the model agree",
               t, table, t);
  }
  double sum = 0.0;
  MPI_Allreduce(&total, &sum, 1, MPI_DOUBLE, MPI_SUM, world);
  if (force->kspace && std::fabs(sum) > 1e-6)
    error->all(FLERR,
               "fix tensorml/relax: the cores and electron pairs carry a net charge {} (e); with a kspace style the "
               "cell must be neutral (add or remove electron pairs: odd electron counts have no eMLP description)",
               sum / force->qelectron);
}

void FixTensorMLRelax::setup_pre_force(int vflag)
{
  steps_ = 0;
  calls_at_run_ = pair_->model_calls;
  lbfgs_.reset();                               // a new run: atoms may have been added, removed or reordered
  if (force->kspace) force->kspace->setup();    // Verlet sets kspace up only after this call
  relax(vflag);
}

void FixTensorMLRelax::pre_force(int vflag)
{
  relax(vflag);
}

std::vector<int> FixTensorMLRelax::local_pairs() const
{
  std::vector<int> out;
  for (int i = 0; i < atom->nlocal; ++i)
    if (atom->mask[i] & groupbit) out.push_back(i);
  return out;
}

void FixTensorMLRelax::evaluate_forces()
{
  const int nall = atom->nlocal + atom->nghost;
  if (nall > 0) memset(&atom->f[0][0], 0, 3 * sizeof(double) * nall);
  force->pair->compute(0, 0);
  if (force->kspace) force->kspace->compute(0, 0);
  if (force->newton) comm->reverse_comm();
}

double FixTensorMLRelax::largest_force(tagint &worst) const
{
  struct {
    double value;
    int tag;
  } local = {0.0, 0}, global = {0.0, 0};
  double **f = atom->f;
  for (int i : local_pairs()) {
    const double norm = std::sqrt(f[i][0] * f[i][0] + f[i][1] * f[i][1] + f[i][2] * f[i][2]);
    if (norm > local.value) local = {norm, (int) atom->tag[i]};
  }
  MPI_Allreduce(&local, &global, 1, MPI_DOUBLE_INT, MPI_MAXLOC, world);
  worst = global.tag;
  return global.value;
}

void FixTensorMLRelax::relax(int vflag)
{
  calls_at_step_ = pair_->model_calls;
  pair_->relaxing(true, vflag != 0);    // keep each call's outputs, with the virial the step will want
  predict();
  comm->forward_comm();
  const std::vector<int> pairs = local_pairs();
  std::vector<double> start(3 * pairs.size()), x(3 * pairs.size()), g(3 * pairs.size());
  double **xa = atom->x;
  for (size_t p = 0; p < pairs.size(); ++p)
    for (int d = 0; d < 3; ++d) start[3 * p + d] = xa[pairs[p]][d];
  // the inverse-Hessian history stays valid while the local atoms keep their order (no re-neighboring)
  if (!lbfgs_ || neighbor->lastcall == update->ntimestep) {
    lbfgs_ = std::make_unique<TensorML::DistributedLBFGS>(world, memory_, alpha_, max_step_);
  } else {
    lbfgs_->restart_from_history();
  }
  TensorML::DistributedLBFGS &lbfgs = *lbfgs_;
  const double limit = 0.5 * neighbor->skin;
  int iterations = 0;
  tagint worst = 0;
  double fmax = 0.0;
  for (;; ++iterations) {
    evaluate_forces();
    fmax = largest_force(worst);
    if (iterations == 0) stats_[3] = fmax;
    if (fmax < fmax_) break;
    if (iterations >= max_iterations_)
      error->all(
          FLERR,
          "fix tensorml/relax, step {}: the electron pairs did not converge in {} iterations (largest force {:.4g} "
          "on pair atom {}, fmax {:.4g})",
          update->ntimestep, max_iterations_, fmax, worst, fmax_);
    double **f = atom->f;
    for (size_t p = 0; p < pairs.size(); ++p)
      for (int d = 0; d < 3; ++d) {
        x[3 * p + d] = xa[pairs[p]][d];
        g[3 * p + d] = -f[pairs[p]][d];
      }
    const std::vector<double> dx = lbfgs.step(x, g);
    double moved = 0.0, farthest = 0.0;
    int far_tag = 0;
    for (size_t p = 0; p < pairs.size(); ++p) {
      double r2 = 0.0;
      for (int d = 0; d < 3; ++d) {
        xa[pairs[p]][d] += dx[3 * p + d];
        const double u = xa[pairs[p]][d] - start[3 * p + d];
        r2 += u * u;
      }
      if (r2 > moved) {
        moved = r2;
        far_tag = (int) atom->tag[pairs[p]];
      }
    }
    MPI_Allreduce(&moved, &farthest, 1, MPI_DOUBLE, MPI_MAX, world);
    if (std::sqrt(farthest) > limit) {
      int mine = moved == farthest ? far_tag : 0, tag = 0;
      MPI_Allreduce(&mine, &tag, 1, MPI_INT, MPI_MAX, world);
      error->all(FLERR,
                 "fix tensorml/relax, step {}: electron pair atom {} moved {:.3g} in one relaxation, more than half "
                 "the neighbor skin ({:.3g}): raise the skin or shorten the time step",
                 update->ntimestep, tag, std::sqrt(farthest), neighbor->skin);
    }
    comm->forward_comm();
  }
  pair_->relaxing(false, false);
  pair_->reuse_last_call();    // the step's force call is at the converged positions: no new model call
  stats_[0] = iterations;
  stats_[2] = fmax;
  ++steps_;
  check_pairs();
  remember();
  // the integrator cleared the forces before pre_force and adds the step's own force call next
  const int nall = atom->nlocal + atom->nghost;
  if (nall > 0) memset(&atom->f[0][0], 0, 3 * sizeof(double) * nall);
}

void FixTensorMLRelax::predict()
{
  if (last_step_ != update->ntimestep - 1 && last_step_ != update->ntimestep) stored_ = 0;
  // the same step again (a new run, a restart): start from its own relaxed positions
  const int order = last_step_ == update->ntimestep ? std::min(0, stored_ - 1) : std::min(order_, stored_ - 1);
  if (order < 0) return;
  // polynomial extrapolation of order 0-3 from the newest kHistory relaxed positions
  static const double coef[4][4] = {{1, 0, 0, 0}, {2, -1, 0, 0}, {3, -3, 1, 0}, {4, -6, 4, -1}};
  double **x = atom->x;
  for (int i : local_pairs()) {
    double xu[3];
    domain->unmap(x[i], atom->image[i], xu);
    for (int d = 0; d < 3; ++d) {
      double pred = 0.0;
      for (int k = 0; k <= order; ++k) pred += coef[order][k] * history_[i][3 * k + d];
      x[i][d] += pred - xu[d];
    }
  }
}

void FixTensorMLRelax::remember()
{
  const bool again = last_step_ == update->ntimestep && stored_ > 0;    // the same step again: replace it
  double **x = atom->x;
  for (int i : local_pairs()) {
    if (!again)
      for (int k = kHistory - 1; k > 0; --k)
        for (int d = 0; d < 3; ++d) history_[i][3 * k + d] = history_[i][3 * (k - 1) + d];
    domain->unmap(x[i], atom->image[i], history_[i]);
  }
  if (!again) stored_ = std::min(stored_ + 1, kHistory);
  last_step_ = update->ntimestep;
}

void FixTensorMLRelax::check_pairs()
{
  // nearest core and nearest other pair of every local pair, from the pair style's full list
  NeighList *list = pair_->list;
  const int *type = atom->type;
  double **x = atom->x;
  int problem = 0;    // 1 collapse, 2 escape
  int tag = 0;
  double distance = 0.0;
  for (int ii = 0; ii < list->inum && !problem; ++ii) {
    const int i = list->ilist[ii];
    if (!(atom->mask[i] & groupbit)) continue;
    double core = 1e300, other = 1e300;
    for (int jj = 0; jj < list->numneigh[i]; ++jj) {
      const int j = list->firstneigh[i][jj] & NEIGHMASK;
      const int z = pair_->element_of_type(type[j]);
      if (z < 0) continue;
      const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
      const double r = std::sqrt(dx * dx + dy * dy + dz * dz);
      if (pair_->model().electrons.relaxed(z))
        other = std::min(other, r);
      else
        core = std::min(core, r);
    }
    if (other < collapse_) {
      problem = 1;
      distance = other;
    } else if (core > escape_) {
      problem = 2;
      distance = core;
    }
    if (problem) tag = (int) atom->tag[i];
  }
  int any = 0;
  MPI_Allreduce(&problem, &any, 1, MPI_INT, MPI_MAX, world);
  if (!any) return;
  if (problem == 1)
    error->one(FLERR,
               "fix tensorml/relax, step {}: electron pair atom {} collapsed onto another pair ({:.3g} apart, limit "
               "collapse {:.3g})",
               update->ntimestep, tag, distance, collapse_);
  if (problem == 2)
    error->one(FLERR,
               "fix tensorml/relax, step {}: electron pair atom {} escaped: {} from the nearest core (limit escape "
               "{:.3g})",
               update->ntimestep, tag,
               distance > 1e299 ? std::string("no core within the cutoff") : fmt::format("{:.3g}", distance), escape_);
  MPI_Barrier(world);    // the rank with the problem aborts the run
}

double FixTensorMLRelax::compute_vector(int n)
{
  // model calls of this step (relaxation and the step's force call) and of the run, counted by the pair
  if (n == 1) return (double) (pair_->model_calls - calls_at_step_);
  if (n == 4) return steps_ > 0 ? (double) (pair_->model_calls - calls_at_run_) / (double) steps_ : 0.0;
  return stats_[n];
}

void FixTensorMLRelax::grow_arrays(int nmax)
{
  memory->grow(history_, nmax, 3 * kHistory, "tensorml/relax:history");
}

void FixTensorMLRelax::copy_arrays(int i, int j, int)
{
  for (int k = 0; k < 3 * kHistory; ++k) history_[j][k] = history_[i][k];
}

int FixTensorMLRelax::pack_exchange(int i, double *buf)
{
  for (int k = 0; k < 3 * kHistory; ++k) buf[k] = history_[i][k];
  return 3 * kHistory;
}

int FixTensorMLRelax::unpack_exchange(int nlocal, double *buf)
{
  for (int k = 0; k < 3 * kHistory; ++k) history_[nlocal][k] = buf[k];
  return 3 * kHistory;
}

double FixTensorMLRelax::memory_usage()
{
  return (double) atom->nmax * 3 * kHistory * sizeof(double);
}

void FixTensorMLRelax::write_restart(FILE *fp)
{
  if (comm->me != 0) return;
  const double list[2] = {(double) stored_, (double) last_step_};
  const int size = (int) sizeof(list);
  fwrite(&size, sizeof(int), 1, fp);
  fwrite(list, sizeof(double), 2, fp);
}

void FixTensorMLRelax::restart(char *buf)
{
  const auto *list = (double *) buf;
  stored_ = (int) list[0];
  last_step_ = (bigint) list[1];
}

int FixTensorMLRelax::pack_restart(int i, double *buf)
{
  buf[0] = 3 * kHistory + 1;    // LAMMPS' convention: the count first, itself included
  for (int k = 0; k < 3 * kHistory; ++k) buf[k + 1] = history_[i][k];
  return 3 * kHistory + 1;
}

void FixTensorMLRelax::unpack_restart(int nlocal, int nth)
{
  double **extra = atom->extra;
  int m = 0;
  for (int k = 0; k < nth; ++k) m += (int) extra[nlocal][m];
  ++m;
  for (int k = 0; k < 3 * kHistory; ++k) history_[nlocal][k] = extra[nlocal][m++];
}

int FixTensorMLRelax::maxsize_restart()
{
  return 3 * kHistory + 1;
}

int FixTensorMLRelax::size_restart(int)
{
  return 3 * kHistory + 1;
}
