/* tensorml: the system a model sees on one MPI rank (see tensorml_system.h). */

#include "tensorml_system.h"

#include "atom.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

using namespace LAMMPS_NS;

namespace TensorML {

double SystemBuilder::outside_subdomain(const double *x) const
{
  double far = 0.0;
  if (!domain->triclinic) {
    for (int k = 0; k < 3; ++k) far = std::max({far, domain->sublo[k] - x[k], x[k] - domain->subhi[k]});
    return far;
  }
  // lamda coordinates: the distance between the planes lamda_k = 0 and 1 is 1 / |grad lamda_k|
  const double *h = domain->h_inv;
  const double grad[3] = {std::sqrt(h[0] * h[0] + h[5] * h[5] + h[4] * h[4]), std::sqrt(h[1] * h[1] + h[3] * h[3]),
                          std::fabs(h[2])};
  double lamda[3];
  domain->x2lamda(const_cast<double *>(x), lamda);
  for (int k = 0; k < 3; ++k)
    far = std::max({far, (domain->sublo_lamda[k] - lamda[k]) / grad[k], (lamda[k] - domain->subhi_lamda[k]) / grad[k]});
  return far;
}

std::vector<int> SystemBuilder::representatives(bool fold) const
{
  const int nlocal = atom->nlocal, nall = nlocal + atom->nghost;
  std::vector<int> rep(nall);
  for (int i = 0; i < nall; ++i) rep[i] = i;
  if (!fold || !atom->tag_enable) return rep;
  const tagint *tag = atom->tag;
  std::unordered_map<tagint, int> best;    // tag -> its image in the graph
  best.reserve(nall);
  for (int i = 0; i < nlocal; ++i) best[tag[i]] = i;
  std::vector<double> far(nall, 0.0);
  for (int i = nlocal; i < nall; ++i) {
    far[i] = outside_subdomain(atom->x[i]);
    auto it = best.find(tag[i]);
    if (it == best.end())
      best.emplace(tag[i], i);
    else if (it->second >= nlocal && far[i] < far[it->second])
      it->second = i;
  }
  for (int i = nlocal; i < nall; ++i) rep[i] = best[tag[i]];
  return rep;
}

AtomSystem SystemBuilder::build(NeighList *list, bool ghostneigh, const std::vector<int> &type_z, double cut,
                                double min_distance)
{
  double **x = atom->x;
  const int *type = atom->type;
  const imageint *image = atom->image;
  const int nlocal = atom->nlocal;
  const int nall = nlocal + atom->nghost;
  AtomSystem s;
  s.nlocal = nlocal;
  s.model_index.assign(nall, -1);
  s.lammps_index.reserve(nall);
  s.positions.reserve(3 * (size_t) nall);
  auto add_atom = [&](int i) {
    s.model_index[i] = (int) s.lammps_index.size();
    s.lammps_index.push_back(i);
    s.numbers.push_back(type_z[type[i]]);
    double xu[3] = {x[i][0], x[i][1], x[i][2]};
    if (i < nlocal) domain->unmap(x[i], image[i], xu);
    s.positions.insert(s.positions.end(), xu, xu + 3);
  };
  for (int i = 0; i < nlocal; ++i)
    if (type_z[type[i]] >= 0) add_atom(i);
  s.n_local = (int) s.lammps_index.size();

  const double cutsq = cut * cut;
  double closest = cutsq;    // squared
  int close_i = -1, close_j = -1;
  std::vector<int64_t> src, dst;
  const int nlist = list->inum + (ghostneigh ? list->gnum : 0);
  // message passing: one node per atom, whatever its number of periodic images (see the header)
  const std::vector<int> rep = representatives(ghostneigh);
  for (int ii = 0; ii < nlist; ++ii) {
    const int i = list->ilist[ii];
    if (type_z[type[i]] < 0 || rep[i] != i) continue;
    if (s.model_index[i] < 0) add_atom(i);
    const int *jlist = list->firstneigh[i];
    for (int jj = 0; jj < list->numneigh[i]; ++jj) {
      const int jn = jlist[jj] & NEIGHMASK;
      if (type_z[type[jn]] < 0) continue;
      const double d[3] = {x[jn][0] - x[i][0], x[jn][1] - x[i][1], x[jn][2] - x[i][2]};
      const int j = rep[jn];
      const double rsq = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
      if (rsq >= cutsq) continue;
      if (rsq < closest) {
        closest = rsq;
        close_i = i;
        close_j = jn;
      }
      if (s.model_index[j] < 0) add_atom(j);
      const int mi = s.model_index[i], mj = s.model_index[j];
      src.push_back(mi);
      dst.push_back(mj);
      // r_ij = pos_j - pos_i + shift must equal x_j - x_i
      for (int k = 0; k < 3; ++k) s.shifts.push_back(d[k] - (s.positions[3 * mj + k] - s.positions[3 * mi + k]));
    }
  }
  if (close_i >= 0 && closest < min_distance * min_distance)
    error->one(FLERR,
               "pair tensorml, step {}: atoms {} and {} are {:.4g} apart, closer than the model's minimum distance "
               "{:.4g} (LAMMPS length units): the model cannot be evaluated there",
               update->ntimestep, std::min(atom->tag[close_i], atom->tag[close_j]),
               std::max(atom->tag[close_i], atom->tag[close_j]), std::sqrt(closest), min_distance);
  s.edges = src;
  s.edges.insert(s.edges.end(), dst.begin(), dst.end());
  return s;
}

c10::Dict<std::string, torch::Tensor> SystemBuilder::inputs(const AtomSystem &s, const Model &model,
                                                            const UnitScale &units, const double efield[3],
                                                            bool with_velocities)
{
  const int64_t n = s.size(), ne = s.n_edges();
  const double to_model_len = 1.0 / units.base[LENGTH];
  auto fopt = model.float_options();
  auto iopt = model.int_options();
  auto cpu64 = torch::TensorOptions().dtype(torch::kFloat64);
  auto cpui = torch::TensorOptions().dtype(torch::kInt64);
  // from_blob does not own: every tensor is copied by .to() or clone() before the vectors go away
  auto floats = [&](const double *data, std::vector<int64_t> shape, double scale) {
    return (torch::from_blob(const_cast<double *>(data), shape, cpu64) * scale).to(fopt);
  };
  double cell[9] = {domain->xprd, 0.0, 0.0, domain->xy, domain->yprd, 0.0, domain->xz, domain->yz, domain->zprd};
  // LAMMPS fix efield units (force/charge) -> model energy/(charge*length)
  const double efield_conv = force->qe2f / units.to_lammps({-1, 1, -1, 0});

  c10::Dict<std::string, torch::Tensor> in;
  in.insert("positions", floats(s.positions.data(), {n, 3}, to_model_len));
  in.insert("atomic_numbers", torch::from_blob(const_cast<int64_t *>(s.numbers.data()), {n}, cpui).to(iopt).clone());
  in.insert("cell", floats(cell, {1, 3, 3}, to_model_len));
  in.insert("pbc", torch::tensor({(bool) domain->xperiodic, (bool) domain->yperiodic, (bool) domain->zperiodic},
                                 torch::TensorOptions().dtype(torch::kBool))
                       .reshape({1, 3})
                       .to(model.device));
  in.insert("edge_index", torch::from_blob(const_cast<int64_t *>(s.edges.data()), {2, ne}, cpui).to(iopt).clone());
  in.insert("edge_shifts", floats(s.shifts.data(), {ne, 3}, to_model_len));
  in.insert("batch", torch::zeros({n}, iopt));
  in.insert("n_local", torch::tensor((int64_t) s.n_local, cpui));
  in.insert("efield", floats(efield, {1, 3}, efield_conv));
  if (with_velocities) {
    double **v = atom->v;
    std::vector<double> vel(3 * (size_t) n);
    for (int64_t k = 0; k < n; ++k)
      for (int d = 0; d < 3; ++d) vel[3 * k + d] = v[s.lammps_index[k]][d];
    // to model length per model time, the dimension the metadata gives the input
    in.insert("velocities", floats(vel.data(), {n, 3}, 1.0 / units.to_lammps(model.input_dimension.at("velocities"))));
  }
  return in;
}

}    // namespace TensorML
