/* tensorml: L-BFGS steps over a vector distributed across MPI ranks (each rank holds its local part).
 *
 * No line search (the electron-pair energy is close to quadratic): the step is -H g from the two-loop
 * recursion with the last `memory` pairs (s, y), H0 = s.y / y.y of the newest pair (1/alpha before any),
 * capped so that no particle moves more than max_step; an uphill direction restarts from -g/alpha.
 * Every dot product and maximum is reduced over the communicator, so all ranks take the same step.
 */

#ifndef TENSORML_LBFGS_H
#define TENSORML_LBFGS_H

#include <mpi.h>

#include <deque>
#include <vector>

namespace TensorML {

class DistributedLBFGS {
 public:
  DistributedLBFGS(MPI_Comm world, int memory, double alpha, double max_step) :
      world_(world), memory_(memory), alpha_(alpha), max_step_(max_step)
  {
  }
  // Forget the history (a new relaxation whose vector layout may differ).
  void reset();
  // A new relaxation with the same layout (the next MD step, no atom migrated): the curvature pairs
  // (s, y) are kept as the start of the inverse Hessian, the last point is not paired with the next.
  void restart_from_history();
  // The step (same layout as x, 3 values per particle) for positions x and gradient g.
  std::vector<double> step(const std::vector<double> &x, const std::vector<double> &g);
  int restarts = 0;    // uphill directions met (history dropped)

 private:
  double dot(const std::vector<double> &a, const std::vector<double> &b) const;
  MPI_Comm world_;
  int memory_;
  double alpha_, max_step_;
  std::deque<std::vector<double>> s_, y_;
  std::deque<double> rho_;
  std::vector<double> x_prev_, g_prev_;
};

}    // namespace TensorML

#endif
