"""The shipped students and the fixed cells their stored reference values were taken on."""

from __future__ import annotations

from pathlib import Path

from pair_student.data.structures import demo_structure
from pair_student.models.shipped import shipped_models



def shipped_cases():
    return [(system, size, path) for system, sizes in shipped_models().items() for size, path in sizes.items()]


def rattled(system: str):
    atoms = demo_structure(system)
    atoms.rattle(0.05, seed=11)
    if not atoms.pbc.any():
        atoms.cell = [20.0, 20.0, 20.0]
        atoms.center()
    return atoms


def variants(signature: str):
    """(dtype, gemm) pairs to record and compare; ``gemm auto`` picks by timing, so it is not
    reproducible, and ``packed`` exists only in AVX-512 builds."""
    gemms = ("blas", "packed") if "avx512f" in signature.split() else ("blas",)
    return [(dtype, gemm) for dtype in ("float64", "float32") for gemm in gemms]


def cpu_signature() -> str:
    """The vector extensions the plugin was compiled for (-march=native): the same source
    rounds differently with and without FMA/AVX-512, so bit equality is only owed on a CPU with
    the flags the reference was recorded on."""
    flags = set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    keep = ("avx", "avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512_fp16")
    return " ".join(f for f in keep if f in flags)
