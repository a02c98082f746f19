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

from typing import Dict, Mapping, Sequence, Tuple

import torch
from ase.data import atomic_numbers, covalent_radii

from ..contract import EDGE_INDEX, EDGE_VECTORS, SPECIES

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


def fit_windows(model: torch.nn.Module, *, lowest: float = 0.2, points: int = 240, step: float = 0.02,
                shortest_outer: float = 0.4) -> Dict[str, Dict[str, float]]:
    """Make every isolated dimer repulsive from ``lowest`` up to its window's outer edge.

    Each pair's window starts at the shortest training distance. Where the learned isolated
    dimer still attracts just below it (a like pair whose shortest distance in the data lies
    above its dimer bond, as N-N in GaN), the window moves down in steps of ``step`` x its start
    (keeping ``inner / outer``) until the dimer repels at every one of ``points`` distances
    down to ``lowest``; a window never moves up, so the data stay outside it. Returns, per pair
    ``"A-B"``, the shortest distance, the window chosen and the most attractive slope left
    (eV/A, negative when the dimer repels everywhere). Raises ValueError when no window of at
    least ``shortest_outer`` x the start works."""
    n, elements = model.num_elements, model.elements
    inner, outer = model.core_inner.clone().view(n, n), model.core_outer.clone().view(n, n)
    report: Dict[str, Dict[str, float]] = {}
    for i in range(n):
        for j in range(i, n):
            start, fraction = outer[i, j].item(), inner[i, j].item() / outer[i, j].item()
            for k in range(int((1.0 - shortest_outer) / step) + 1):
                o = start * (1.0 - step * k)
                inner[i, j] = inner[j, i] = fraction * o
                outer[i, j] = outer[j, i] = o
                model.set_core_repulsion(inner.reshape(-1), outer.reshape(-1))
                r = torch.linspace(lowest, o, points, dtype=torch.float64)
                worst = dimer_slopes(model, i, j, r).max().item()
                if worst < 0.0:
                    break
            else:
                raise ValueError(f"the {elements[i]}-{elements[j]} dimer still attracts with its core window at "
                                 f"{o:.3f} A; the student's learned short-range part is unusable")
            report[f"{elements[i]}-{elements[j]}"] = {"shortest": start, "inner": fraction * o, "outer": o,
                                                      "max_slope": worst}
    return report
