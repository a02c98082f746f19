"""Core repulsion: screened nuclear repulsion (ZBL) below the shortest distances of the data.

A student learns only where its data go. Pushed below the shortest distance of an element pair
in its training frames, a learned radial function extrapolates, and two nuclei 0.05 A apart may
attract. Every local student therefore carries, per ordered element pair ``(zi, zj)``, a window
``[inner, outer]`` with ``outer`` the shortest distance of that pair in the training data:

    S(r)      = 1 for r <= inner, 0 for r >= outer, the C2 quintic step in between
    V(r)      = k Zi Zj / r * phi(r / a),   a = 0.46850 / (Zi^0.23 + Zj^0.23)   (ZBL, eV, A)
    E_pair    = S(r) V(r)                   shared half and half by the two atoms of the edge
    R(r)     -> (1 - S(r)) R(r)             the learned radial weights fade out as V takes over

Above ``outer`` nothing changes, so the repulsion does not move any prediction on the data the
student was fitted to. Below ``inner`` the learned part no longer sees the close neighbour at
all, and the pair energy is the ZBL universal screened Coulomb repulsion, which rises without
bound. The window sits inside the data, so it costs one comparison per edge in the native
kernel of ``pair_style student`` (``pair_student/student_native.cpp``), which evaluates the
same formulas from the same buffers.

A window with ``outer == 0`` is off: the student is exactly the network. Files written before
the repulsion existed have no such buffers and run unchanged.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Sequence, Tuple

import numpy as np
import torch
from ase.data import atomic_numbers, covalent_radii

from ..contract import EDGE_INDEX, EDGE_VECTORS, NUM_LOCAL, SPECIES
from ..graph import atoms_to_graph, edge_forces

INNER_FRACTION = 0.6
"""``inner = INNER_FRACTION * outer``: the learned part hands over to ZBL across the last 40 %
of the way to the shortest training distance; narrower windows give steeper energy ramps
where the learned dimer energy and the ZBL energy differ most."""
UNSEEN_FRACTION = 0.8
"""A pair absent from the data within the cutoff gets ``outer`` at this fraction of the sum of
the two covalent radii: its learned radial function was never fitted, so it is faded out
below a short bond."""


def core_windows(elements: Sequence[str], shortest: Mapping[Tuple[str, str], float],
                 inner_fraction: float = INNER_FRACTION) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(inner, outer)``, each ``(num_elements ** 2,)`` in float64, row ``zi * n + zj``, from the
    shortest distance of each unordered element pair in the training data (missing pairs: see
    :data:`UNSEEN_FRACTION`)."""
    if not 0.0 < inner_fraction < 1.0:
        raise ValueError(f"inner_fraction must lie in (0, 1), got {inner_fraction}")
    n = len(elements)
    outer = torch.zeros(n * n, dtype=torch.float64)
    for i, a in enumerate(elements):
        for j, b in enumerate(elements):
            d = shortest.get((a, b), shortest.get((b, a)))
            if d is None:
                d = UNSEEN_FRACTION * (covalent_radii[atomic_numbers[a]] + covalent_radii[atomic_numbers[b]])
            if not d > 0.0:
                raise ValueError(f"the shortest {a}-{b} distance must be positive, got {d}")
            outer[i * n + j] = float(d)
    return inner_fraction * outer, outer


def zbl(r: torch.Tensor, zi: torch.Tensor, zj: torch.Tensor) -> torch.Tensor:
    """ZBL universal screened nuclear repulsion (eV) at distances ``r`` (A) between charges ``zi``, ``zj``;
    the constants are written out because TorchScript compiles this function (the native kernel
    holds the same numbers; ``tests/models/test_repulsion.py`` compares the two)."""
    a = 0.46850 / (zi.pow(0.23) + zj.pow(0.23))
    x = r / a
    phi = 0.18175 * torch.exp(-3.19980 * x) + 0.50986 * torch.exp(-0.94229 * x) \
        + 0.28022 * torch.exp(-0.40290 * x) + 0.02817 * torch.exp(-0.20162 * x)
    return 14.399645478425668 * zi * zj / r * phi


def switch(r: torch.Tensor, inner: torch.Tensor, outer: torch.Tensor) -> torch.Tensor:
    """S(r): 1 below ``inner``, 0 above ``outer`` (also where ``outer`` is 0: off), C2 between."""
    width = torch.clamp(outer - inner, min=1e-12)
    t = torch.clamp((r - inner) / width, 0.0, 1.0)
    return 1.0 - t * t * t * (10.0 - 15.0 * t + 6.0 * t * t)


