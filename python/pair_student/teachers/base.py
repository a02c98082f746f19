"""The small interface every teacher implements, and the adapter for any ASE calculator.

A teacher is whatever produces the reference energies, forces and stresses a student is
distilled from. Everything downstream (sampling, labelling) only touches :class:`Teacher`.
"""

from __future__ import annotations

from importlib import metadata
from typing import Dict, Iterable, List, Optional, Sequence, Set

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

Result = Dict[str, object]


class Teacher:
    """Base class: subclasses set ``name``, ``version``, ``conservative`` and ``calculator()``.

    Attributes:
        name: registry name (e.g. ``"sevennet"``), written to every labelled frame.
        version: backend and weights version, written to every labelled frame so a dataset
            says exactly which model labelled it.
        conservative: True when forces are minus the gradient of the energy (finite
            differences of the energy reproduce them); False for direct-force models.
    """

    name: str = "teacher"
    version: str = "unknown"
    conservative: bool = True

    def calculator(self):
        """The ASE calculator that evaluates this teacher (shared, not a copy)."""
        raise NotImplementedError

    def covered_elements(self) -> Optional[Set[str]]:
        """The elements this teacher has parameters for; None when it takes any element."""
        return None

    def check_elements(self, symbols: Iterable[str], *, where: str) -> None:
        """One clear error, before any expensive work, when ``where`` holds an element this
        teacher cannot label (it would otherwise fail, or worse, guess, mid-run)."""
        covered = self.covered_elements()
        missing = sorted(set(symbols) - covered) if covered is not None else []
        if missing:
            raise ValueError(
                f"teacher {self.name} has no parameters for {', '.join(missing)} (in {where}); it covers "
                f"{', '.join(sorted(covered))}: choose a teacher that covers every element of the structures")

    def compute(self, atoms: Atoms) -> Result:
        """Energy (eV), forces ((N,3) eV/A) and stress ((6,) eV/A^3, ASE Voigt sign; None
        when the structure is not periodic in all three directions) of one structure.

        The input ``atoms`` is not modified: a copy carries the calculator.
        """
        work = atoms.copy()
        work.calc = self.calculator()
        energy = float(work.get_potential_energy())
        forces = np.array(work.get_forces(), dtype=np.float64).reshape(len(work), 3)
        stress = None
        if np.all(work.pbc):
            stress = np.array(work.get_stress(voigt=True), dtype=np.float64).reshape(6)
        work.calc = None
        return {"energy": energy, "forces": forces, "stress": stress}

    def compute_batch(self, frames: Sequence[Atoms]) -> List[Result]:
        """:meth:`compute` for many structures; backends that can batch override this."""
        return [self.compute(atoms) for atoms in frames]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, version={self.version!r})"


class ASETeacher(Teacher):
    """Any ASE calculator as a teacher.

    Args:
        calc: an ASE calculator that provides ``energy`` and ``forces`` (and ``stress`` for
            periodic cells).
        name: name recorded in datasets; defaults to the calculator's class name.
        version: version recorded in datasets; defaults to the calculator module's package
            version when it has one.
        conservative: whether its forces are energy gradients (True for almost every
            classical potential and most ML potentials).
    """

    def __init__(
        self,
        calc,
        *,
        name: Optional[str] = None,
        version: Optional[str] = None,
        conservative: bool = True,
    ) -> None:
        self._calc = calc
        self.name = name or type(calc).__name__.lower()
        self.version = version or _package_version(type(calc).__module__)
        self.conservative = conservative

    def calculator(self):
        return self._calc


def _package_version(module: str) -> str:
    top = module.split(".")[0]
    try:
        return f"{top}-{metadata.version(top)}"
    except metadata.PackageNotFoundError:
        return top


class TeacherCalculator(Calculator):
    """An ASE calculator that routes through :meth:`Teacher.compute`, so MD and optimisers see
    exactly what the labelling sees (dtype handling included)."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, teacher: Teacher) -> None:
        super().__init__()
        self.teacher = teacher

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        out = self.teacher.compute(self.atoms)
        self.results = {"energy": out["energy"], "free_energy": out["energy"], "forces": out["forces"]}
        if out["stress"] is not None:
            self.results["stress"] = out["stress"]


def teacher_calculator(teacher: Teacher) -> TeacherCalculator:
    """An ASE calculator that evaluates ``teacher`` via its :meth:`Teacher.compute`."""
    return TeacherCalculator(teacher)
