"""Per-atom uncertainty of a local student: how far an atom's invariants lie from the training
set's, calibrated into the force error that distance predicts.

The readout of an atom sees only its invariants ``x`` (:meth:`LocalStudent.invariants`, the
rotation invariants of its neighbour moments). Per element, the training split gives their
mean ``mu`` and covariance ``S``; an atom's distance is the whitened RMS

    d = sqrt((x - mu)^T (S + lambda I)^-1 (x - mu) / features)        (<= 1 on training atoms)

which is ACE's D-optimality idea on a nonlinear model's input: large where the readout meets a
combination of invariants it was never fitted on. ``lambda`` is ``ridge`` times the mean
variance, so directions the training set never moved in count as strongly novel, not as
infinitely so. The calibration ``u = a * d**p`` is fitted on the validation split only (a
log-log line through the RMS force error of atoms binned by ``d``), so ``u`` is in eV/A: the
force error to expect of that atom. Test frames play no part.

Why the invariants: on the validation splits of the large datasets (never a held-out frame)
they ranked frames by their worst atom error better than the readout's last activations
(Spearman 0.90-0.96 against 0.81-0.93 over the nine shipped students) and flagged the bad
frames at least as well, for about twice the estimator's small cost; a committee of the three
sizes did no better than the invariants at 2.4-4.8x a student's cost
(``python -m benchmarks uncertainty --on selection``).

Cost: one lower-triangular ``features x features`` product per atom, which the native kernel
runs only on the steps asked for (``pair_style student ... uncertainty yes every N``).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import torch
from ase import Atoms

from ..contract import EDGE_INDEX, EDGE_VECTORS, NUM_LOCAL, SPECIES
from ..data.dataset import frame_labels
from ..graph import atoms_to_graph, edge_forces
from .local import LocalStudent

RIDGE = 1e-3
"""Ridge of the covariance, relative to its mean diagonal."""
BINS = 10
"""Quantile bins of the distance in the calibration fit."""
POWER_RANGE = (0.5, 3.0)
"""The calibration's exponent is kept in this range: validation atoms span a narrow band of
distances, and a steeper or flatter law fitted there would extrapolate wildly."""


def _graph(model: LocalStudent, atoms: Atoms) -> Dict[str, torch.Tensor | int]:
    dtype = model.readout_out.weight.dtype
    return atoms_to_graph(atoms, model.cutoff, model.elements, dtype=dtype)


Features = Callable[[LocalStudent, Atoms], Tuple[torch.Tensor, torch.Tensor]]


def _moments(model: LocalStudent, atoms: Atoms) -> Tuple[torch.Tensor, torch.Tensor]:
    g = _graph(model, atoms)
    n = g[NUM_LOCAL]
    moments, _ = model.local_moments(g[SPECIES], g[EDGE_INDEX], g[EDGE_VECTORS], n)
    return g[SPECIES][:n], moments


@torch.no_grad()
def invariants_of(model: LocalStudent, atoms: Atoms) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(species (n,), x (n, features))``: the readout's input, what the shipped estimator measures."""
    species, moments = _moments(model, atoms)
    return species, model.invariants(moments)


@torch.no_grad()
def hidden_of(model: LocalStudent, atoms: Atoms) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(species (n,), h (n, hidden))``: the readout's last activations, the alternative the
    benchmark compares against (``python -m benchmarks uncertainty``)."""
    species, moments = _moments(model, atoms)
    return species, model.hidden_features(species, moments)


def fit_statistics(model: LocalStudent, frames: Sequence[Atoms], ridge: float = RIDGE,
                   features: Features = invariants_of) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per element the mean ``(num_elements, width)`` and whitening ``(num_elements, width,
    width)`` (the inverse Cholesky factor of the ridged covariance) of the ``features`` of ``frames``."""
    parts = [features(model, a) for a in frames]
    species = torch.cat([s for s, _ in parts])
    h = torch.cat([x for _, x in parts]).double()
    hidden = h.shape[1]
    means, whitens = [], []
    for e, element in enumerate(model.elements):
        x = h[species == e]
        if len(x) < 2:
            raise ValueError(f"the frames hold {len(x)} {element} atom(s); the uncertainty needs the "
                             "training frames of every element the student knows")
        mu = x.mean(0)
        cov = (x - mu).T @ (x - mu) / len(x)
        lam = ridge * float(torch.diagonal(cov).mean()) + 1e-12
        chol = torch.linalg.cholesky(cov + lam * torch.eye(hidden, dtype=cov.dtype))
        means.append(mu)
        whitens.append(torch.linalg.solve_triangular(chol, torch.eye(hidden, dtype=cov.dtype), upper=False))
    return torch.stack(means), torch.stack(whitens)


