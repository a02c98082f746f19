"""UF3 (ultra-fast force field: two- and three-body cubic B-splines) fitted with the ``uf3``
package to the teacher-labelled training split, run as ``pair_style uf3 3``.

uf3 builds the basis (``BSplineBasis``), the energy and force features (``BasisFeaturizer``)
and solves the regularised least squares (``WeightedLinearModel``); its own LAMMPS exporter
only writes two-body tables, so :func:`write_potential` writes the unified ``#UF3 POT`` file
that the ML-UF3 package of this LAMMPS reads (2B and 3B blocks, uniform knots ``uk``).

Hyperparameters (``CHOICES`` x ``CURVATURES`` x ``ENERGY_WEIGHTS``, chosen on the val split by
force RMSE of the linear model, which is what LAMMPS computes, see the tests):

* ``r2``/``res2``: two-body cutoff and number of knot intervals; ``r3``/``res3``: three-body
  cutoff on ``r_ij`` = ``r_ik`` (``r_jk`` goes to ``2 r3``, as the LAMMPS style requires) and
  intervals per leg (``res3`` on ``r_ij`` and ``r_ik``, ``2 res3`` on ``r_jk``, which starts at 0).
* ``CURVATURES``: curvature (smoothness) penalty of the 2B and 3B splines; the ridge term is
  uf3's default.
* ``ENERGY_WEIGHTS``: uf3's ``weight`` (energy vs force rows, each normalised by its std).

The last three coefficients of every spline are held at zero (uf3's ``trailing_trim=3``, the
only trim LAMMPS accepts), so energy and force go smoothly to zero at the cutoffs. The lower
end of the 2B knots is set below the shortest training distance (``R_MIN_FACTOR``): LAMMPS
reads coefficients out of bounds for distances more than one knot below it. uf3's one-body
(per-element) energies have no place in ``pair_style uf3``; they are kept in ``info`` and show
up as the constant energy offset that the accuracy report already ignores.
"""

from __future__ import annotations

import time
import warnings
from datetime import date
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
from ase import Atoms

from ..common import Potential

CHOICES: List[Dict[str, float]] = [
    {"r2": 5.5, "res2": 20, "r3": 3.5, "res3": 5},
    {"r2": 6.0, "res2": 24, "r3": 4.0, "res3": 6},
]
CURVATURES = (1e-8, 1e-6, 1e-4)
ENERGY_WEIGHTS = (0.1, 0.5)
RIDGE = {1: 1e-8, 2: 0.0, 3: 1e-5}  # uf3's defaults
R_MIN_FACTOR = 0.75
# keyword arguments of fit() in a full and a quick benchmark (see snap.SEARCH); featurising
# costs seconds per frame
SEARCH: Dict[str, object] = {}
QUICK: Dict[str, object] = {"choices": CHOICES[:1], "curvatures": (1e-6,), "energy_weights": (0.1,)}


def available() -> bool:
    try:
        import uf3  # noqa: F401
    except ImportError:
        return False
    return True


def _min_distance(frames: Sequence[Atoms], cutoff: float = 3.0) -> float:
    from ase.neighborlist import neighbor_list

    found = [neighbor_list("d", atoms, cutoff) for atoms in frames]
    found = [d.min() for d in found if len(d)]
    return float(min(found)) if found else cutoff


def _basis(elements: Sequence[str], choice: Dict[str, float], r_min: float):
    from uf3.data import composition
    from uf3.representation import bspline

    system = composition.ChemicalSystem(element_list=list(elements), degree=3)
    pairs, trios = system.interactions_map[2], system.interactions_map[3]
    r3, res3 = choice["r3"], int(choice["res3"])
    r_min_map = {p: r_min for p in pairs}
    r_max_map = {p: choice["r2"] for p in pairs}
    resolution = {p: int(choice["res2"]) for p in pairs}
    # the j-k leg starts at 0: LAMMPS and uf3 both drop triplets with a leg below its first
    # knot, and a short j-k leg (two close neighbours) must not make the energy jump
    r_min_map.update({t: [r_min, r_min, 0.0] for t in trios})
    r_max_map.update({t: [r3, r3, 2 * r3] for t in trios})
    resolution.update({t: [res3, res3, 2 * res3] for t in trios})
    return bspline.BSplineBasis(system, r_min_map=r_min_map, r_max_map=r_max_map, resolution_map=resolution,
                                leading_trim=0, trailing_trim=3)


