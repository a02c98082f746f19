"""Shared by the tests of the checkout's benchmark harness (``benchmarks/``): the repository root
on ``sys.path``, so that ``import benchmarks`` finds the harness under any way of starting pytest
(``python -m pytest`` adds the working directory, the ``pytest`` script does not), and frames
labelled by Stillinger-Weber, a teacher that needs nothing but LAMMPS."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # after the installed package: the C++ folder pair_student/ must not shadow it


@pytest.fixture
def labelled():
    """``label(atoms, teacher="sw-si")``: a copy of ``atoms`` carrying the teacher's energy and forces."""
    from pair_student.teachers import get_teacher

    teachers = {}

    def label(atoms, teacher: str = "sw-si"):
        if teacher not in teachers:
            teachers[teacher] = get_teacher(teacher)
        result = teachers[teacher].compute(atoms)
        atoms = atoms.copy()
        atoms.calc = SinglePointCalculator(atoms, energy=result["energy"], forces=result["forces"])
        return atoms

    return label


@pytest.fixture
def si_frames(labelled):
    """``frames(n=5, reps=(2, 2, 2))``: diamond Si supercells rattled by 0.1 Å (seeds 0..n-1), SW-labelled."""

    def frames(n: int = 5, reps=(2, 2, 2)):
        out = []
        for seed in range(n):
            atoms = bulk("Si", "diamond", a=5.431, cubic=True) * reps
            atoms.rattle(0.1, seed=seed)
            out.append(labelled(atoms))
        return out

    return frames
