"""Where a round's exploration starts: the user's structures, and for a crystal the states
production MD reaches and a training set rarely holds (a vacancy, an interstitial, a free
surface, a melt); for a molecule hot MD and stretched bonds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii
from ase.neighborlist import natural_cutoffs, neighbor_list

MIN_ATOMS = 48
"""Crystals are repeated to at least this many atoms, so that a defect sits in a crystal."""
MELT_FACTOR = 2.0
"""A melt runs at this multiple of the hottest temperature asked for."""
STRETCHES = (1.15, 1.3, 1.45, 1.6)
"""Bond lengths of the stretched-bond frames, in multiples of the bond."""
SHORT_BONDS = (0.8, 0.9)
"""Bond lengths of the static dumbbells, in multiples of the single covalent bond: a bonded
pair may be a double or triple bond (N=N 1.25 A, N#N 1.10 A against 2 x 0.71 A)."""


@dataclass(frozen=True)
class Start:
    """One exploration: a structure and how to move it (``temperatures`` in K; ``static``: the
    frame is scored as it is, no MD)."""

    kind: str
    atoms: Atoms
    temperatures: tuple
    pressures: tuple = (0.0,)
    static: bool = False


def _supercell(atoms: Atoms) -> Atoms:
    reps = [1, 1, 1]
    while len(atoms) * int(np.prod(reps)) < MIN_ATOMS:
        lengths = atoms.cell.lengths() * reps
        reps[int(np.argmin(lengths))] += 1
    return atoms.repeat(reps)


def _clearance(atoms: Atoms, points: np.ndarray, reach: float, *, scale: Optional[np.ndarray] = None,
               skip: Optional[int] = None) -> np.ndarray:
    """For each of ``points``, the distance to the nearest atom of ``atoms`` (each divided by that
    atom's ``scale`` when given; atom ``skip`` ignored), capped at what ``reach`` allows."""
    probe = atoms + Atoms("X" * len(points), positions=points)
    i, j, d = neighbor_list("ijd", probe, reach)
    mine = (i >= len(atoms)) & (j < len(atoms)) & (j != (-1 if skip is None else skip))
    scale = np.ones(len(atoms)) if scale is None else scale
    nearest = np.full(len(points), reach / scale.min())
    np.minimum.at(nearest, i[mine] - len(atoms), d[mine] / scale[j[mine]])
    return nearest


def _void(atoms: Atoms, rng: np.random.Generator, tries: int = 400) -> np.ndarray:
    """A point far from every atom (the largest of ``tries`` random ones): an interstitial site."""
    points = rng.random((tries, 3)) @ atoms.cell.array
    return points[int(np.argmax(_clearance(atoms, points, 4.0)))]


def _dumbbell(cell: Atoms, added: str, partner: str, rng: np.random.Generator, factor: float = 1.0,
              tries: int = 400) -> Atoms:
    """``cell`` with an ``added`` atom bonded to a ``partner`` atom at their covalent bond
    length, in the direction that keeps it farthest from every other atom (in units of their
    own bond lengths): an interstitial whose bonded pair the student's own MD may never reach
    when its core repulsion holds that pair apart."""
    symbols = np.array(cell.get_chemical_symbols())
    host = int(rng.choice(np.flatnonzero(symbols == partner)))
    radius = covalent_radii[atomic_numbers[added]]
    bond = factor * (radius + covalent_radii[atomic_numbers[partner]])
    u = rng.normal(size=(tries, 3))
    points = cell.positions[host] + bond * u / np.linalg.norm(u, axis=1, keepdims=True)
    own = radius + np.array([covalent_radii[atomic_numbers[e]] for e in symbols])
    nearest = _clearance(cell, points, 3.0 * bond, scale=own, skip=host)
    return cell + Atoms(added, positions=[points[int(np.argmax(nearest))]])


def crystal_starts(atoms: Atoms, temperatures: Sequence[float], pressures: Sequence[float],
                   rng: np.random.Generator) -> List[Start]:
    cell = _supercell(atoms)
    temps, hot = tuple(temperatures), (MELT_FACTOR * max(temperatures),)
    starts = [Start("bulk", cell, temps, tuple(pressures))]
    for element in sorted(set(cell.get_chemical_symbols())):
        vacancy = cell.copy()
        del vacancy[int(rng.choice(np.flatnonzero(np.array(vacancy.get_chemical_symbols()) == element)))]
        starts.append(Start(f"vacancy {element}", vacancy, temps))
        interstitial = cell + Atoms(element, positions=[_void(cell, rng)])
        starts.append(Start(f"interstitial {element}", interstitial, temps))
    slab = cell.copy()
    slab.center(vacuum=6.0, axis=2)  # periodic in all three directions, with a gap along z
    starts.append(Start("surface", slab, temps))
    starts.append(Start("melt", cell, hot))
    elements = sorted(set(cell.get_chemical_symbols()))
    for k, added in enumerate(elements):
        for partner in elements[k:]:
            starts.append(Start(f"dumbbell {added}-{partner}", _dumbbell(cell, added, partner, rng), temps))
            starts += [Start(f"dumbbell {added}-{partner} x{f:g}", _dumbbell(cell, added, partner, rng, f), (),
                             static=True) for f in SHORT_BONDS]
    return starts


def _bonds(atoms: Atoms) -> List[tuple]:
    i, j = neighbor_list("ij", atoms, natural_cutoffs(atoms, mult=1.1))
    return [(a, b) for a, b in zip(i, j) if a < b]


def stretched(atoms: Atoms) -> List[Atoms]:
    """Every bond of a molecule at each of :data:`STRETCHES`, the two halves moved apart."""
    out = []
    for a, b in _bonds(atoms):
        bond = atoms.positions[b] - atoms.positions[a]
        length = float(np.linalg.norm(bond))
        for factor in STRETCHES:
            frame = atoms.copy()
            frame.positions[b] += (factor - 1.0) * bond
            frame.info["bond"] = f"{atoms[a].symbol}-{atoms[b].symbol} x{factor:g}"
            frame.info["bond_length"] = factor * length
            out.append(frame)
    return out


def molecule_starts(atoms: Atoms, temperatures: Sequence[float]) -> List[Start]:
    temps = tuple(temperatures)
    hot = (MELT_FACTOR * max(temperatures),)
    starts = [Start("molecule", atoms, temps), Start("hot molecule", atoms, hot)]
    starts += [Start(f"stretch {f.info['bond']}", f, (), static=True) for f in stretched(atoms)]
    return starts


def exploration_starts(structures: Sequence[Atoms], temperatures: Sequence[float], pressures: Sequence[float],
                       seed: int) -> List[Start]:
    """Every start of a round, the same for every round (the student changes, not the starts)."""
    rng = np.random.default_rng(seed)
    starts: List[Start] = []
    for atoms in structures:
        if bool(np.all(atoms.pbc)):
            starts += crystal_starts(atoms, temperatures, pressures, rng)
        else:
            starts += molecule_starts(atoms, temperatures)
    return starts


