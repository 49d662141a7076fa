/* tensorml: a guard against overflowing LAMMPS image flags.
 *
 * The pair style unwraps local positions with their image flags (x + n L), so that absolute-position
 * quantities such as the dipole sum_i q_i r_i are continuous in time.  LAMMPS stores the three flags of
 * an atom in one integer: 10 bits each (-512..511) in the default build, 21 bits with -DLAMMPS_BIGBIG.
 * A flag driven past its range wraps silently and the unwrapped position jumps by 1024 box lengths.
 * The guard refuses (error naming the atom, the flag and the step)
 *   - a flag at either end of its range: one more crossing would wrap it;
 *   - a flag that changed by 2 or more since the last step the guard saw the atom on this rank
 *     (more than a box length in one step: a displacement that wrapped the flags, e.g. an atom moved
 *     by 1e6 angstrom), unless the new flags are all within -1..1 (a deliberate reset such as
 *     'set group all image 0 0 0' or 'reset_atoms image' between runs).
 */

#ifndef TENSORML_IMAGES_H
#define TENSORML_IMAGES_H

#include "lmptype.h"

#include <string>
#include <vector>

namespace TensorML {

class ImageFlagGuard {
 public:
  // Check the flags of the first nlocal atoms (those with modelled[i]) at step; returns an empty
  // string, or the message of the first problem found (the caller raises it).
  std::string check(int nlocal, const LAMMPS_NS::tagint *tag, const LAMMPS_NS::imageint *image,
                    const std::vector<bool> &modelled, LAMMPS_NS::bigint step);

 private:
  std::vector<LAMMPS_NS::imageint> seen_;       // last flags seen on this rank, by atom tag
  std::vector<LAMMPS_NS::bigint> seen_step_;    // step they were seen at, -1 = never
  LAMMPS_NS::bigint last_step_ = -1;            // step of the previous check
};

// The three decoded image flags (x, y, z) of a LAMMPS image integer.
void decode_image(LAMMPS_NS::imageint image, int flags[3]);

}    // namespace TensorML

#endif
