/* tensorml: an exported model as the C++ side sees it.
 *
 * Loads a TorchScript archive, reads and checks the metadata stored in it
 * (docs/model-contract.md), and evaluates the module on a dictionary of
 * input tensors.  Knows nothing of LAMMPS and nothing of the physics: every
 * output is handled through its metadata (shape, dimension, ghost rule).
 */

#ifndef TENSORML_MODEL_H
#define TENSORML_MODEL_H

#include <torch/script.h>

#include <map>
#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace TensorML {

// Highest contract format version this build reads (2: dimensions with a time exponent;
// 3: explicit-electron models).
constexpr int kFormatVersion = 3;

// Base dimensions of the contract, in this order everywhere.
enum Base { LENGTH = 0, ENERGY = 1, CHARGE = 2, TIME = 3 };
constexpr int kBases = 4;

// Exponents of (length, energy, charge, time) of a quantity.
using Dimension = std::array<int, kBases>;

struct OutputSpec {
  std::string name;
  bool per_atom = false;
  std::vector<int64_t> shape;            // trailing shape ([] for scalars)
  int64_t size = 1;                      // product of shape
  Dimension dimension = {0, 0, 0, 0};    // exponents of (length, energy, charge, time)
  std::string ghost;                     // per-atom: "sum" (reverse-communicated) or "local"
  std::string reduction;                 // global: "sum" (over ranks) or "system" (whole systems only)
  std::string source;                    // the output this one is derived from, if any
  std::string per_atom_form;             // global: the per-atom output whose sum over atoms it is, if any
  std::vector<std::string> needs;        // optional inputs it requires (e.g. "velocities")
  std::string unit;                      // human-readable unit of the model
};

// The explicit_electrons table of a format-3 model (docs/model-contract.md), in model units.
struct ExplicitElectrons {
  bool enabled = false;
  std::vector<int> species;          // atomic numbers of the relaxed pseudo-species (X = 0)
  std::map<int, double> charges;     // fixed charge of every species, e
  double fmax = 1e-3;                // converged when the largest pair force is below (energy/length)
  double max_step = 0.1;             // largest displacement of a pair per iteration (length)
  int max_iterations = 2000;         // the relaxation fails beyond
  double collapse_distance = 0.1;    // two pairs closer than this: failure (length)
  double escape_distance = 2.5;      // a pair farther than this from every core: failure (length)
  std::string long_range;            // "point_charges" or "gaussian_kspace": what the engine adds
  double gamma = 0.0;                // inverse Gaussian width (1/length): the gewald of gaussian_kspace
  bool relaxed(int z) const { return std::find(species.begin(), species.end(), z) != species.end(); }
};

class Model {
 public:
  // Throws std::runtime_error with a message naming the problem.
  Model(const std::string &path, const std::string &device, const std::string &dtype);

  bool provides(const std::string &name) const { return outputs.count(name) > 0; }
  const OutputSpec &output(const std::string &name) const { return outputs.at(name); }

  // Evaluate; returns the requested outputs as contiguous float64 CPU tensors.
  // Throws std::runtime_error if the module fails or an output is not finite.
  std::map<std::string, torch::Tensor> evaluate(const c10::Dict<std::string, torch::Tensor> &inputs,
                                                const std::vector<std::string> &requested);

  // Tensor options (dtype, device) the inputs must have.
  torch::TensorOptions float_options() const { return torch::TensorOptions().dtype(dtype).device(device); }
  torch::TensorOptions int_options() const { return torch::TensorOptions().dtype(torch::kInt64).device(device); }

  std::string path;
  std::string model_type;
  std::vector<int> species;                             // atomic numbers
  std::vector<std::string> species_symbols;             // element symbols, same order
  double cutoff = 0.0;                                  // model length units
  double halo = 0.0;                                    // model length units
  double min_distance = 0.0;                            // model length units: closer atoms stop the run
  double unit_factor[kBases] = {1.0, 1.0, 1.0, 1.0};    // one model unit in angstrom, eV, e, fs
  std::string unit_names[kBases];
  std::map<std::string, Dimension> input_dimension;    // of each optional input (velocities, efield)
  std::string dtype_name;
  torch::Dtype dtype = torch::kFloat64;
  torch::Device device = torch::kCPU;
  std::map<std::string, OutputSpec> outputs;
  std::vector<std::string> output_order;    // as listed in the metadata (the contract's order)
  std::vector<std::string> warnings;        // non-fatal problems found while loading, for the log
  ExplicitElectrons electrons;              // enabled for explicit-electron models

 private:
  torch::jit::Module module_;
  // Throws if the archive's payload digest differs from the one in the metadata (tensorml_archive.h).
  void check_payload(const std::string &expected);
};

// Atomic number of an element symbol, or -1 if unknown.
int atomic_number(const std::string &symbol);

}    // namespace TensorML

#endif
