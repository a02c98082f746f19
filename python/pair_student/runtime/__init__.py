"""Running students in LAMMPS: where the compiled ``pair_style student`` plugin is, the
environment ``lmp``/``mpirun`` need (MPICH, plugin path, threads) and a runner that reads back
what LAMMPS wrote."""

from .plugin import PLUGIN_NAME, lammps_env, lmp_command, lmp_executable, open_lammps, plugin_dir, plugin_path
from .runner import LammpsResult, read_dump, read_thermo, run_lammps

__all__ = ["PLUGIN_NAME", "lammps_env", "lmp_command", "lmp_executable", "open_lammps", "plugin_dir", "plugin_path",
           "LammpsResult", "read_dump", "read_thermo", "run_lammps"]
