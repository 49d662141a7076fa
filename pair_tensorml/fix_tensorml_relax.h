/* -*- c++ -*- ----------------------------------------------------------
   tensorml: fix ID group tensorml/relax [keyword value ...]

   Relaxes the electron pairs of an explicit-electron model (pair tensorml with a format-3 model,
   pair_coeff mapping a type to X) at fixed cores before every force call, the way fix qeq/reaxff
   solves for charges: in pre_force, over all MPI ranks. The group is the electron pairs; integrate
   only the cores (fix nve/nvt on their group). Each iteration moves the local pairs, forward-
   communicates positions to ghosts, and evaluates pair + kspace forces; a distributed L-BFGS
   (tensorml_lbfgs.h) takes the steps until the largest pair force is below fmax. The start is an
   extrapolation of the pairs' last relaxed (unwrapped) positions, which migrate with the atoms.

   keywords (defaults from the model's metadata, converted to LAMMPS units):
     fmax F             converged when every pair force is below F (force units)
     max_step D         largest move of a pair per iteration (distance units)
     max_iterations N   the run stops beyond N iterations in one step
     collapse D         two pairs closer than D stop the run
     escape D           a pair farther than D from every core stops the run
     memory M           L-BFGS history (default 100: kept across steps, it learns the pair Hessian); alpha A:
                        its first curvature (energy/distance^2, default 50 eV/A^2)
     predictor K        0-3: order of the extrapolation from the last K+1 steps (default 2)
   global vector (thermo f_ID[k]): [1] relaxation iterations of the step, [2] model evaluations of
   the step (iterations + the step's own force call), [3] largest pair force after relaxation,
   [4] largest pair force of the predicted start, [5] mean model evaluations per step of this run.
   write_restart/read_restart keep the history (the next run continues the extrapolation) when the
   fix is defined again with the same ID after read_restart; pair_style tensorml is re-specified.
   The step's own force call reuses the relaxation's last model call (same positions), so a step whose
   start is already converged costs one model evaluation.
------------------------------------------------------------------------- */

#ifndef LMP_FIX_TENSORML_RELAX_H
#define LMP_FIX_TENSORML_RELAX_H

#include "fix.h"

#include <memory>
#include <vector>

namespace TensorML {
class DistributedLBFGS;
}

namespace LAMMPS_NS {

class FixTensorMLRelax : public Fix {
 public:
  FixTensorMLRelax(class LAMMPS *, int, char **);
  ~FixTensorMLRelax() override;
  int setmask() override;
  void init() override;
  void setup_pre_force(int) override;
  void pre_force(int) override;
  double compute_vector(int) override;
  void grow_arrays(int) override;
  void copy_arrays(int, int, int) override;
  int pack_exchange(int, double *) override;
  int unpack_exchange(int, double *) override;
  double memory_usage() override;
  void write_restart(FILE *) override;         // global: history depth and step
  void restart(char *) override;               // reads what write_restart wrote
  int pack_restart(int, double *) override;    // per pair: its relaxed-position history
  void unpack_restart(int, int) override;      // reads what pack_restart wrote
  int maxsize_restart() override;              // values per atom in the restart file
  int size_restart(int) override;              // the same for every atom

 private:
  static constexpr int kHistory = 4;    // relaxed positions remembered per pair (newest first)
  class PairTensorML *pair_ = nullptr;
  double fmax_ = -1.0, max_step_ = -1.0, collapse_ = -1.0, escape_ = -1.0;    // <0: from the metadata
  double alpha_ = -1.0;                                                       // <0: 50 eV/A^2 in LAMMPS units
  int max_iterations_ = -1, memory_ = 100, order_ = 2;
  double **history_ = nullptr;    // [nmax][3 * kHistory] unwrapped relaxed positions
  int stored_ = 0;                // steps in the history (the same for every pair)
  bigint last_step_ = -1;         // step of the newest history entry
  double stats_[5] = {0, 0, 0, 0, 0};
  bigint steps_ = 0;                                     // relaxed steps of this run
  bigint calls_at_step_ = 0, calls_at_run_ = 0;          // the pair's model calls when the step / run began
  std::unique_ptr<TensorML::DistributedLBFGS> lbfgs_;    // kept between steps while no atom migrates

  void relax(int vflag);
  void predict();
  void evaluate_forces();
  double largest_force(tagint &worst) const;    // over all ranks, with the id of its pair
  void check_pairs();
  void remember();
  std::vector<int> local_pairs() const;
};

}    // namespace LAMMPS_NS

#endif
