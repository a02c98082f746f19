"""Linear POD fitted with LAMMPS' own ``fitpod`` to the teacher-labelled training split, run
as ``pair_style pod``.

``fitpod`` reads its documented two input files: a parameter file (species, cutoffs, radial
and angular basis sizes) and a data file (folder of extxyz training frames, fitting weights,
regularisation). Fitting budget: the settings in ``CHOICES`` (two- plus three-body, optional
four-body) are each fitted once and the one with the lowest force RMSE on the validation split
is kept; each fit takes seconds to a minute on one core.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, List, Sequence

from ase import Atoms
from ase.io import write

from ..common import Potential, prepare_frame, run_lmp
from ..evaluate import force_errors

RETRIES = 4
CHOICES: List[Dict[str, float]] = [
    {"rcut": 5.0, "two": 8, "three_radial": 6, "three_angular": 5, "four": 0},
    {"rcut": 5.0, "two": 8, "three_radial": 6, "three_angular": 5, "four": 4},
]
# keyword arguments of fit() in a full and a quick benchmark (see snap.SEARCH)
SEARCH: Dict[str, object] = {}
QUICK: Dict[str, object] = {"choices": CHOICES[:1]}


def _param_text(elements: Sequence[str], choice: Dict[str, float]) -> str:
    return (f"species {' '.join(elements)}\npbc 1 1 1\nrin 1.0\nrcut {choice['rcut']}\n"
            "bessel_polynomial_degree 4\ninverse_polynomial_degree 8\nonebody 1\n"
            f"twobody_number_radial_basis_functions {choice['two']}\n"
            f"threebody_number_radial_basis_functions {choice['three_radial']}\n"
            f"threebody_number_angular_basis_functions {choice['three_angular']}\n"
            f"fourbody_snap_twojmax {choice['four']}\nquadratic_pod_potential 0\n")


def _write_frames(folder: Path, frames: Sequence[Atoms]) -> None:
    """Frames as extxyz with energy and forces (POD reads ``energy=`` and the forces column)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for atoms in frames:
        frame = prepare_frame(atoms)
        frame.info = {"energy": atoms.get_potential_energy()}
        frame.arrays["forces"] = atoms.get_forces().copy()
        frame.calc = None
        out.append(frame)
    write(folder / "frames.xyz", out, format="extxyz", columns=["symbols", "positions", "forces"],
          write_info=True)


def fit_one(train: Sequence[Atoms], elements: Sequence[str], choice: Dict[str, float], folder: Path) -> Potential:
    folder.mkdir(parents=True, exist_ok=True)
    _write_frames(folder / "train", train)
    (folder / "param.pod").write_text(_param_text(elements, choice))
    (folder / "data.pod").write_text(
        'file_format extxyz\nfile_extension xyz\npath_to_training_data_set "train"\n'
        'path_to_test_data_set "train"\nfitting_weight_energy 100.0\nfitting_weight_force 1.0\n'
        "fitting_regularization_parameter 1e-10\nerror_analysis_for_training_data_set 1\n"
        "error_analysis_for_test_data_set 0\nbasename_for_output_files pod\nprecision_for_pod_coefficients 10\n")
    start = time.perf_counter()
    for attempt in range(RETRIES):
        run = run_lmp("units metal\nfitpod param.pod data.pod\n", folder)
        # fitpod of this LAMMPS now and then sizes an array from garbage (a negative
        # allocation) on multi-element data; the same input then passes on a rerun
        if run.returncode == 0 or "Failed to allocate -" not in run.output:
            break
    run.check(f"fitpod in {folder}")
    coefficients = folder / "pod_coefficients.pod"
    if not coefficients.is_file():
        raise RuntimeError(f"fitpod wrote no {coefficients}:\n{run.output[-2000:]}")
    return Potential(
        name="POD", kind="peer", pair_style="pod",
        pair_coeff=[f"* * {folder / 'param.pod'} {coefficients} {' '.join(elements)}"], elements=list(elements),
        info={**choice, "fit_wall_s": round(time.perf_counter() - start, 1), "train_frames": len(train)},
    )


def fit(train: Sequence[Atoms], val: Sequence[Atoms], elements: Sequence[str], folder: Path,
        choices: Sequence[Dict[str, float]] = tuple(CHOICES)) -> Potential:
    """Fit every setting in ``choices``; keep the best on ``val`` (force RMSE through LAMMPS)."""
    best, search = None, []
    start = time.perf_counter()
    for k, choice in enumerate(choices):
        try:
            pot = fit_one(train, elements, choice, folder / f"choice{k}")
        except RuntimeError as exc:
            search.append({**choice, "error": str(exc).splitlines()[0]})
            continue
        rmse = force_errors(pot, val, folder)["force_rmse"]
        search.append({**choice, "val_force_rmse": rmse, "fit_wall_s": pot.info["fit_wall_s"]})
        if best is None or rmse < best.info["val_force_rmse"]:
            pot.info["val_force_rmse"] = rmse
            best = pot
    if best is None:
        raise RuntimeError(f"every POD fit failed: {search}")
    best.info.update(search=search, fit_wall_s=round(time.perf_counter() - start, 1),
                     budget=f"{len(choices)} settings, chosen on the val split")
    return best
