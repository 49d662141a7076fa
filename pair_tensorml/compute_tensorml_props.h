/* -*- c++ -*- ----------------------------------------------------------
   tensorml: compute ID group tensorml/props [property ...]

   Without a list, all properties of the model; with one (e.g. "dipole
   polarizability", "dmdt", "apt apt_velocity"), only those, in that order:
   a compute is evaluated whole, so list only what a step should pay for.

   Global vector: the model's global properties in the contract's order
   (dipole x y z, polarizability xx xy xz yx yy yz zx zy zz, dM/dt x y z, ...)
   in LAMMPS units (dM/dt per LAMMPS time unit, from the velocities at the end
   of the step). Whole-system values, except those that are sums of a per-atom
   property (dM/dt = sum_i APT_i v_i), which are summed over the group.
   Per-atom array: the model's per-atom properties (APT as 9 columns [a][b] =
   dM_a/dr_b, APT_i v_i, charges, atomic dipoles, ...), zero outside the group.
   The column layout is printed to the log when the compute is created.
   Properties are evaluated by pair tensorml on the steps where this compute
   is used: the position-only global ones with the energy (the compute declares
   peflag, so LAMMPS asks the pair for the energy on those steps), the others
   when the compute is invoked.
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
  std::vector<std::string> grouped_;             // per global property: per-atom form summed over the group, or ""
  class PairTensorML *find_pair() const;
  void refresh(const std::vector<std::string> &names);    // evaluate those not current this step
};

}    // namespace LAMMPS_NS

#endif
