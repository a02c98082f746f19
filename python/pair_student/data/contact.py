"""Close-contact frames: configurations shorter than anything MD at the sampled temperatures
reaches, so that a student's core repulsion can be switched on only below distances the training
data (and the teacher) cover.

Kinds (``atoms.info["provenance"]`` starts with the kind):

* ``contact pair A-B``: one to three disjoint A-B pairs, each pushed together along its own line
  to ``ratio`` x ``r0`` (``ratio`` drawn from ``contact_range``, default 0.65-0.9), where ``r0`` is
  the shortest A-B distance in the starting structure (the bond length for bonded pairs, the
  nearest like-atom distance for Ga-Ga in GaN). Both atoms move, mass-weighted, so the pair's
  centre of mass stays put and a hydrogen moves more than the carbon it is bonded to.
* ``contact compress`` (periodic cells): the whole cell scaled hydrostatically to a volume ratio in
  ``[min_volume, 0.97]``, plus a 0.03 A rattle.
* ``contact bond A-B compress|stretch`` (molecules, bonded pairs): one bond set to
  ``ratio`` x its length, ``ratio`` in ``contact_range`` (compress) or 1.1-1.5 (stretch).

Every frame starts from the input structure rattled by 0.03 A, so no two frames are equal.
"""

from __future__ import annotations

from itertools import combinations_with_replacement
from typing import Dict, List, Sequence, Tuple

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii

Pair = Tuple[str, str]
STRETCH_RANGE = (1.1, 1.5)
_RATTLE = 0.03
# A pair counts as a bond when shorter than this x the sum of covalent radii.
_BOND_FACTOR = 1.25


def _distances(atoms: Atoms) -> np.ndarray:
    periodic = bool(np.all(atoms.pbc))
    d = atoms.get_all_distances(mic=periodic)
    np.fill_diagonal(d, np.inf)
    return d


def reference_lengths(atoms: Atoms) -> Dict[Pair, float]:
    """Shortest distance of each element pair (sorted symbols) in ``atoms``: the ``r0`` that
    ``contact pair`` frames scale."""
    d = _distances(atoms)
    sym = np.array(atoms.get_chemical_symbols())
    out = {}
    for a, b in combinations_with_replacement(sorted(set(sym)), 2):
        block = d[np.ix_(sym == a, sym == b)]
        if np.isfinite(block).any():
            out[(a, b)] = float(block.min())
    return out


def _is_bond(pair: Pair, length: float) -> bool:
    return length < _BOND_FACTOR * sum(covalent_radii[atomic_numbers[s]] for s in pair)


def contact_kinds(atoms: Atoms) -> List[str]:
    """The contact kinds a structure gets, in a fixed order (frames cycle through them)."""
    periodic = bool(np.all(atoms.pbc))
    kinds = []
    for pair, r0 in reference_lengths(atoms).items():
        name = "-".join(pair)
        if not periodic and _is_bond(pair, r0):
            kinds += [f"bond {name} compress", f"bond {name} stretch"]
        else:
            kinds.append(f"pair {name}")
    if periodic:
        kinds.append("compress")
    return kinds


def _push(atoms: Atoms, i: int, j: int, target: float) -> None:
    """Move atoms i and j along their (minimum-image) line to distance ``target``, keeping their
    mass-weighted centre fixed."""
    vec = atoms.get_distance(i, j, mic=bool(np.all(atoms.pbc)), vector=True)
    length = np.linalg.norm(vec)
    unit = vec / length
    mi, mj = atoms.get_masses()[[i, j]]
    change = target - length  # > 0 stretches
    pos = atoms.positions
    pos[i] -= unit * change * mj / (mi + mj)
    pos[j] += unit * change * mi / (mi + mj)
    atoms.positions = pos


def _candidates(ref: Atoms, pair: Pair, r0: float, slack: float) -> np.ndarray:
    """(i, j) index pairs of elements ``pair`` within ``slack`` x r0 in the reference structure."""
    d = _distances(ref)
    sym = np.array(ref.get_chemical_symbols())
    mask = (sym[:, None] == pair[0]) & (sym[None, :] == pair[1]) & (d < slack * r0)
    i, j = np.nonzero(np.triu(mask | mask.T, 1))
    return np.stack([i, j], axis=1)


def _pair_frame(ref, kind, r0s, rng, lo, hi, max_pairs) -> Tuple[Atoms, str]:
    words = kind.split()
    pair = tuple(words[1].split("-"))
    r0 = r0s[pair]
    cands = _candidates(ref, pair, r0, 1.1)
    a = ref.copy()
    a.positions += rng.normal(0.0, _RATTLE, size=a.positions.shape)
    if words[0] == "bond":
        n_push = 1
        lo, hi = (lo, hi) if words[2] == "compress" else STRETCH_RANGE
    else:
        n_push = int(rng.integers(1, max_pairs + 1))
    used, ratios = set(), []
    for k in rng.permutation(len(cands)):
        i, j = (int(x) for x in cands[k])
        if i in used or j in used:
            continue
        ratio = float(rng.uniform(lo, hi))
        _push(a, i, j, ratio * r0)
        used.update((i, j))
        ratios.append(ratio)
        if len(ratios) == n_push:
            break
    return a, f"contact {kind} r0={r0:.4f} ratio=" + ",".join(f"{x:.3f}" for x in ratios)


def _compress_frame(ref, rng, min_volume) -> Tuple[Atoms, str]:
    v = float(rng.uniform(min_volume, 0.97))
    a = ref.copy()
    a.set_cell(a.cell.array * v ** (1.0 / 3.0), scale_atoms=True)
    a.positions += rng.normal(0.0, _RATTLE, size=a.positions.shape)
    return a, f"contact compress V={v:.4f}"


def contact_frames(atoms: Atoms, n: int, rng: np.random.Generator, *, contact_range: Sequence[float] = (0.65, 0.9),
                   min_volume: float = 0.85, max_pairs: int = 3) -> List[Tuple[Atoms, str]]:
    """``n`` close-contact frames of ``atoms`` as (frame, provenance), cycling through
    :func:`contact_kinds` so each kind gets ``n / len(kinds)`` frames."""
    lo, hi = (float(x) for x in contact_range)
    if not 0.0 < lo <= hi < 1.0:
        raise ValueError(f"contact_range must be two ratios 0 < lo <= hi < 1 (e.g. 0.65,0.9), not {contact_range}")
    if not 0.0 < min_volume < 0.97:
        raise ValueError(f"min_volume must lie in (0, 0.97) (e.g. 0.85), not {min_volume}")
    if len(atoms) < 2:
        raise ValueError("close-contact frames need at least two atoms")
    kinds = contact_kinds(atoms)
    r0s = reference_lengths(atoms)
    out = []
    for k in range(n):
        kind = kinds[k % len(kinds)]
        if kind == "compress":
            out.append(_compress_frame(atoms, rng, min_volume))
        else:
            out.append(_pair_frame(atoms, kind, r0s, rng, lo, hi, max_pairs))
    return out
