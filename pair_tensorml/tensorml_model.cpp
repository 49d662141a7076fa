/* tensorml: loading, checking and calling an exported model (see tensorml_model.h). */

#include "tensorml_model.h"

#include "tensorml_archive.h"

#include "nlohmann/json.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

using json = nlohmann_lmp::ordered_json;    // keeps the metadata's output order

namespace TensorML {

static const char *kElements[] = {
    "X",  "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",
    "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As",
    "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn",
    "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho",
    "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po",
    "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md",
    "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};

int atomic_number(const std::string &symbol)
{
  for (int z = 0; z < (int) (sizeof(kElements) / sizeof(kElements[0])); ++z)    // 0: X, electron pairs
    if (symbol == kElements[z]) return z;
  return -1;
}

static std::runtime_error fail(const std::string &path, const std::string &what)
{
  return std::runtime_error("tensorml model " + path + ": " + what);
}

// The dimension of an input or output entry of the metadata.  Format 1 had three exponents (no
// time); a quantity made from the velocities then gets time -1, as python/tensorml/contract.py
// upgrade_metadata reads it.
static Dimension read_dimension(const json &entry, const std::string &path, const std::string &what, int version,
                                bool timed)
{
  auto dims = entry.at("dimension").get<std::vector<int>>();
  const size_t want = version == 1 ? 3 : kBases;
  if (dims.size() != want)
    throw fail(path, what + " has a dimension of " + std::to_string(dims.size()) + " exponents, format version " +
                         std::to_string(version) + " has " + std::to_string(want));
  Dimension d = {0, 0, 0, timed && version == 1 ? -1 : 0};
  for (size_t k = 0; k < dims.size(); ++k) d[k] = dims[k];
  return d;
}

// The explicit_electrons table of a format-3 file.
static void read_explicit_electrons(const json &t, const std::vector<int> &species, const std::string &path,
                                    ExplicitElectrons &electrons)
{
  electrons.enabled = true;
  electrons.species = t.at("species").get<std::vector<int>>();
  for (auto &item : t.at("particle_charges").items()) electrons.charges[std::stoi(item.key())] = item.value();
  const json &r = t.at("relaxation");
  electrons.fmax = r.at("fmax").get<double>();
  electrons.max_step = r.at("max_step").get<double>();
  electrons.max_iterations = r.at("max_iterations").get<int>();
  electrons.collapse_distance = r.at("collapse_distance").get<double>();
  electrons.escape_distance = r.at("escape_distance").get<double>();
  electrons.long_range = t.at("long_range").at("kind").get<std::string>();
  electrons.gamma = t.at("long_range").at("gaussian_gamma").get<double>();
  if (electrons.long_range != "point_charges" && electrons.long_range != "gaussian_kspace")
    throw fail(path, "unknown long-range kind '" + electrons.long_range +
                         "' of the explicit electrons (this build knows point_charges, gaussian_kspace)");
  for (int z : species)
    if (!electrons.charges.count(z))
      throw fail(path, "explicit_electrons.particle_charges lacks species " + std::to_string(z));
}

Model::Model(const std::string &path_, const std::string &device_name, const std::string &dtype_req) : path(path_)
{
  {
    std::ifstream probe(path);
    if (!probe.good()) throw fail(path, "cannot open the file (missing or unreadable)");
  }
  try {
    device = torch::Device(device_name);
  } catch (const std::exception &e) {
    throw fail(path, "invalid device '" + device_name + "'");
  }

  torch::jit::ExtraFilesMap extra{{"metadata.json", ""}};
  try {
    module_ = torch::jit::load(path, device, extra);
  } catch (const std::exception &e) {
    std::string msg = e.what();
    throw fail(path, "not a readable TorchScript archive (" + msg.substr(0, msg.find('\n')) + ")");
  }
  module_.eval();
  if (extra["metadata.json"].empty()) throw fail(path, "no metadata.json inside the archive: not a tensorml model");

  json meta;
  try {
    meta = json::parse(extra["metadata.json"]);
  } catch (const std::exception &e) {
    throw fail(path, std::string("metadata.json is not valid JSON: ") + e.what());
  }
  try {
    const std::string format = meta.value("format", std::string());
    if (format == "tensorml-emlp")
      throw fail(path, "is an explicit-electron (eMLP) model in the old format 'tensorml-emlp', which only the "
                       "whole-system engines (tensorml-ipi, the ASE calculator) read; for LAMMPS convert it with "
                       "'tensorml export " +
                           path + " -o NEW.pt'");
    if (format != "tensorml-model") throw fail(path, "metadata format is '" + format + "', not 'tensorml-model'");
    int version = meta.at("format_version").get<int>();
    if (version < 1 || version > kFormatVersion)
      throw fail(path, "format version " + std::to_string(version) + " is not supported (this build reads 1.." +
                           std::to_string(kFormatVersion) + "); update tensorml");
    check_payload(meta.value("payload_sha256", std::string()));
    model_type = meta.value("model_type", std::string("unknown"));
    species = meta.at("species").get<std::vector<int>>();
    species_symbols = meta.at("species_symbols").get<std::vector<std::string>>();
    if (species.empty() || species.size() != species_symbols.size())
      throw fail(path, "species list empty or inconsistent");
    cutoff = meta.at("cutoff").get<double>();
    halo = meta.at("halo").get<double>();
    if (!(cutoff > 0.0) || halo < cutoff) throw fail(path, "invalid cutoff/halo in metadata");
    // older files have no min_distance: the contract's default, 0.1 angstrom
    min_distance = meta.value("min_distance", 0.1 / meta.at("unit_factors").at("length").get<double>());
    const char *bases[kBases] = {"length", "energy", "charge", "time"};
    for (int k = 0; k < kBases; ++k) {
      if (k == TIME && version == 1) {
        unit_factor[k] = 1.0;    // format 1 has no time unit: velocities were per engine time unit, read as fs
        unit_names[k] = "fs";
        continue;
      }
      unit_factor[k] = meta.at("unit_factors").at(bases[k]).get<double>();
      unit_names[k] = meta.at("units").at(bases[k]).get<std::string>();
      if (!(unit_factor[k] > 0.0)) throw fail(path, std::string("invalid unit factor of ") + bases[k]);
    }
    const json inputs = meta.value("inputs", json::object());
    for (auto &item : inputs.items())
      input_dimension[item.key()] =
          read_dimension(item.value(), path, "input " + item.key(), version, item.key() == "velocities");
    input_dimension.emplace("velocities", Dimension{1, 0, 0, -1});    // files without an inputs table
    dtype_name = meta.at("dtype").get<std::string>();
    if (meta.contains("explicit_electrons"))
      read_explicit_electrons(meta.at("explicit_electrons"), species, path, electrons);
    for (auto &item : meta.at("outputs").items()) {
      OutputSpec spec;
      spec.name = item.key();
      const json &o = item.value();
      spec.per_atom = o.at("per_atom").get<bool>();
      spec.shape = o.at("shape").get<std::vector<int64_t>>();
      spec.size = 1;
      for (auto s : spec.shape) spec.size *= s;
      if (o.contains("needs")) spec.needs = o.at("needs").get<std::vector<std::string>>();
      const bool timed = std::find(spec.needs.begin(), spec.needs.end(), "velocities") != spec.needs.end();
      spec.dimension = read_dimension(o, path, "output " + spec.name, version, timed);
      spec.ghost = o.at("ghost").get<std::string>();
      spec.unit = o.value("unit", std::string());
      spec.reduction = o.value("reduction", std::string("sum"));
      spec.source = o.value("source", std::string());
      spec.per_atom_form = o.value("per_atom_form", std::string());
      if (spec.per_atom && spec.ghost != "sum" && spec.ghost != "local")
        throw fail(path, "per-atom output " + spec.name + " has unknown ghost rule '" + spec.ghost + "'");
      outputs[spec.name] = spec;
      output_order.push_back(spec.name);
    }
  } catch (const json::exception &e) {
    throw fail(path, std::string("malformed metadata: ") + e.what());
  }

  std::string want = dtype_req.empty() ? dtype_name : dtype_req;
  if (want == "float64")
    dtype = torch::kFloat64;
  else if (want == "float32")
    dtype = torch::kFloat32;
  else
    throw fail(path, "dtype must be float32 or float64, got '" + want + "'");
  if (want != dtype_name) module_.to(dtype);
  dtype_name = want;
}

void Model::check_payload(const std::string &expected)
{
  if (expected.empty()) {
    warnings.push_back("the model file records no payload checksum (exported by an older tensorml) and cannot be "
                       "checked for damage: export it again");
    return;
  }
  std::string actual;
  try {
    actual = payload_digest(path);
  } catch (const std::exception &e) {
    std::string msg = e.what();
    throw fail(path, "the archive is damaged (" + msg.substr(0, msg.find('\n')) + ")");
  }
  if (actual != expected)
    throw fail(path, "the model file is corrupt: the checksum of its contents (" + actual.substr(0, 16) +
                         "...) differs from the one recorded at export (" + expected.substr(0, 16) +
                         "...); copy or export the file again");
}

static std::string shape_text(const std::vector<int64_t> &shape)
{
  std::string text = "[";
  for (size_t k = 0; k < shape.size(); ++k) text += (k ? ", " : "") + std::to_string(shape[k]);
  return text + "]";
}

std::map<std::string, torch::Tensor> Model::evaluate(const c10::Dict<std::string, torch::Tensor> &inputs,
                                                     const std::vector<std::string> &requested)
{
  c10::List<std::string> req;
  for (const auto &r : requested) {
    if (!provides(r)) throw fail(path, "does not provide the output '" + r + "'");
    req.push_back(r);
  }
  c10::IValue result;
  try {
    result = module_.forward({inputs, req});
  } catch (const std::exception &e) {
    std::string msg = e.what();
    // TorchScript errors carry a long traceback; the first lines say what failed.
    std::istringstream lines(msg);
    std::string line, head;
    for (int k = 0; k < 6 && std::getline(lines, line); ++k) head += line + "\n";
    throw fail(path, "evaluation failed: " + head);
  }
  auto dict = result.toGenericDict();
  std::map<std::string, torch::Tensor> out;
  for (const auto &r : requested) {
    if (!dict.contains(r)) throw fail(path, "the module did not return the requested output '" + r + "'");
    torch::Tensor t = dict.at(r).toTensor().detach().to(torch::kCPU, torch::kFloat64).contiguous();
    const OutputSpec &spec = outputs.at(r);
    std::vector<int64_t> want = {spec.per_atom ? inputs.at("positions").size(0) : inputs.at("cell").size(0)};
    want.insert(want.end(), spec.shape.begin(), spec.shape.end());
    if (t.sizes().vec() != want)
      throw fail(path, "the output '" + r + "' has shape " + shape_text(t.sizes().vec()) + ", the metadata says " +
                           shape_text(want) + (spec.per_atom ? " (atoms first)" : " (systems first)"));
    if (!torch::isfinite(t).all().item<bool>()) throw fail(path, "non-finite values in the output '" + r + "'");
    out[r] = t;
  }
  return out;
}

}    // namespace TensorML
