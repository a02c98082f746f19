"""Elastic constants from stress-strain: the 6x6 Voigt matrix of one model.

Each of the six Voigt strains is applied at +-``ELASTIC_STRAIN`` (shears as engineering strain,
so ``sigma_4 = C44 * gamma_yz``) and ``C_ij = (sigma_i(+) - sigma_i(-)) / (2 delta)``: the
central difference cancels the quadratic term, so 1 % strains are accurate to ~1e-4 relative
while keeping the stress far above the teacher's float32 noise.

Ions are relaxed in every strained cell (relaxed-ion constants, the ones experiments measure):
in diamond Si the clamped-ion C44 is about twice the relaxed one, so a clamped comparison would
judge the wrong number. The relaxation runs on the primitive cell (see
:func:`.phonons.primitive_cell`), where it costs a few evaluations of a 2-4 atom cell; the
clamped-ion matrix is the first stress of each relaxation and is kept in the report.

The residual force after relaxation sets the error: at 1 % shear the clamped forces in Si are
~0.1 eV/A, so ``ELASTIC_FMAX`` = 1e-3 eV/A leaves ~1 % of the internal-relaxation term.
"""

from __future__ import annotations

import itertools
from typing import List, Sequence

import numpy as np
from ase import Atoms, units

from .relax import relax, stress

ELASTIC_STRAIN = 0.01
ELASTIC_FMAX = 1e-3  # eV/A
ELASTIC_STEPS = 100
ELASTIC_MIN_GPA = 5.0  # a relative tolerance on a constant near zero is meaningless: such ones are not compared

#: Voigt index -> Cartesian pair, in ASE's stress order (xx, yy, zz, yz, xz, xy)
VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def strain_tensor(j: int, delta: float) -> np.ndarray:
    """Symmetric strain whose Voigt component ``j`` is ``delta`` (engineering strain for shears)."""
    eps = np.zeros((3, 3))
    a, b = VOIGT[j]
    if a == b:
        eps[a, a] = delta
    else:
        eps[a, b] = eps[b, a] = delta / 2
    return eps


def strained(atoms: Atoms, eps: np.ndarray) -> Atoms:
    out = atoms.copy()
    # rows of the cell are lattice vectors: a' = a (1 + eps)^T, and eps is symmetric
    out.set_cell(atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
    return out


def _stresses(calc, atoms: Atoms, relax_ions: bool) -> tuple:
    """``(clamped stress, relaxed stress, converged, steps)`` of one strained cell."""
    work = atoms.copy()
    work.calc = calc
    clamped = np.asarray(stress(calc, work))
    if not relax_ions:
        return clamped, clamped, True, 0
    relaxed, converged, steps = relax(calc, atoms, ELASTIC_FMAX, ELASTIC_STEPS)
    return clamped, np.asarray(stress(calc, relaxed)), converged, steps


def elastic_constants(calc, atoms: Atoms, *, delta: float = ELASTIC_STRAIN, relax_ions: bool = True) -> dict:
    """Voigt stiffness (GPa) of ``atoms`` as given, relaxed-ion unless ``relax_ions`` is false."""
    relaxed, clamped = np.zeros((6, 6)), np.zeros((6, 6))
    converged, steps = True, 0
    for j in range(6):
        plus = _stresses(calc, strained(atoms, strain_tensor(j, delta)), relax_ions)
        minus = _stresses(calc, strained(atoms, strain_tensor(j, -delta)), relax_ions)
        clamped[:, j] = (plus[0] - minus[0]) / (2 * delta)
        relaxed[:, j] = (plus[1] - minus[1]) / (2 * delta)
        converged = converged and plus[2] and minus[2]
        steps += plus[3] + minus[3]
    return {"C_GPa": (relaxed / units.GPa).tolist(), "C_clamped_GPa": (clamped / units.GPa).tolist(),
            "ions": "relaxed" if relax_ions else "clamped", "strain": delta, "natoms": len(atoms),
            "converged": converged, "steps": steps}


def _to_tensor(c: np.ndarray) -> np.ndarray:
    t = np.zeros((3, 3, 3, 3))
    for (p, (i, j)), (q, (k, l)) in itertools.product(enumerate(VOIGT), repeat=2):
        for a, b, c_, d in ((i, j, k, l), (j, i, k, l), (i, j, l, k), (j, i, l, k)):
            t[a, b, c_, d] = c[p, q]
    return t


def _to_voigt(t: np.ndarray) -> np.ndarray:
    return np.array([[t[i, j, k, l] for k, l in VOIGT] for i, j in VOIGT])


def symmetrize(c, rotations: Sequence[np.ndarray]) -> np.ndarray:
    """The Voigt matrix averaged over the crystal's point group (Cartesian rotations) and made
    symmetric: removes finite-difference noise and any pre-stress asymmetry before comparing."""
    c = np.asarray(c, float)
    t = _to_tensor(0.5 * (c + c.T))
    rotations = list(rotations) or [np.eye(3)]
    avg = sum(np.einsum("ia,jb,kc,ld,abcd->ijkl", r, r, r, r, t) for r in rotations) / len(rotations)
    return _to_voigt(avg)


def independent_components(rotations: Sequence[np.ndarray], seed: int = 0) -> List[List[int]]:
    """Voigt entries ``[i, j]`` (``i <= j``) that the point group leaves nonzero and unrelated:
    a random stiffness averaged over the group is equal (up to sign) where symmetry makes entries
    equal and zero where it makes them vanish, so one representative per value is kept. Entries
    that are linear combinations of others (hexagonal C66 = (C11 - C12) / 2) stay in the list."""
    probe = np.random.default_rng(seed).normal(size=(6, 6))
    probe = symmetrize(probe + probe.T + 12 * np.eye(6), rotations)
    scale = np.abs(probe).max()
    kept: List[tuple] = []
    for i in range(6):
        for j in range(i, 6):
            v = abs(probe[i, j])
            if v > 1e-8 * scale and all(abs(v - w) > 1e-8 * scale for w, _ in kept):
                kept.append((v, [i, j]))
    return [ij for _, ij in kept]


def label(ij: Sequence[int]) -> str:
    return f"C{ij[0] + 1}{ij[1] + 1}"


__all__ = ["ELASTIC_STRAIN", "elastic_constants", "strain_tensor", "strained", "symmetrize",
           "independent_components", "label"]
