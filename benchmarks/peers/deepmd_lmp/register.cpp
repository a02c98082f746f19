/* -------------------------------------------------------------------------
   Registers deepmd-kit's pair_style deepmd, compiled from its sources
   against the headers of the LAMMPS that loads it (see deepmd_build.py).
------------------------------------------------------------------------- */

#include "pair_deepmd.h"
#include "pair_plugin.h"

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  register_pair_plugin<LAMMPS_NS::PairDeepMD>(lmp, handle, regfunc, "deepmd",
                                              "deepmd-kit pair_style deepmd, built against this LAMMPS by pair_student",
                                              "deepmd-kit developers");
}
