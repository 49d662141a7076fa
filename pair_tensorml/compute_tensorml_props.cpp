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
  if (narg != 3) error->all(FLERR, "Illegal compute tensorml/props command: compute ID group tensorml/props");
  pair_ = find_pair();
  global_ = pair_->global_props;
  peratom_ = pair_->peratom_props;
  const auto &model = pair_->model();

  int nvec = 0, ncols = 0;
  std::string layout = "compute tensorml/props " + std::string(id) + " columns:\n  global vector:";
  for (const auto &p : global_)
    for (const auto &c : column_names(model.output(p))) layout += fmt::format(" [{}] {}", ++nvec, c);
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
  // ask LAMMPS to tally energy on the steps this compute is needed: the pair
  // evaluates global properties with it; per-atom ones are evaluated on demand
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
    error->all(FLERR,
               "compute tensorml/props needs exactly one pair_style tensorml (alone or in hybrid/overlay) "
               "defined before the compute");
  return pair;
}

void ComputeTensorMLProps::init()
{
  pair_ = find_pair();
  if (pair_->global_props != global_ || pair_->peratom_props != peratom_)
    error->all(FLERR, "compute tensorml/props {}: the pair style's model changed since the compute was defined", id);
}

/* ---------------------------------------------------------------------- */

void ComputeTensorMLProps::compute_vector()
{
  invoked_vector = update->ntimestep;
  if (pair_->global_step != update->ntimestep)
    error->all(FLERR,
               "compute tensorml/props {}: properties were not evaluated on step {}; use the compute on steps "
               "of a run (thermo, fix ave/time, dump) or issue 'run 0' first",
               id, update->ntimestep);
  int k = 0;
  for (const auto &p : global_)
    for (double v : pair_->global_values.at(p)) vector[k++] = v;
}

void ComputeTensorMLProps::compute_peratom()
{
  invoked_peratom = update->ntimestep;
  if (pair_->peratom_step != update->ntimestep) pair_->evaluate_peratom_properties();
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
      const auto &values = pair_->peratom_values.at(p);
      const int64_t size = pair_->model().output(p).size;
      for (int64_t s = 0; s < size; ++s) array_atom[i][c++] = (mask[i] & groupbit) ? values[i * size + s] : 0.0;
    }
  }
}

double ComputeTensorMLProps::memory_usage()
{
  return (double) nmax_ * size_peratom_cols * sizeof(double);
}
