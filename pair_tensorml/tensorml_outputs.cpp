/* tensorml: the outputs of one model call on one MPI rank (see tensorml_outputs.h). */

#include "tensorml_outputs.h"

using namespace LAMMPS_NS;

namespace TensorML {

static bool tallied_by_pair(const std::string &name)
{
  return name == "energy" || name == "forces" || name == "virial" || name == "atomic_energies";
}

bool OutputStore::current(const std::string &name, bigint step) const
{
  auto it = value_step.find(name);
  return it != value_step.end() && it->second == step;
}

void OutputStore::store(const Model &model, const UnitScale &units, const std::map<std::string, torch::Tensor> &out,
                        const std::vector<std::string> &requested, const AtomSystem &system, int lead, bigint step,
                        MPI_Comm world)
{
  const int nall = (int) system.model_index.size();
  summed_.clear();
  lead_ = lead;
  revsize = lead;
  for (const auto &p : requested)
    if (!tallied_by_pair(p) && model.output(p).per_atom && model.output(p).ghost == "sum") {
      summed_.push_back(p);
      revsize += (int) model.output(p).size;
    }
  if (revsize > 0) revbuf.assign((size_t) nall * revsize, 0.0);

  int offset = lead;
  for (const auto &p : requested) {
    if (tallied_by_pair(p)) continue;
    const auto &spec = model.output(p);
    const double c = units.to_lammps(spec.dimension);
    const double *v = out.at(p).data_ptr<double>();
    if (!spec.per_atom) {
      std::vector<double> total(spec.size);
      MPI_Allreduce(v, total.data(), (int) spec.size, MPI_DOUBLE, MPI_SUM, world);
      for (auto &t : total) t *= c;
      values[p] = total;
      value_step[p] = step;
    } else if (spec.ghost == "local") {
      auto &dest = values[p];
      dest.assign((size_t) system.nlocal * spec.size, 0.0);
      for (int64_t k = 0; k < system.n_local; ++k)
        for (int64_t s = 0; s < spec.size; ++s)
          dest[(size_t) system.lammps_index[k] * spec.size + s] = c * v[k * spec.size + s];
      value_step[p] = step;
    } else {
      for (int64_t k = 0; k < system.size(); ++k)
        for (int64_t s = 0; s < spec.size; ++s) slot(system.lammps_index[k])[offset + s] = c * v[k * spec.size + s];
      offset += (int) spec.size;
    }
  }
}

void OutputStore::finish_reverse(const Model &model, int nlocal, bigint step)
{
  int offset = lead_;
  for (const auto &p : summed_) {
    const int64_t size = model.output(p).size;
    auto &dest = values[p];
    dest.assign((size_t) nlocal * size, 0.0);
    for (int i = 0; i < nlocal; ++i)
      for (int64_t s = 0; s < size; ++s) dest[(size_t) i * size + s] = slot(i)[offset + s];
    offset += (int) size;
    value_step[p] = step;
  }
}

int OutputStore::pack_reverse(int n, int first, double *buf) const
{
  int m = 0;
  for (int i = first; i < first + n; ++i)
    for (int s = 0; s < revsize; ++s) buf[m++] = revbuf[(size_t) i * revsize + s];
  return m;
}

void OutputStore::unpack_reverse(int n, const int *list, const double *buf)
{
  int m = 0;
  for (int k = 0; k < n; ++k)
    for (int s = 0; s < revsize; ++s) revbuf[(size_t) list[k] * revsize + s] += buf[m++];
}

}    // namespace TensorML