@torch.no_grad()
def distances(model: LocalStudent, atoms: Atoms, mean: torch.Tensor, whiten: torch.Tensor,
              features: Features = invariants_of) -> np.ndarray:
    """The whitened RMS distance ``d`` of each atom of ``atoms`` (uncalibrated)."""
    species, h = features(model, atoms)
    s = species.long()
    z = torch.bmm(whiten[s].to(h.dtype), (h - mean[s].to(h.dtype)).unsqueeze(2)).squeeze(2)
    return torch.sqrt((z * z).mean(1)).double().numpy()


def force_errors(model: torch.nn.Module, atoms: Atoms, elements: Sequence[str], cutoff: float) -> np.ndarray:
    """``|F_student - F_teacher|`` per atom of a labelled frame (eV/A)."""
    labels = frame_labels(atoms)
    if labels is None:
        raise ValueError("a frame without teacher forces cannot calibrate or test an uncertainty")
    dtype = next(model.parameters()).dtype
    g = atoms_to_graph(atoms, cutoff, elements, dtype=dtype)
    _, grad = model(g[SPECIES], g[EDGE_INDEX], g[EDGE_VECTORS].requires_grad_(True), g[NUM_LOCAL])
    forces = edge_forces(g[EDGE_INDEX], grad.detach(), g[NUM_LOCAL]).numpy()
    return np.linalg.norm(forces.astype(np.float64) - labels["forces"], axis=1)


def fit_calibration(d: np.ndarray, errors: np.ndarray, bins: int = BINS) -> Tuple[float, float]:
    """``(a, p)`` of ``u = a * d**p`` through the RMS error of the atoms in quantile bins of ``d``."""
    d, errors = np.asarray(d, dtype=float), np.asarray(errors, dtype=float)
    edges = np.quantile(d, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, d, side="right") - 1, 0, bins - 1)
    x, y = [], []
    for b in range(bins):
        mine = which == b
        if mine.sum() >= 2:
            x.append(np.log(np.maximum(d[mine], 1e-12)).mean())
            y.append(np.log(max(np.sqrt((errors[mine] ** 2).mean()), 1e-12)))
    x, y = np.array(x), np.array(y)
    p = float(np.polyfit(x, y, 1)[0]) if len(x) >= 2 and np.ptp(x) > 0 else 1.0
    p = float(np.clip(p, *POWER_RANGE))
    a = float(np.exp((y - p * x).mean()))
    return a, p


def fit_uncertainty(model: LocalStudent, train: Sequence[Atoms], validation: Sequence[Atoms],
                    ridge: float = RIDGE) -> Dict[str, object]:
    """Give ``model`` its uncertainty: statistics from ``train``, calibration from ``validation``.
    Returns what was fitted, for the file's provenance."""
    if not train or not validation:
        raise ValueError("the uncertainty needs training frames (statistics) and validation frames "
                         "(calibration); the dataset lacks one of the two splits")
    mean, whiten = fit_statistics(model, train, ridge)
    d: List[np.ndarray] = []
    errors: List[np.ndarray] = []
    for atoms in validation:
        d.append(distances(model, atoms, mean, whiten))
        errors.append(force_errors(model, atoms, model.elements, model.cutoff))
    a, p = fit_calibration(np.concatenate(d), np.concatenate(errors))
    model.set_uncertainty(mean, whiten, torch.tensor([a, p], dtype=torch.float64))
    return {
        "estimator": "whitened distance of the invariants (the readout input), per element",
        "ridge": ridge, "train_frames": len(train), "validation_frames": len(validation),
        "calibration": {"a": a, "p": p, "form": "u = a * d**p (eV/A)"},
        "validation_distance_median": float(np.median(np.concatenate(d))),
        "validation_force_error_rms": float(np.sqrt((np.concatenate(errors) ** 2).mean())),
    }
