/* -------------------------------------------------------------------------
   Registers pair_style student with LAMMPS' PLUGIN package.
------------------------------------------------------------------------- */

#include "pair_plugin.h"
#include "pair_student.h"

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  register_pair_plugin<LAMMPS_NS::PairStudent>(lmp, handle, regfunc, "student",
                                               "pair_style student: TorchScript students distilled by pair_student",
                                               "pair_student developers");
}
