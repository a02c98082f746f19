"""Molecule properties of one model (``pbc`` all false), see :mod:`.properties` for what is compared.

Torsion scans: every rotatable bond ``j-k`` (both ends bonded to something else, not in a ring)
gets the dihedral ``i-j-k-l`` with ``i``, ``l`` the heaviest other neighbours (lowest index on a
tie): for ethanol H-C-C-O (methyl) and C-C-O-H (hydroxyl). The scan starts from the teacher's
minimum; at each of ``TORSION_POINTS`` angles the ``k`` side is rotated rigidly and the
structure relaxed with that dihedral held (ASE ``FixInternals``), so the profile is the relaxed
one a force field is fitted to, not a rigid rotation that clashes hydrogens. Every model starts
every point from the same rotated structure.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Dict, List, Optional

import numpy as np
from ase import Atoms, units
from ase.constraints import FixInternals

from .compare import bond_pairs
from .relax import energy, relax

MOLECULE_FMAX = 0.01  # eV/A; tighter than the vacancy: a loose minimum shifts the soft modes
MOLECULE_STEPS = 300
HESSIAN_DELTA = 0.01  # A
FREQ_MIN_CM = 100.0  # below this are near-zero rigid-body modes and numerical noise
TORSION_POINTS = 12  # 30 degree steps: resolves the three-fold methyl and hydroxyl profiles
# energy error of a relaxation stopped at fmax is ~ fmax^2 / (2 k) < 1e-3 eV for k ~ 1 eV/A^2:
# far below the torsion tolerance
TORSION_FMAX = 0.03
TORSION_STEPS = 200
TORSION_MAX_BONDS = 4  # each costs TORSION_POINTS constrained relaxations of the teacher
TORSION_BOND_FACTOR = 1.2  # bonds: within 1.2 x the covalent-radius sum, as the stability check


def kabsch_rmsd(a: np.ndarray, b: np.ndarray) -> float:
    """RMSD of ``a`` onto ``b`` after removing translation and the best rotation."""
    a, b = a - a.mean(0), b - b.mean(0)
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))  # a reflection is not a rigid motion
    rot = u @ np.diag([1.0, 1.0, d]) @ vt
    return float(np.sqrt(((a @ rot - b) ** 2).sum(1).mean()))


def frequencies(calc, atoms: Atoms, *, delta: float = HESSIAN_DELTA) -> List[float]:
    """Harmonic frequencies in cm-1 (imaginary ones negative), from central differences of forces."""
    n = len(atoms)
    work = atoms.copy()
    work.calc = calc
    hessian = np.empty((3 * n, 3 * n))
    for i in range(n):
        for k in range(3):
            row = []
            for sign in (1, -1):
                disp = atoms.positions.copy()
                disp[i, k] += sign * delta
                work.positions = disp
                row.append(work.get_forces().ravel())
            hessian[3 * i + k] = -(row[0] - row[1]) / (2 * delta)
    hessian = 0.5 * (hessian + hessian.T)
    inv_sqrt_m = np.repeat(atoms.get_masses() ** -0.5, 3)
    eig = np.linalg.eigvalsh(hessian * inv_sqrt_m[:, None] * inv_sqrt_m[None, :])
    # eV/(A^2 amu) -> hbar*omega in eV -> cm-1, as ase.vibrations does it
    s = units._hbar * 1e10 / math.sqrt(units._e * units._amu)
    return [float(np.sign(x) * s * math.sqrt(abs(x)) / units.invcm) for x in eig]


def _neighbours(atoms: Atoms) -> Dict[int, List[int]]:
    graph: Dict[int, List[int]] = {i: [] for i in range(len(atoms))}
    for a, b, _ in zip(*bond_pairs(atoms, TORSION_BOND_FACTOR)):
        graph[int(a)].append(int(b))
        graph[int(b)].append(int(a))
    return graph


def _side(graph: Dict[int, List[int]], j: int, k: int) -> Optional[List[int]]:
    """Atoms reached from ``k`` without crossing the bond ``j-k``; None when ``j`` is reached
    another way (the bond is in a ring and cannot be rotated rigidly)."""
    seen, todo = {k}, deque([k])
    while todo:
        x = todo.popleft()
        for n in graph[x]:
            if x == k and n == j:
                continue
            if n == j:
                return None
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return sorted(seen)


def rotatable_dihedrals(atoms: Atoms, limit: int = TORSION_MAX_BONDS) -> List[dict]:
    """``{"atoms": [i, j, k, l], "moving": [...], "label": "H-C-C-O"}`` per rotatable bond."""
    graph, z = _neighbours(atoms), atoms.numbers
    symbols = atoms.get_chemical_symbols()
    found = []
    for j in range(len(atoms)):
        for k in graph[j]:
            if k < j or len(graph[j]) < 2 or len(graph[k]) < 2:
                continue
            moving = _side(graph, j, k)
            if moving is None:
                continue
            i = min((n for n in graph[j] if n != k), key=lambda n: (-z[n], n))
            l = min((n for n in graph[k] if n != j), key=lambda n: (-z[n], n))
            found.append({"atoms": [i, j, k, l], "moving": moving,
                          "label": "-".join(symbols[x] for x in (i, j, k, l))})
    return found[:limit]


def torsion_scan(calc, atoms: Atoms, dihedral: dict, *, points: int = TORSION_POINTS, relaxed: bool = True) -> dict:
    """Energies along one dihedral from ``atoms`` (the teacher's minimum), each point relaxed
    with the dihedral fixed unless ``relaxed`` is false."""
    i, j, k, l = dihedral["atoms"]
    phi0 = atoms.get_dihedral(i, j, k, l)
    angles = [(phi0 + 360.0 * m / points) % 360.0 for m in range(points)]
    energies, converged, steps, drift = [], [], [], 0.0
    for phi in angles:
        start = atoms.copy()
        start.set_dihedral(i, j, k, l, phi, indices=dihedral["moving"])
        if not relaxed:
            energies.append(energy(calc, start))
            continue
        fix = FixInternals(dihedrals_deg=[[phi, [i, j, k, l]]])
        done, ok, n = relax(calc, start, TORSION_FMAX, TORSION_STEPS, constraint=fix)
        energies.append(float(done.get_potential_energy()))
        converged.append(ok)
        steps.append(n)
        # the constraint is enforced iteratively: a held dihedral that slipped would compare
        # energies at other angles than the teacher's
        drift = max(drift, abs((done.get_dihedral(i, j, k, l) - phi + 180.0) % 360.0 - 180.0))
    e = np.array(energies)
    return {**dihedral, "angles_deg": angles, "energies_eV": energies, "profile_eV": (e - e.min()).tolist(),
            "barrier_eV": float(np.ptp(e)), "relaxed": relaxed, "converged": all(converged), "steps": sum(steps),
            "dihedral_drift_deg": drift}


def molecule_properties(calc, atoms: Atoms, *, full: bool = False, reference: Optional[dict] = None) -> dict:
    """Relaxed geometry and frequencies; with ``full`` also the torsion scans, from the
    ``reference`` (teacher's) minimum and dihedrals when given, else from this model's own."""
    relaxed, converged, steps = relax(calc, atoms, MOLECULE_FMAX, MOLECULE_STEPS)
    out = {"positions": relaxed.positions.tolist(), "converged": converged, "steps": steps,
           "frequencies_cm": frequencies(calc, relaxed)}
    if full:
        minimum = atoms.copy()
        minimum.positions = np.array((reference or out)["positions"])
        dihedrals = [{k: d[k] for k in ("atoms", "moving", "label")} for d in reference["torsions"]] \
            if reference else rotatable_dihedrals(minimum)
        out["torsions"] = [torsion_scan(calc, minimum, d) for d in dihedrals]
    return out


def torsion_rmse(teacher: dict, student: dict) -> Optional[float]:
    """RMSE of the two profiles, each relative to its own minimum (absolute energies of the two
    models may differ by a constant that does nothing to the profile)."""
    t, s = np.asarray(teacher["profile_eV"]), np.asarray(student["profile_eV"])
    if t.shape != s.shape or not np.all(np.isfinite(s)):
        return None
    return float(np.sqrt(np.mean((s - t) ** 2)))


__all__ = ["kabsch_rmsd", "frequencies", "molecule_properties", "rotatable_dihedrals", "torsion_scan",
           "torsion_rmse", "MOLECULE_FMAX", "HESSIAN_DELTA", "FREQ_MIN_CM", "TORSION_POINTS"]
