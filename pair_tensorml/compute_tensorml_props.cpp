/* tensorml: compute tensorml/props (see compute_tensorml_props.h). */

#include "compute_tensorml_props.h"

#include "pair_tensorml.h"
#include "tensorml_model.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "update.h"

#include <mpi.h>

#include <algorithm>

using namespace LAMMPS_NS;

// Column names of an output: name, or name_x ..., name_xx name_xy ... (row-major).
static std::vector<std::string> column_names(const TensorML::OutputSpec &spec)
{
  static const char *axes[3] = {"x", "y", "z"};
  std::vector<std::string> names;
  for (int64_t s = 0; s < spec.size; ++s) {
    std::string comp;
    int64_t rest = s, stride = spec.size;
    for (int64_t dim : spec.shape) {
      stride /= dim;
      comp += axes[(rest / stride) % 3];
      rest %= stride;
    }
    names.push_back(comp.empty() ? spec.name : spec.name + "_" + comp);
  }
  return names;
}

/* ---------------------------------------------------------------------- */

ComputeTensorMLProps::ComputeTensorMLProps(LAMMPS *lmp, int narg, char **arg) : Compute(lmp, narg, arg)
{
  pair_ = find_pair();
  const auto &model = pair_->model();
  if (narg == 3) {
    global_ = pair_->global_props;
    peratom_ = pair_->peratom_props;
  } else {
    // an explicit list: only these properties are evaluated when the compute is invoked
    for (int iarg = 3; iarg < narg; ++iarg) {
      std::string name = arg[iarg];
      auto &g = pair_->global_props;
      auto &a = pair_->peratom_props;
      if (std::find(g.begin(), g.end(), name) != g.end())
        global_.push_back(name);
      else if (std::find(a.begin(), a.end(), name) != a.end())
        peratom_.push_back(name);
      else {
        std::string known;
        for (const auto &k : g) known += " " + k;
        for (const auto &k : a) known += " " + k;
        error->all(FLERR, "compute tensorml/props: the model provides no property '{}'; it provides{}", name, known);
      }
    }
  }

  // with a group other than all, global outputs that are sums of a per-atom output (dM/dt =
  // sum_i APT_i v_i) are summed over the group; the others stay whole-system values
  grouped_.assign(global_.size(), std::string());
  if (igroup != 0)
    for (size_t k = 0; k < global_.size(); ++k) {
      const auto &form = model.output(global_[k]).per_atom_form;
      const auto &avail = pair_->peratom_props;
      if (!form.empty() && std::find(avail.begin(), avail.end(), form) != avail.end()) grouped_[k] = form;
    }

  int nvec = 0, ncols = 0;
  std::string layout = "compute tensorml/props " + std::string(id) + " columns:\n  global vector:";
  for (size_t k = 0; k < global_.size(); ++k)
    for (const auto &c : column_names(model.output(global_[k])))
      layout += fmt::format(" [{}] {}{}", ++nvec, c, grouped_[k].empty() ? "" : " (group)");
  layout += "\n  per-atom array:";
  for (const auto &p : peratom_)
    for (const auto &c : column_names(model.output(p))) layout += fmt::format(" [{}] {}", ++ncols, c);
  if (nvec == 0 && ncols == 0) error->all(FLERR, "compute tensorml/props: the model has no properties to report");
  if (comm->me == 0) utils::logmesg(lmp, layout + "\n");

  if (nvec > 0) {
    vector_flag = 1;
    size_vector = nvec;
    extvector = 0;
    vector = new double[nvec];
  }
  if (ncols > 0) {
    peratom_flag = 1;
    size_peratom_cols = ncols;
  }
  // ask LAMMPS to tally energy on the steps this compute is needed: the pair evaluates the
  // position-only global properties with it; the rest is evaluated when asked for
  peflag = 1;
  timeflag = 1;
}

ComputeTensorMLProps::~ComputeTensorMLProps()
{
  delete[] vector;
  memory->destroy(array_atom);
}

PairTensorML *ComputeTensorMLProps::find_pair() const
{
  auto *pair = dynamic_cast<PairTensorML *>(force->pair_match("^tensorml", 0));
  if (!pair)
    error->all(FLERR, "compute tensorml/props needs exactly one pair_style tensorml (alone or in hybrid/overlay) "
                      "defined before the compute");
  return pair;
}

void ComputeTensorMLProps::init()
{
  pair_ = find_pair();
  auto available = [](const std::vector<std::string> &have, const std::vector<std::string> &want) {
    for (const auto &w : want)
      if (std::find(have.begin(), have.end(), w) == have.end()) return false;
    return true;
  };
  if (!available(pair_->global_props, global_) || !available(pair_->peratom_props, peratom_))
    error->all(FLERR, "compute tensorml/props {}: the pair style's model changed since the compute was defined", id);
  // the global properties this compute reports, evaluated with the energy on tally steps (a group
  // sum formed from a per-atom output is asked for when the compute runs)
  std::vector<std::string> reported;
  for (size_t k = 0; k < global_.size(); ++k)
    if (grouped_[k].empty()) reported.push_back(global_[k]);
  pair_->report_on_tally_steps(reported);
}

void ComputeTensorMLProps::refresh(const std::vector<std::string> &names)
{
  std::vector<std::string> missing;
  for (const auto &p : names)
    if (!pair_->current(p) && std::find(missing.begin(), missing.end(), p) == missing.end()) missing.push_back(p);
  if (!missing.empty()) pair_->evaluate_now(missing);
}

/* ---------------------------------------------------------------------- */

void ComputeTensorMLProps::compute_vector()
{
  invoked_vector = update->ntimestep;
  std::vector<std::string> needed;
  for (size_t k = 0; k < global_.size(); ++k) needed.push_back(grouped_[k].empty() ? global_[k] : grouped_[k]);
  refresh(needed);

  const int nlocal = atom->nlocal;
  int *mask = atom->mask;
  int k = 0;
  for (size_t g = 0; g < global_.size(); ++g) {
    if (grouped_[g].empty()) {
      for (double v : pair_->values().at(global_[g])) vector[k++] = v;
      continue;
    }
    const auto &values = pair_->values().at(grouped_[g]);
    const int64_t size = pair_->model().output(grouped_[g]).size;
    std::vector<double> sum(size, 0.0), total(size);
    for (int i = 0; i < nlocal; ++i)
      if (mask[i] & groupbit)
        for (int64_t s = 0; s < size; ++s) sum[s] += values[i * size + s];
    MPI_Allreduce(sum.data(), total.data(), (int) size, MPI_DOUBLE, MPI_SUM, world);
    for (double v : total) vector[k++] = v;
  }
}

void ComputeTensorMLProps::compute_peratom()
{
  invoked_peratom = update->ntimestep;
  refresh(peratom_);
  if (atom->nmax > nmax_) {
    memory->destroy(array_atom);
    nmax_ = atom->nmax;
    memory->create(array_atom, nmax_, size_peratom_cols, "tensorml/props:array_atom");
  }
  const int nlocal = atom->nlocal;
  int *mask = atom->mask;
  for (int i = 0; i < nlocal; ++i) {
    int c = 0;
    for (const auto &p : peratom_) {
      const auto &values = pair_->values().at(p);
      const int64_t size = pair_->model().output(p).size;
      for (int64_t s = 0; s < size; ++s) array_atom[i][c++] = (mask[i] & groupbit) ? values[i * size + s] : 0.0;
    }
  }
}

double ComputeTensorMLProps::memory_usage()
{
  return (double) nmax_ * size_peratom_cols * sizeof(double);
}
