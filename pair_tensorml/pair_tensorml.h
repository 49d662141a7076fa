/* -*- c++ -*- ----------------------------------------------------------
   tensorml: pair_style tensorml, a TorchScript model of the tensorml contract
   evaluated on the local + ghost atoms of each MPI rank.

   pair_style tensorml model.pt [keyword value ...]
     device auto|cpu|cuda|cuda:N   (default auto: cuda if available, one GPU per rank)
     dtype float32|float64         (default: the model's)
     properties_only yes|no        (default no: no energy/forces, for hybrid/overlay)
     efield Ex Ey Ez               (uniform field, LAMMPS fix efield units)
   pair_coeff * * El1 El2 ...      (element of each atom type, NULL = not modelled)
------------------------------------------------------------------------- */

#ifndef LMP_PAIR_TENSORML_H
#define LMP_PAIR_TENSORML_H

#include "pair.h"

#include "tensorml_images.h"
#include "tensorml_outputs.h"
#include "tensorml_system.h"
#include "tensorml_units.h"

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace TensorML {
class Model;
struct OutputSpec;
}    // namespace TensorML

namespace LAMMPS_NS {

class PairTensorML : public Pair {
 public:
  PairTensorML(class LAMMPS *);
  ~PairTensorML() override;

  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  void setup() override;
  double init_one(int, int) override;
  void write_restart(FILE *) override;
  void read_restart(FILE *) override;
  void write_restart_settings(FILE *) override;
  void read_restart_settings(FILE *) override;
  int pack_forward_comm(int, int *, double *, int, int *) override;
  void unpack_forward_comm(int, int, double *) override;
  int pack_reverse_comm(int, int, double *) override;
  void unpack_reverse_comm(int, int *, double *) override;
  double memory_usage() override;
  void *extract(const char *, int &) override;

  // ---- used by compute tensorml/props
  const TensorML::Model &model() const { return *model_; }
  // Atomic number an atom type is mapped to (0: X, electron pairs), -1 if NULL.
  int element_of_type(int type) const { return type_z_[type]; }
  // Model units -> LAMMPS units of this run (set in init_style).
  const TensorML::UnitScale &unit_scale() const { return units_; }

  // ---- used by fix tensorml/relax
  // While relaxing, every model call keeps its outputs (with the virial when with_virial); after the
  // last, reuse_last_call() lets the step's own force call take them instead of calling the model again.
  void relaxing(bool on, bool with_virial);
  void reuse_last_call() { reuse_ = !cache_.empty(); }
  bigint model_calls = 0;    // calls of the module so far
  // Properties LAMMPS can report (whole-system-only outputs excluded), global and per-atom.
  std::vector<std::string> global_props, peratom_props;
  // Latest value of each property in LAMMPS units (global: size; per-atom: nlocal * size, local
  // atoms) and the step it belongs to.
  const std::map<std::string, std::vector<double>> &values() const { return store_.values; }
  bool current(const std::string &name) const;
  // Evaluate these properties for the current positions and velocities, now (during runs only).
  void evaluate_now(const std::vector<std::string> &names);
  // A compute reports these global properties: they ride along with the energy on tally steps
  // (computes register in their init; cleared in init_style). Unregistered ones are never computed.
  void report_on_tally_steps(const std::vector<std::string> &names);

 protected:
  std::unique_ptr<TensorML::Model> model_;
  std::string model_path_, device_, dtype_;
  int properties_only_ = 0;
  std::string allocator_;                    // what tensorml_allocator.h did, for the log
  std::vector<std::string> ride_along_;      // global properties some compute reports (see report_on_tally_steps)
  double efield_[3] = {0.0, 0.0, 0.0};       // LAMMPS fix efield units
  std::vector<int> type_z_;                  // atomic number per LAMMPS type, -1 = NULL
  TensorML::UnitScale units_;                // model units -> LAMMPS units of this run
  double cut_lmp_ = 0.0, halo_lmp_ = 0.0;    // model cutoff and halo in LAMMPS length units

  TensorML::ImageFlagGuard images_;                     // refuses image flags about to wrap or wrapped
  std::unique_ptr<TensorML::SystemBuilder> builder_;    // atoms, edges and inputs of this rank
  TensorML::OutputStore store_;                         // outputs in LAMMPS units, reverse-communicated
  bool relaxing_ = false, relax_virial_ = false;        // inside fix tensorml/relax's loop
  bool reuse_ = false;                                  // the next call may take cache_
  std::map<std::string, torch::Tensor> cache_;          // outputs of the last relaxation call
  TensorML::AtomSystem cached_system_;                  // and its system

  void allocate();
  void load_model();
  void set_comm_sizes();    // comm_reverse from the model's per-atom outputs
  bool needs_velocities(const std::string &name) const;
  void check_image_flags();    // error if a local atom's image flags overflow (tensorml_images.h)
  // One model call with the requested outputs; results tallied, stored and communicated.
  void evaluate(const std::vector<std::string> &requested);
  // Energy, forces (ghost forces into the reverse buffer when asked), virial and per-atom energies.
  void tally(const std::map<std::string, torch::Tensor> &out, const TensorML::AtomSystem &system,
             const std::vector<std::string> &requested, bool ghost_forces_in_buffer);
};

}    // namespace LAMMPS_NS

#endif
