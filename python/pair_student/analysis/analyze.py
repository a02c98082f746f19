"""Per-atom force analysis of students against the teacher on the same frames (the
``pair-student analyze`` command is :mod:`.cli`).

For every student: force R² (overall, x/y/z), RMSE, MAE, |F| correlation, angular error (mean,
median, histogram), per-element statistics, error distribution and percentiles, energy error
per atom and stress error on periodic frames. Teacher labels come from the frames when they
carry energy and forces (a labelled dataset); otherwise the teacher (a name, or any ASE
calculator) computes them. Frames are streamed and only running sums, fixed-bin histograms and
fixed-size reservoir samples are kept, so memory does not grow with the number of frames.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
import torch

from ..contract import EDGE_INDEX, EDGE_VECTORS, NUM_LOCAL, SPECIES, evaluate, load_student
from ..graph import atoms_to_graph, edge_forces, edge_virials
from ..registry import target_status
from .card import write_card
from .figures import plot_student
from .metrics import ErrorStats
from .schema import validate


def _resolve_teacher(teacher):
    """A Teacher from a name, a Teacher, an ASE calculator or None."""
    if teacher is None:
        return None
    try:
        from ..teachers import get_teacher
    except ImportError:  # teachers not installed: an ASE calculator still works
        get_teacher = None
    if get_teacher is not None:
        return get_teacher(teacher)
    if isinstance(teacher, str):
        raise RuntimeError(f"teacher {teacher!r} requested but pair_student.teachers is unavailable")
    return _CalculatorTeacher(teacher)


class _CalculatorTeacher:
    """Fallback wrapper of an ASE calculator with the Teacher ``compute`` interface."""

    def __init__(self, calc):
        self.calc, self.name = calc, type(calc).__name__.lower()

    def compute(self, atoms):
        work = atoms.copy()
        work.calc = self.calc
        stress = work.get_stress(voigt=True) if work.pbc.all() else None
        return {"energy": work.get_potential_energy(), "forces": work.get_forces(), "stress": stress}


def dataset_labels(atoms) -> Optional[Dict]:
    """Energy/forces/stress stored with a frame (extxyz SinglePointCalculator), or None."""
    results = getattr(atoms.calc, "results", None) or {}
    if "energy" not in results or "forces" not in results:
        return None
    stress = results.get("stress") if atoms.pbc.all() else None
    return {"energy": float(results["energy"]), "forces": np.asarray(results["forces"]),
            "stress": None if stress is None else np.asarray(stress).reshape(-1)[:6]}


class _Student:
    """A student file, its statistics and its accumulated timing."""

    def __init__(self, path, *, reservoir: int, seed: int):
        self.path = Path(path)
        self.module, self.meta = load_student(path)
        self.dtype = getattr(torch, self.meta["dtype"])
        self.name = self.path.name.replace("_traced.pt", "").replace(".pt", "")
        self.stats = ErrorStats(self.meta["elements"], reservoir=reservoir, seed=seed)
        self.seconds, self.atoms, self.warm = 0.0, 0, False

    def evaluate(self, atoms) -> Dict:
        g = atoms_to_graph(atoms, self.meta["cutoff"], self.meta["elements"], dtype=self.dtype)
        args = (g[SPECIES], g[EDGE_INDEX], g[EDGE_VECTORS], g[NUM_LOCAL])
        if not self.warm:  # first calls pay for loading and allocation
            for _ in range(3):
                evaluate(self.module, *args)
            self.warm = True
        start = time.perf_counter()
        energies, grad = evaluate(self.module, *args)
        self.seconds += time.perf_counter() - start
        self.atoms += len(atoms)
        n = g[NUM_LOCAL]
        forces = edge_forces(g[EDGE_INDEX], grad.detach(), n).to(torch.float64).numpy()
        stress = None
        if atoms.pbc.all():
            from ase.stress import full_3x3_to_voigt_6_stress

            virial = edge_virials(g[EDGE_VECTORS], grad.detach()).sum(0).to(torch.float64).numpy()
            stress = full_3x3_to_voigt_6_stress(-virial / atoms.get_volume())
        return {"energy": float(energies.detach().to(torch.float64).sum()), "forces": forces, "stress": stress}

    def parameters(self) -> int:
        prov = self.meta.get("provenance") or {}
        for key in ("num_parameters", "parameters", "n_parameters"):
            if isinstance(prov.get(key), int):
                return prov[key]
        count = sum(p.numel() for p in self.module.parameters())
        # buffer-only students (e.g. the analytic reference) have their constants as buffers
        return count or sum(b.numel() for b in self.module.buffers() if b.is_floating_point())

    def report(self) -> Dict:
        summary = self.stats.summary()
        prov = self.meta.get("provenance") or {}
        size_name = prov.get("size") or prov.get("preset") or self.name
        return {
            "name": self.name,
            "path": str(self.path),
            "parameters": int(self.parameters()),
            "file_size_bytes": self.path.stat().st_size,
            "elements": list(self.meta["elements"]),
            **summary,
            "speed": {"us_per_atom": 1e6 * self.seconds / self.atoms if self.atoms else None,
                      "device": "cpu", "threads": torch.get_num_threads()},
            "target": target_status(str(size_name), summary["force"]["r2"], summary["angular_error_deg"]["mean"]),
        }


def analyze_students(
    *,
    students: Sequence[str | os.PathLike],
    frames: str | os.PathLike | Iterable,
    teacher=None,
    out: str | os.PathLike | None = "analysis",
    max_frames: Optional[int] = None,
    split: Optional[str] = None,
    reservoir: int = 20000,
    seed: int = 0,
    html: bool = True,
    figures: bool = True,
) -> Dict:
    """Analyse ``students`` against the teacher on ``frames``; returns the metrics dict.

    Args:
        students: student ``.pt`` files.
        frames: an extxyz (or any ASE-readable) file, streamed, or an iterable of Atoms.
        teacher: a teacher name, a ``Teacher``, an ASE calculator, or None to use the labels
            the frames carry (a labelled dataset; frames without labels are then an error).
        out: directory for figures, ``metrics.json`` and the card; None writes nothing.
        max_frames: analyse at most this many frames.
        split: only frames whose ``info["split"]`` is this (``test`` of a labelled dataset).
        reservoir: how many force rows each student keeps for scatter plots.
        seed: seed of the reservoir sampling.
        html: also write ``card.html``.
        figures: write the per-student PNGs.
    """
    from ase.io import iread

    if not students:
        raise ValueError("give at least one student file")
    runs = [_Student(p, reservoir=reservoir, seed=seed) for p in students]
    frames_file = str(frames) if isinstance(frames, (str, os.PathLike)) else None
    stream = iread(str(frames)) if frames_file else iter(frames)
    resolved = None
    used = {"dataset": 0, "teacher": 0}
    labelled_by = None
    count = 0
    for atoms in stream:
        if max_frames is not None and count >= max_frames:
            break
        if split is not None and atoms.info.get("split") != split:
            continue
        labels = dataset_labels(atoms) if teacher is None else None
        if labels is None:
            if teacher is None:
                raise ValueError(f"frame {count} carries no energy/forces and no teacher was given")
            resolved = resolved or _resolve_teacher(teacher)
            labels = resolved.compute(atoms)
            used["teacher"] += 1
        else:
            used["dataset"] += 1
            labelled_by = labelled_by or atoms.info.get("teacher")  # a pair_student dataset names its teacher
        symbols = atoms.get_chemical_symbols()
        for run in runs:
            run.stats.add_frame(symbols, labels, run.evaluate(atoms))
        count += 1
    if count == 0:
        which = f" with split {split!r}" if split is not None else ""
        raise ValueError(f"no frames{which} to analyse in {frames_file or 'the given frames'}")
    teacher_name = getattr(resolved, "name", None) or (str(teacher) if isinstance(teacher, str) else labelled_by)
    report = {
        "schema_version": 1,
        "teacher": teacher_name,
        "labels": "teacher" if used["teacher"] else "dataset",
        "frames_file": frames_file,
        "frames": count,
        "students": [run.report() for run in runs],
    }
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        for run, entry in zip(runs, report["students"]):
            entry["figure"] = None
            if figures:
                title = f"{entry['name']} vs {teacher_name or 'dataset labels'}  ({count} frames, {entry['atoms']} atoms)"
                entry["figure"] = str(plot_student(run.stats, entry, out / f"{entry['name']}.png", title=title))
        validate(report)
        (out / "metrics.json").write_text(json.dumps(report, indent=2))
        write_card(report, out, html_too=html)
    else:
        validate(report)
    return report