def shortest_distances(graphs, elements: Sequence[str]) -> Dict[Tuple[str, str], float]:
    """Shortest edge length per unordered element pair (keys in ``elements`` order) over
    ``graphs`` (:func:`pair_student.graph.atoms_to_graph` dicts: only pairs within the cutoff)."""
    n = len(elements)
    best = torch.full((n * n,), float("inf"), dtype=torch.float64)
    for g in graphs:
        species, edges = g[SPECIES], g[EDGE_INDEX]
        if edges.shape[1] == 0:
            continue
        pair = species[edges[0]] * n + species[edges[1]]
        r = torch.linalg.norm(g[EDGE_VECTORS].double(), dim=1)
        best = torch.minimum(best, torch.full_like(best, float("inf")).scatter_reduce(0, pair, r, "amin"))
    return {(elements[i], elements[j]): best[i * n + j].item()
            for i in range(n) for j in range(i, n) if torch.isfinite(best[i * n + j])}


def dimer_slopes(model: torch.nn.Module, zi: int, zj: int, r: torch.Tensor) -> torch.Tensor:
    """dE/dr of isolated dimers of species indices ``zi``, ``zj`` at the distances ``r``, all in
    one graph of ``len(r)`` disjoint dimers (negative: the two atoms are pushed apart)."""
    k = r.shape[0]
    first = torch.arange(0, 2 * k, 2)
    species = torch.stack([torch.full((k,), zi), torch.full((k,), zj)], 1).reshape(-1)
    edge_index = torch.cat([torch.stack([first, first + 1]), torch.stack([first + 1, first])], 1)
    along = torch.zeros(k, 3, dtype=r.dtype)
    along[:, 0] = r
    _, grad = model(species, edge_index, torch.cat([along, -along]), 2 * k)
    return (grad[:k, 0] - grad[k:, 0]).detach()


def push_slopes(model: torch.nn.Module, atoms, i: int, j: int, r: torch.Tensor) -> torch.Tensor:
    """dE/dr with atom ``j`` of ``atoms`` moved onto the line from atom ``i`` (its nearest image)
    at the distances ``r``, everything else fixed: the pair pushed together in its environment."""
    elements = list(model.elements)
    bond = atoms.get_distance(i, j, mic=True, vector=True)
    u = torch.as_tensor(bond / max(float((bond ** 2).sum() ** 0.5), 1e-12), dtype=torch.float64)
    slopes = []
    for x in r.tolist():
        moved = atoms.copy()
        moved.positions[j] = atoms.positions[i] + x * u.numpy()
        g = atoms_to_graph(moved, model.cutoff, elements, dtype=torch.float64)
        _, grad = model(g[SPECIES], g[EDGE_INDEX], g[EDGE_VECTORS], g[NUM_LOCAL])
        force_on_j = edge_forces(g[EDGE_INDEX], grad.detach(), len(moved))[j]
        slopes.append(-(force_on_j * u).sum())
    return torch.stack(slopes)


def _closest_pairs(probes, elements: Sequence[str]) -> Dict[Tuple[int, int], list]:
    """Per species pair (i <= j), ``(frame, a, b)`` for the closest such pair of atoms in each probe."""
    found: Dict[Tuple[int, int], list] = {}
    index = {e: k for k, e in enumerate(elements)}
    for atoms in probes:
        d = atoms.get_all_distances(mic=True)
        d[np.diag_indices_from(d)] = np.inf
        kinds = np.array([index[s] for s in atoms.get_chemical_symbols()])
        for zi in range(len(elements)):
            for zj in range(zi, len(elements)):
                mask = (kinds[:, None] == zi) & (kinds[None, :] == zj) & np.isfinite(d)
                if mask.any():  # an atom is never its own pair: one O in ethanol gives no O-O push
                    a, b = np.unravel_index(np.where(mask, d, np.inf).argmin(), d.shape)
                    found.setdefault((zi, zj), []).append((atoms, int(a), int(b)))
    return found


