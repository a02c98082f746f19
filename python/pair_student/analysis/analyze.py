"""Per-atom force analysis of students against the teacher on the same frames (the
``pair-student analyze`` command is :mod:`.cli`).

For every student: force R² (overall, x/y/z), RMSE, MAE, |F| correlation, angular error (mean,
median, histogram), per-element statistics, error distribution and percentiles, energy error
per atom and stress error on periodic frames. Teacher labels come from the frames when they
carry energy and forces (a labelled dataset); otherwise the teacher (a name, or any ASE
calculator) computes them. Frames are streamed and only running sums, fixed-bin histograms and
fixed-size reservoir samples are kept, plus a few error sums per frame for the bootstrap.

RMSE, MAE, R², mean angle and energy errors come with 95 % bootstrap intervals over test frames,
and each student's force RMSE is compared with the most accurate student's by a paired bootstrap
on the same frames (:mod:`.bootstrap`). A student that carries a per-atom uncertainty is also
checked against its actual errors (:mod:`.calibration`): the ``uncertainty`` block of its entry.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence

import torch
from ase.io import iread
from ase.stress import full_3x3_to_voigt_6_stress

from ..atomic import atomic_write_text
from ..contract import EDGE_INDEX, EDGE_VECTORS, NUM_LOCAL, SPECIES, carries_uncertainty, evaluate, load_student
from ..data.dataset import frame_labels
from ..graph import atoms_to_graph, edge_forces, edge_virials
from ..registry import target_status
from ..teachers import get_teacher
from .bootstrap import compare_rmse
from .card import write_card
from .figures import plot_student
from .metrics import ErrorStats
from .schema import validate


class _Student:
    """A student file, its statistics and its accumulated timing."""

    def __init__(self, path, *, reservoir: int, seed: int):
        self.path = Path(path)
        self.module, self.meta = load_student(path)
        self.dtype = getattr(torch, self.meta["dtype"])
        self.name = self.path.name.replace("_traced.pt", "").replace(".pt", "")
        self.has_uncertainty = carries_uncertainty(self.module)
        self.stats = ErrorStats(self.meta["elements"], reservoir=reservoir, seed=seed,
                                uncertainty=self.has_uncertainty)
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
            virial = edge_virials(g[EDGE_VECTORS], grad.detach()).sum(0).to(torch.float64).numpy()
            stress = full_3x3_to_voigt_6_stress(-virial / atoms.get_volume())
        result = {"energy": float(energies.detach().to(torch.float64).sum()), "forces": forces, "stress": stress}
        if self.has_uncertainty:  # off the clock: the speed reported is that of energy and forces
            with torch.no_grad():
                result["uncertainty"] = self.module.atom_uncertainty(*args).to(torch.float64).numpy()
        return result

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


class _Labels:
    """Teacher labels of each frame: the frame's own (a labelled dataset) unless a teacher was
    given; the teacher is built only when a frame needs it."""

    def __init__(self, teacher):
        self.teacher = teacher
        self.resolved = None
        self.used = {"dataset": 0, "teacher": 0}
        self.labelled_by = None  # the teacher a pair_student dataset names

    def __call__(self, atoms, index: int) -> Dict:
        labels = frame_labels(atoms) if self.teacher is None else None
        if labels is not None:
            self.used["dataset"] += 1
            self.labelled_by = self.labelled_by or atoms.info.get("teacher")
            return labels
        if self.teacher is None:
            raise ValueError(f"frame {index} carries no energy/forces and no teacher was given")
        self.resolved = self.resolved or get_teacher(self.teacher)
        self.used["teacher"] += 1
        return self.resolved.compute(atoms)

    @property
    def name(self) -> Optional[str]:
        named = str(self.teacher) if isinstance(self.teacher, str) else self.labelled_by
        return getattr(self.resolved, "name", None) or named


def _feed(runs: Sequence[_Student], stream: Iterable, labels: _Labels, *, max_frames: Optional[int],
          split: Optional[str]) -> int:
    """Every student on each frame (of ``split``, at most ``max_frames``); returns the frame count."""
    count = 0
    for atoms in stream:
        if max_frames is not None and count >= max_frames:
            break
        if split is not None and atoms.info.get("split") != split:
            continue
        reference = labels(atoms, count)
        symbols = atoms.get_chemical_symbols()
        for run in runs:
            run.stats.add_frame(symbols, reference, run.evaluate(atoms))
        count += 1
    return count


def rank_students(runs: Sequence[_Student], entries: Sequence[Dict]) -> Optional[str]:
    """Name the student with the lowest force RMSE and give every other one
    ``force_rmse_vs_best``: its RMSE over the best one's, paired over the same frames, with the
    verdict (``"B better"``: the best is better at 95 %, ``"tie"``: the frames cannot tell)."""
    scored = [(e["force"]["rmse"], k) for k, e in enumerate(entries) if e["force"]["rmse"] is not None]
    for entry in entries:
        entry["force_rmse_vs_best"] = None
    if len(scored) < 2:
        return None
    best = min(scored)[1]
    reference = runs[best].stats
    for k, (run, entry) in enumerate(zip(runs, entries)):
        if k != best and entry["force"]["rmse"] is not None:
            paired = compare_rmse(run.stats.frame_errors.squared_errors(), reference.frame_errors.squared_errors(),
                                  reference.frame_errors.components(), resamples=reference.resamples,
                                  seed=reference.seed)
            entry["force_rmse_vs_best"] = {"best": entries[best]["name"], **paired}
    return entries[best]["name"]


def _write_outputs(report: Dict, runs: Sequence[_Student], out: Path, *, figures: bool, html: bool) -> None:
    """The per-student figures, ``metrics.json`` and the card, after checking the report."""
    out.mkdir(parents=True, exist_ok=True)
    for run, entry in zip(runs, report["students"]):
        entry["figure"] = None
        if figures:
            title = (f"{entry['name']} vs {report['teacher'] or 'dataset labels'}  "
                     f"({report['frames']} frames, {entry['atoms']} atoms)")
            entry["figure"] = str(plot_student(run.stats, entry, out / f"{entry['name']}.png", title=title))
    validate(report)
    atomic_write_text(out / "metrics.json", json.dumps(report, indent=2))
    write_card(report, out, html_too=html)


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
    teacher_name: Optional[str] = None,
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
        seed: seed of the reservoir sampling and of the frame bootstrap (the same resamples for
            every student, which the paired comparison needs).
        html: also write ``card.html``.
        figures: write the per-student PNGs.
        teacher_name: the teacher the report names, e.g. the one that labelled the dataset
            when ``teacher`` is None; default: ``teacher``'s name, or the one the frames record.
    """
    if not students:
        raise ValueError("give at least one student file")
    runs = [_Student(p, reservoir=reservoir, seed=seed) for p in students]
    frames_file = str(frames) if isinstance(frames, (str, os.PathLike)) else None
    labels = _Labels(teacher)
    count = _feed(runs, iread(str(frames)) if frames_file else iter(frames), labels, max_frames=max_frames, split=split)
    if count == 0:
        which = f" with split {split!r}" if split is not None else ""
        raise ValueError(f"no frames{which} to analyse in {frames_file or 'the given frames'}")
    report = {
        "schema_version": 1,
        "teacher": teacher_name or labels.name,
        "labels": "teacher" if labels.used["teacher"] else "dataset",
        "frames_file": frames_file,
        "frames": count,
        "students": [run.report() for run in runs],
    }
    report["best_force_rmse"] = rank_students(runs, report["students"])
    if out is not None:
        _write_outputs(report, runs, Path(out), figures=figures, html=html)
    else:
        validate(report)
    return report
