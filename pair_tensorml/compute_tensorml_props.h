/* -*- c++ -*- ----------------------------------------------------------
   tensorml: compute ID group tensorml/props

   Global vector: the model's global properties (dipole x y z, polarizability
   xx xy xz yx yy yz zx zy zz, ... in the order of the model metadata), for
   the whole system, in LAMMPS units.
   Per-atom array: the model's per-atom properties (charges, atomic dipoles,
   APT as 9 columns [a][b] = dM_a/dr_b, ...), zero for atoms not in the group.
   The column layout is printed to the log when the compute is created.
   Properties are evaluated by pair tensorml on the steps where this compute
   is used: global ones with the energy (the compute declares peflag, so LAMMPS
   asks the pair for the energy on those steps), per-atom ones (APT) on demand.
------------------------------------------------------------------------- */

#ifndef LMP_COMPUTE_TENSORML_PROPS_H
#define LMP_COMPUTE_TENSORML_PROPS_H

#include "compute.h"

#include <string>
#include <vector>

namespace LAMMPS_NS {

class ComputeTensorMLProps : public Compute {
 public:
  ComputeTensorMLProps(class LAMMPS *, int, char **);
  ~ComputeTensorMLProps() override;
  void init() override;
  void compute_vector() override;
  void compute_peratom() override;
  double memory_usage() override;

 private:
  class PairTensorML *pair_ = nullptr;
  int nmax_ = 0;
  std::vector<std::string> global_, peratom_;    // property names, in column order
  class PairTensorML *find_pair() const;
};

}    // namespace LAMMPS_NS

#endif
