/* -------------------------------------------------------------------------
   Registers deepmd-kit's pair_style deepmd, compiled from its sources
   against the headers of the LAMMPS that loads it (see deepmd_build.py).
------------------------------------------------------------------------- */

#include "lammps.h"
#include "lammpsplugin.h"
#include "pair_deepmd.h"

using namespace LAMMPS_NS;

static Pair *deepmdcreator(LAMMPS *lmp)
{
  return new PairDeepMD(lmp);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
  auto register_plugin = (lammpsplugin_regfunc) regfunc;
  plugin.version = ((LAMMPS *) lmp)->version;
  plugin.style = "pair";
  plugin.name = "deepmd";
  plugin.info = "deepmd-kit pair_style deepmd, built against this LAMMPS by pair_student";
  plugin.author = "deepmd-kit developers";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &deepmdcreator;
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);
}
