/* tensorml: a guard against overflowing LAMMPS image flags (see tensorml_images.h). */

#include "tensorml_images.h"

#include <cstdlib>

using namespace LAMMPS_NS;

namespace TensorML {

void decode_image(imageint image, int flags[3])
{
  flags[0] = (int) ((image & IMGMASK) - IMGMAX);
  flags[1] = (int) ((image >> IMGBITS & IMGMASK) - IMGMAX);
  flags[2] = (int) ((image >> IMG2BITS) - IMGMAX);
}

std::string ImageFlagGuard::check(int nlocal, const tagint *tag, const imageint *image,
                                  const std::vector<bool> &modelled, bigint step)
{
  static const char axis[3] = {'x', 'y', 'z'};
  const bigint previous = last_step_;
  last_step_ = step;
  std::string problem;
  for (int i = 0; i < nlocal; ++i) {
    if (!modelled[i]) continue;
    const auto t = (size_t) tag[i];
    if (t >= seen_.size()) {
      seen_.resize(t + 1, 0);
      seen_step_.resize(t + 1, -1);
    }
    int now[3], before[3];
    decode_image(image[i], now);
    decode_image(seen_[t], before);
    const bool followed = seen_step_[t] >= 0 && seen_step_[t] == previous;
    seen_[t] = image[i];
    seen_step_[t] = step;
    if (!problem.empty()) continue;
    bool reset = true;
    for (int d = 0; d < 3; ++d) reset = reset && std::abs(now[d]) <= 1;
    for (int d = 0; d < 3 && problem.empty(); ++d) {
      const std::string where = "atom " + std::to_string(tag[i]) + " has image flag " + std::to_string(now[d]) +
                                " in " + axis[d] + " at step " + std::to_string(step);
      if (now[d] == -IMGMAX || now[d] == IMGMAX - 1)
        problem = where + ", the end of the range of LAMMPS image flags (" + std::to_string(-IMGMAX) + ".." +
                  std::to_string(IMGMAX - 1) + " in this build): one more crossing wraps it and its unwrapped " +
                  "position jumps by " + std::to_string(2 * IMGMAX) + " box lengths. Reset the flags between runs " +
                  "('set group all image 0 0 0'), or use a larger box or a LAMMPS built with -DLAMMPS_BIGBIG";
      else if (followed && !reset && std::abs(now[d] - before[d]) >= 2)
        problem = where + ", " + std::to_string(before[d]) + " one step before: it crossed " +
                  std::to_string(std::abs(now[d] - before[d])) + " periodic images at once. Either it moved more " +
                  "than a box length or its image flags wrapped (an atom displaced by more than " +
                  std::to_string(IMGMAX) + " box lengths); its unwrapped position, and the dipole, are not defined";
    }
  }
  return problem;
}

}    // namespace TensorML
