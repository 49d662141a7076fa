/* tensorml: the system a model sees on one MPI rank, built from LAMMPS atoms and a neighbour list.
 *
 * Modelled atoms (types mapped to an element) are numbered local first, then the ghosts that appear
 * in an edge. With message passing (ghost neighbour lists), every atom is one node however many
 * periodic images the ghost shell holds: an image of a local atom is that atom, and of the images of
 * an atom owned elsewhere only the one closest to the subdomain is a node (its neighbour list is the
 * complete one), with lattice shifts on the edges. In a periodic box smaller than the halo that is
 * the whole-system graph, not tens of copies of it; the energy and every derivative are the same. Local positions are
 * unwrapped with their image flags, so absolute-position quantities (q_i r_i) never jump when an atom is wrapped; edge
 * shifts make r_ij = x_j - x_i exact. The optional inputs (velocities) are converted with the dimension the model's
 * metadata gives them.
 */

#ifndef TENSORML_SYSTEM_H
#define TENSORML_SYSTEM_H

#include "pointers.h"
#include "tensorml_units.h"

#include <torch/script.h>

#include <cstdint>
#include <vector>

namespace LAMMPS_NS {
class NeighList;
}

namespace TensorML {

struct AtomSystem {
  std::vector<int> lammps_index;    // model atom k -> LAMMPS atom index
  std::vector<int> model_index;     // LAMMPS atom index -> model atom, -1 if not in the system
  int n_local = 0;                  // modelled local atoms: model atoms 0..n_local-1
  int nlocal = 0;                   // LAMMPS local atoms (modelled or not) when it was built
  std::vector<double> positions;    // [n][3], LAMMPS length units, locals unwrapped
  std::vector<int64_t> numbers;     // [n] atomic numbers
  std::vector<int64_t> edges;       // [2][ne]: sources then destinations, model atom indices
  std::vector<double> shifts;       // [ne][3], LAMMPS length units
  int64_t size() const { return (int64_t) lammps_index.size(); }
  int64_t n_edges() const { return (int64_t) shifts.size() / 3; }
};

class SystemBuilder : protected LAMMPS_NS::Pointers {
 public:
  explicit SystemBuilder(LAMMPS_NS::LAMMPS *lmp) : Pointers(lmp) {}

  // Atoms and edges within cut (LAMMPS length) from the full list (with ghost lists when ghostneigh);
  // stops the run, naming both atoms and the step, if two are closer than min_distance.
  AtomSystem build(LAMMPS_NS::NeighList *list, bool ghostneigh, const std::vector<int> &type_z, double cut,
                   double min_distance);

  // For every LAMMPS atom (local + ghost): the atom that stands for it in the graph (itself unless fold).
  std::vector<int> representatives(bool fold) const;
  // How far x lies outside this rank's subdomain (distance units; 0 inside), perpendicular to its faces.
  double outside_subdomain(const double *x) const;

  // The contract's inputs in model units; with_velocities adds atom->v (ghosts must be current).
  c10::Dict<std::string, torch::Tensor> inputs(const AtomSystem &system, const Model &model, const UnitScale &units,
                                               const double efield[3], bool with_velocities);
};

}    // namespace TensorML

#endif