def features(basis, frames: Sequence[Atoms]) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_energy, y_energy, x_force, y_force)`` of ``frames`` (total energies, forces in the
    frames' own axes, rows ordered frame by frame, atom by atom, x/y/z)."""
    from uf3.representation import process

    featurizer = process.BasisFeaturizer(basis)
    xe, ye, xf, yf = [], [], [], []
    for atoms in frames:
        forces = atoms.get_forces()
        geom = atoms.copy()
        geom.calc = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = featurizer.evaluate_configuration(geom, None, atoms.get_potential_energy(), forces.T)
        xe.append(rows["energy"][1:])
        ye.append(rows["energy"][0])
        block = np.array([rows[f"f{c}_{i}"] for i in range(len(atoms)) for c in "xyz"])
        xf.append(block[:, 1:])
        yf.append(block[:, 0])
    return np.array(xe), np.array(ye), np.concatenate(xf), np.concatenate(yf)


def _solve(basis, gram_e, ord_e, gram_f, ord_f, scale_e, scale_f, weight: float, curvature: float):
    from uf3.regression import least_squares

    model = least_squares.WeightedLinearModel(basis, ridge_map=RIDGE,
                                              curvature_map={1: 0.0, 2: curvature, 3: curvature})
    gram, ordinate = model.combine_weighted_gram(gram_e, gram_f, ord_e, ord_f, scale_e, scale_f, weight)
    model.fit_with_gram(gram, ordinate)
    return model


def _grams(model_mask, basis, xe, ye, xf, yf):
    from uf3.regression import least_squares

    out = []
    for x, y in ((xe, ye), (xf, yf)):
        xx, yy = least_squares.freeze_columns(x, y, model_mask, basis.frozen_c, basis.col_idx)
        out += list(least_squares.batched_moore_penrose(xx, yy))
    # uf3's own normalisation of energy and force rows (WeightedLinearModel.fit)
    out += [1 / len(ye) / max(np.std(ye), 1e-12), 1 / len(yf) / max(np.std(yf), 1e-12)]
    return out


def write_potential(path: Path, model, elements: Sequence[str]) -> Path:
    """The fitted ``model`` as one unified ``#UF3 POT`` file (all 2B and 3B blocks)."""
    solution = model.as_dict()
    basis = model.bspline_config
    coefficients, knots = solution["coefficients"], basis.knots_map
    header = f"#UF3 POT UNITS: metal DATE: {date.today().isoformat()} AUTHOR: pair_student-bench CITATION: Xie2023"
    fmt = lambda values: " ".join(f"{v:.16e}" for v in np.ravel(values))  # noqa: E731
    lines: List[str] = []
    for pair in basis.interactions_map[2]:
        k, c = np.asarray(knots[pair]), np.asarray(coefficients[pair])
        lines += [header, f"2B {pair[0]} {pair[1]} 0 3 uk", f"{k[-1]:.16e} {len(k)}", fmt(k), str(len(c)), fmt(c), "#"]
    for trio in basis.interactions_map[3]:
        k_ij, k_ik, k_jk = (np.asarray(k) for k in knots[trio])
        grid = np.asarray(coefficients[trio])  # (ij, ik, jk), the order LAMMPS reads
        lines += [header, f"3B {trio[0]} {trio[1]} {trio[2]} 0 3 uk",
                  f"{k_jk[-1]:.16e} {k_ik[-1]:.16e} {k_ij[-1]:.16e} {len(k_jk)} {len(k_ik)} {len(k_ij)}",
                  fmt(k_jk), fmt(k_ik), fmt(k_ij), " ".join(str(n) for n in grid.shape)]
        lines += [fmt(grid[a, b]) for a in range(grid.shape[0]) for b in range(grid.shape[1])]
        lines.append("#")
    path.write_text("\n".join(lines) + "\n")
    return path


def fit(train: Sequence[Atoms], val: Sequence[Atoms], elements: Sequence[str], folder: Path,
        choices: Sequence[Dict[str, float]] = tuple(CHOICES), curvatures: Sequence[float] = CURVATURES,
        energy_weights: Sequence[float] = ENERGY_WEIGHTS) -> Potential:
    """Fit UF3 on ``train`` for every basis in ``choices`` x regulariser; keep the best on ``val``."""
    if not available():
        raise RuntimeError("uf3 is not installed: pip install -c constraints.txt 'pair-student[uf3]'")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    start = time.process_time(), time.perf_counter()
    shortest = _min_distance(train)
    r_min = max(0.5, np.floor(R_MIN_FACTOR * shortest * 10) / 10)
    best, search = None, []
    for choice in choices:
        basis = _basis(elements, choice, r_min)
        t0 = time.perf_counter()
        xe, ye, xf, yf = features(basis, train)
        _, _, xvf, yvf = features(basis, val)
        feat_s = time.perf_counter() - t0
        from uf3.regression import least_squares

        mask = least_squares.get_freezing_mask(basis.n_feats, basis.col_idx)
        gram_e, ord_e, gram_f, ord_f, scale_e, scale_f = _grams(mask, basis, xe, ye, xf, yf)
        for curvature in curvatures:
            for weight in energy_weights:
                model = _solve(basis, gram_e, ord_e, gram_f, ord_f, scale_e, scale_f, weight, curvature)
                rmse = float(np.sqrt(((xvf @ model.coefficients - yvf) ** 2).mean()))
                search.append({**choice, "curvature": curvature, "energy_weight": weight, "val_force_rmse": rmse,
                               "featurize_s": round(feat_s, 1)})
                if best is None or rmse < best[0]:
                    best = (rmse, choice, curvature, weight, model)
    rmse, choice, curvature, weight, model = best
    path = write_potential(folder / "uf3.uf3", model, elements)
    np.save(folder / "uf3_coefficients.npy", model.coefficients)  # uf3's column order, 1-body first
    onebody = dict(zip(model.bspline_config.element_list, map(float, model.coefficients[: len(elements)])))
    cpu, wall = time.process_time() - start[0], time.perf_counter() - start[1]
    return Potential(
        name="UF3", kind="peer", pair_style="uf3 3", pair_coeff=[f"* * {path} {' '.join(elements)}"],
        elements=list(elements),
        info={**choice, "r_min_2b": float(r_min), "curvature": curvature, "energy_weight": weight,
              "ridge": {str(k): v for k, v in RIDGE.items()}, "ncoeff": int(model.coefficients.size),
              "onebody_energy": onebody, "val_force_rmse": rmse, "search": search, "train_frames": len(train),
              "shortest_train_distance": shortest, "fit_cpu_s": round(cpu, 1), "fit_wall_s": round(wall, 1),
              "coefficients_file": str(folder / "uf3_coefficients.npy"),
              "budget": f"{len(choices)} bases x curvature in {list(curvatures)} x energy weight in "
                        f"{list(energy_weights)}, chosen on the val split", "file": str(path)},
    )