def _slopes(model, zi: int, zj: int, top: float, pushes, lowest: float, points: int) -> Tuple[float, float]:
    """The steepest dE/dr below ``top`` of the isolated dimer (one batched call) and of the pushes
    in their environments (a graph per distance; only for a window whose dimer already repels,
    else ``inf``)."""
    # up to, not at, the outer edge, where the switch is flat: just inside it the slope is the
    # learned one, which must already repel, or the energy falls right below the window's edge
    r = torch.linspace(lowest, top, points + 1, dtype=torch.float64)[:-1]
    edge = torch.tensor([top * (1.0 - 1e-6)], dtype=torch.float64)
    dimer = dimer_slopes(model, zi, zj, torch.cat([r, edge])).max().item()
    if dimer >= 0.0:
        return dimer, float("inf")
    push = -float("inf")
    for atoms, a, b in pushes:
        push = max(push, push_slopes(model, atoms, a, b, r[:: max(1, points // 40)]).max().item())
    return dimer, push


def _fit_pair(model, i: int, j: int, pushes, lowest: float, points: int, fractions: Sequence[float],
              step: float, shortest_outer: float) -> Dict[str, Any]:
    """The window of pair (i, j), set in ``model``: the first candidate (see :func:`fit_windows`)
    whose dimer and pushes repel, else the first whose dimer does, else the least attractive."""
    n = model.num_elements
    inner, outer = model.core_inner.clone().view(n, n), model.core_outer.clone().view(n, n)
    start, chosen, dimer_only, least = outer[i, j].item(), None, None, None
    for k in range(int(round((1.0 - shortest_outer) / step)) + 1):
        for fraction in fractions:
            o = start * (1.0 - step * k)
            inner[i, j] = inner[j, i] = fraction * o
            outer[i, j] = outer[j, i] = o
            model.set_core_repulsion(inner.reshape(-1), outer.reshape(-1))
            dimer, push = _slopes(model, i, j, o, pushes, lowest, points)
            candidate = {"shortest": start, "inner": fraction * o, "outer": o, "max_slope": dimer,
                         "push_max_slope": push if push != -float("inf") else None,
                         "repulsive": dimer < 0.0 and push < 0.0}
            if candidate["repulsive"]:
                chosen = candidate
                break
            if dimer < 0.0 and dimer_only is None:
                dimer_only = candidate
            if least is None or max(dimer, push) < max(least["max_slope"], least["push_max_slope"] or -1e300):
                least = candidate
        if chosen:
            break
    pick = chosen or dimer_only or least
    inner[i, j] = inner[j, i] = pick["inner"]
    outer[i, j] = outer[j, i] = pick["outer"]
    model.set_core_repulsion(inner.reshape(-1), outer.reshape(-1))
    return pick


def fit_windows(model: torch.nn.Module, probes: Sequence = (), *, lowest: float = 0.2, points: int = 240,
                fractions: Sequence[float] = (0.6, 0.7, 0.8, 0.9), step: float = 0.04,
                shortest_outer: float = 0.4) -> Dict[str, Dict[str, Any]]:
    """Choose each pair's window so that the pair repels from the window's outer edge down to
    ``lowest``: as an isolated dimer, and pushed together inside each of ``probes`` (ASE
    structures, e.g. training frames) with everything else fixed.

    A window starts at the shortest training distance with ``inner / outer`` = the first of
    ``fractions``. Where the pair still attracts somewhere below it (the learned function
    extrapolates there), narrower windows are tried, then windows whose outer edge moves down
    in steps of ``step`` x its start, to ``shortest_outer`` x it: never up, so the data stay
    outside every window. Between a lowered outer edge and the shortest distance the student
    keeps what it learned, which for a like pair that the data never bring close (Ga-Ga, N-N in
    GaN, H-H in ethanol: bound as dimers, as the real ones are) may attract. The first window
    that repels everywhere below it is kept; else the first whose dimer repels (a push inside a
    molecule also bends its bonds, which may lower the energy); else the least attractive.
    Returns per pair ``"A-B"``: shortest, inner, outer, the steepest dimer slope below outer
    (``max_slope``, eV/A, negative: repulsive), that of the pushes (``push_max_slope``, None
    without probes) and ``repulsive`` (both negative)."""
    n, elements = model.num_elements, list(model.elements)
    pushes = _closest_pairs(probes, elements)
    return {f"{elements[i]}-{elements[j]}": _fit_pair(model, i, j, pushes.get((i, j), []), lowest, points, fractions,
                                                       step, shortest_outer)
            for i in range(n) for j in range(i, n)}
