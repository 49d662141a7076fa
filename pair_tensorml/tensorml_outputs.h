/* tensorml: the outputs of one model call on one MPI rank, in LAMMPS units.
 *
 * Global outputs are sums over local atoms, so they are summed over ranks. Per-atom outputs with the
 * ghost rule "local" keep their local entries; those with the rule "sum" (derivatives with respect to
 * positions, e.g. APTs) are put in a reverse-communication buffer, whose ghost entries LAMMPS adds onto
 * the owning atoms. The buffer can lead with a few values per atom of the pair's own (ghost forces
 * with newton off). compute tensorml/props reads `values`.
 */

#ifndef TENSORML_OUTPUTS_H
#define TENSORML_OUTPUTS_H

#include "lmptype.h"
#include "tensorml_system.h"

#include <mpi.h>

#include <map>
#include <string>
#include <vector>

namespace TensorML {

class OutputStore {
 public:
  // Latest value of each property in LAMMPS units (global: size; per-atom: nlocal * size) and its step.
  std::map<std::string, std::vector<double>> values;
  std::map<std::string, LAMMPS_NS::bigint> value_step;
  bool current(const std::string &name, LAMMPS_NS::bigint step) const;
  void forget() { value_step.clear(); }    // values of an earlier run (other atoms, same step) are stale

  // Store the properties among requested (not energy/forces/virial/atomic energies): globals summed over
  // world, local per-atom ones kept, ghost-summed ones written to the buffer after `lead` values per atom.
  void store(const Model &model, const UnitScale &units, const std::map<std::string, torch::Tensor> &out,
             const std::vector<std::string> &requested, const AtomSystem &system, int lead, LAMMPS_NS::bigint step,
             MPI_Comm world);
  // After the reverse communication: the per-atom sums of the buffer become values of the nlocal atoms.
  void finish_reverse(const Model &model, int nlocal, LAMMPS_NS::bigint step);

  int revsize = 0;               // values per atom in the reverse buffer (0: no communication)
  std::vector<double> revbuf;    // [nall][revsize]
  double *slot(int i) { return revbuf.data() + (size_t) i * revsize; }
  int pack_reverse(int n, int first, double *buf) const;
  void unpack_reverse(int n, const int *list, const double *buf);

 private:
  std::vector<std::string> summed_;    // ghost-summed outputs of the last store, in buffer order
  int lead_ = 0;
};

}    // namespace TensorML

#endif
