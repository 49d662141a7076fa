/* tensorml: model units -> LAMMPS units.
 *
 * A quantity of dimension (length, energy, charge, time) exponents d converts from model to LAMMPS
 * units with prod_k base[k]^d[k], base[k] being one model unit of base k in LAMMPS units (taken from
 * LAMMPS' own constants in PairTensorML::init_style).
 */

#ifndef TENSORML_UNITS_H
#define TENSORML_UNITS_H

#include "tensorml_model.h"

#include <cmath>

namespace TensorML {

struct UnitScale {
  double base[kBases] = {1.0, 1.0, 1.0, 1.0};    // one model (length, energy, charge, time) unit in LAMMPS units

  // Multiply a model value of this dimension by this to get LAMMPS units.
  double to_lammps(const Dimension &dimension) const
  {
    double f = 1.0;
    for (int k = 0; k < kBases; ++k) f *= std::pow(base[k], dimension[k]);
    return f;
  }
};

}    // namespace TensorML

#endif
