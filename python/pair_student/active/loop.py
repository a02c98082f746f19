"""The on-policy loop: train -> explore with uncertainty -> select -> label -> fine-tune -> repeat.

Round 0 is the starting student (``init`` or one trained on the starting dataset). Round k
explores with round k-1's student, labels its uncertain frames (train 90 %, validation 10 %:
never test, so the starting dataset's test split stays the yardstick), fine-tunes that
student on the starting dataset plus every frame labelled so far (the replay), and exports it
with its uncertainty refitted on the grown dataset. The loop ends when an exploration stays
under the threshold, the teacher budget is spent, or after ``rounds`` rounds.

Every stage of a round leaves a file (``roundK/explore.extxyz``, ``selected.extxyz``,
``labelled.extxyz``, ``dataset.extxyz``, the checkpoint, the student) and ``rounds.json`` gains
the round's row only once it is complete, so a killed loop reruns from where it stopped.
Held-out frames (``heldout``) are only ever evaluated: no threshold, selection or stop reads them.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import ase.io
import numpy as np
from tqdm.auto import tqdm

from ..atomic import atomic_path
from ..contract import read_metadata
from ..data.dataset import read_dataset
from ..data.label import label
from ..data.structures import demo_structure, read_structures
from ..export import export
from ..models.checkpoint import load_checkpoint_model
from ..registry import DEMO_NAMES
from ..teachers import get_teacher
from ..training.data import frames_to_graphs
from ..training.trainer import TrainConfig, evaluate_graphs, train
from .explore import explore
from .report import write_rounds
from .select import select_frames
from .starts import exploration_starts

NEW_SPLIT = (0.9, 0.1, 0.0)
"""How labelled exploration frames split: validation calibrates the next uncertainty."""


@dataclass
class ActiveConfig:
    dataset: str                      # the starting labelled dataset
    structures: str                   # structure file or demo name: where exploration starts
    out: str
    size: str = "tiny"
    teacher: str = "sevennet"
    init: Optional[str] = None        # checkpoint of the starting student (default: train one)
    temperatures: Sequence[float] = (300.0, 900.0)
    pressures: Sequence[float] = (0.0,)
    rounds: int = 4
    frames_per_round: int = 40
    budget: Optional[int] = None      # new teacher labels in all (default: half the dataset)
    threshold: Optional[float] = None  # eV/A on the largest atom uncertainty of a frame
    stop_factor: float = 8.0          # a trajectory ends where its uncertainty passes this x threshold
    steps: int = 2000
    stride: int = 50
    epochs: int = 30
    max_time: Optional[float] = None  # training seconds per round
    # fine-tuning restarts the schedule: at the from-scratch rate (3e-3) an ethanol round undid
    # part of what the student knew (its test RMSE rose 0.58 -> 0.79 eV/A while held-out fell)
    finetune_lr: float = 1e-3
    heldout: Optional[str] = None     # frames evaluated each round, never used otherwise
    seed: int = 0
    device: str = "cpu"
    progress: bool = True


def _structures(spec: str):
    return [demo_structure(spec)] if spec.lower() in DEMO_NAMES else read_structures(spec)


def _rounds(out: Path) -> List[Dict[str, Any]]:
    path = out / "rounds.json"
    return json.loads(path.read_text())["rounds"] if path.is_file() else []


def _student(cfg: ActiveConfig, folder: Path, dataset: str, init: Optional[str]) -> Dict[str, Any]:
    """Train (or resume, or fine-tune from ``init``) and export one round's student."""
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / f"{cfg.size}_model_traced.pt"
    rate = {"lr": cfg.finetune_lr} if init else {}
    summary = train(TrainConfig(dataset=dataset, out=str(folder), name=cfg.size, preset=cfg.size, epochs=cfg.epochs,
                                max_time=cfg.max_time, seed=cfg.seed, init_from=init, device=cfg.device,
                                progress=cfg.progress, **rate))
    if not model.is_file():
        export(summary["checkpoint"], out=model, uncertainty_from=dataset)
    return {"checkpoint": summary["checkpoint"], "model": str(model), "test": summary.get("metrics")}


def _heldout(cfg: ActiveConfig, checkpoint: str) -> Optional[Dict[str, float]]:
    if not cfg.heldout:
        return None
    model, meta = load_checkpoint_model(checkpoint)
    graphs = frames_to_graphs(list(read_dataset(cfg.heldout)), meta["cutoff"], meta["elements"])
    return evaluate_graphs(model, graphs, dtype=model.readout_out.weight.dtype)


def _write_frames(path: Path, frames) -> None:
    with atomic_path(path, suffix=".extxyz") as tmp:
        ase.io.write(tmp, list(frames), format="extxyz")


def _merged(cfg: ActiveConfig, out: Path, k: int) -> str:
    """Round ``k``'s training set: the starting dataset and every round's labelled frames."""
    path = out / f"round{k}" / "dataset.extxyz"
    if not path.is_file():
        frames = list(read_dataset(cfg.dataset))
        for j in range(1, k + 1):
            frames += list(ase.io.read(out / f"round{j}" / "labelled.extxyz", ":"))
        _write_frames(path, frames)
    return str(path)


def _threshold(cfg: ActiveConfig, model: str) -> float:
    """The selection threshold: given, or twice the starting student's validation force RMSE
    (the uncertainty's calibration set), so only frames it should miss by far are labelled."""
    if cfg.threshold is not None:
        return float(cfg.threshold)
    fitted = (read_metadata(model).get("provenance") or {}).get("uncertainty")
    if not fitted:
        raise ValueError(f"{model} carries no uncertainty; the starting dataset needs a validation split")
    return 2.0 * float(fitted["validation_force_error_rms"])


def _explored(cfg: ActiveConfig, folder: Path, model: str, starts, threshold: float) -> List:
    path = folder / "explore.extxyz"
    if path.is_file():
        return list(ase.io.read(path, ":")) if path.stat().st_size else []
    bar = tqdm(total=len(starts), desc=f"explore {folder.name}", disable=not cfg.progress)
    frames = explore(Path(model), starts, steps=cfg.steps, stride=cfg.stride, stop=cfg.stop_factor * threshold,
                     seed=cfg.seed + 7919 * int(folder.name[5:]), progress=bar)
    bar.close()
    _write_frames(path, frames)
    return frames


def _explore_row(frames) -> Dict[str, Any]:
    u = np.array([f.info["uncertainty_max"] for f in frames]) if frames else np.zeros(1)
    return {"explored": len(frames), "uncertainty_max": float(u.max()), "uncertainty_mean": float(u.mean())}


def _round(cfg: ActiveConfig, out: Path, k: int, prev: Dict[str, Any], starts, threshold: float,
           spent: int, budget: int) -> Dict[str, Any]:
    folder = out / f"round{k}"
    folder.mkdir(parents=True, exist_ok=True)
    frames = _explored(cfg, folder, prev["model"], starts, threshold)
    row = {"round": k, **_explore_row(frames)}
    chosen_path = folder / "selected.extxyz"
    if not chosen_path.is_file():
        cap = min(cfg.frames_per_round, budget - spent)
        _write_frames(chosen_path, select_frames(frames, threshold=threshold, cap=cap, min_gap=4 * cfg.stride))
    chosen = list(ase.io.read(chosen_path, ":")) if chosen_path.stat().st_size else []
    row["selected"] = len(chosen)
    if not chosen:
        return {**row, "labels_spent": spent, "model": prev["model"], "checkpoint": prev["checkpoint"],
                "test": prev["test"], "heldout": prev.get("heldout"), "stop": "converged"}
    label(chosen, teacher=get_teacher(cfg.teacher, device=cfg.device), out=folder / "labelled.extxyz",
          seed=cfg.seed + k, split=NEW_SPLIT, progress=cfg.progress)
    student = _student(cfg, folder, _merged(cfg, out, k), prev["checkpoint"])
    return {**row, "labels_spent": spent + len(chosen), **student, "heldout": _heldout(cfg, student["checkpoint"])}


def run_active(cfg: ActiveConfig) -> Dict[str, Any]:
    """Run (or resume) the loop; returns what ``rounds.json`` holds."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    starts = exploration_starts(_structures(cfg.structures), cfg.temperatures, cfg.pressures, cfg.seed)
    rows = _rounds(out)
    if not rows:
        first = _student(cfg, out / "round0", cfg.dataset, None) if cfg.init is None else \
            _exported_init(cfg, out / "round0")
        rows = [{"round": 0, "selected": 0, "labels_spent": 0, **first, "heldout": _heldout(cfg, first["checkpoint"])}]
    threshold = _threshold(cfg, rows[0]["model"])
    write_rounds(out, asdict(cfg), rows, threshold=threshold)  # round 0 done: the first resume point
    budget = cfg.budget if cfg.budget is not None else len(list(read_dataset(cfg.dataset))) // 2
    while len(rows) <= cfg.rounds and not rows[-1].get("stop"):
        row = _round(cfg, out, len(rows), rows[-1], starts, threshold, rows[-1]["labels_spent"], budget)
        if not row.get("stop") and row["labels_spent"] >= budget:
            row["stop"] = "budget"
        rows.append(row)
        write_rounds(out, asdict(cfg), rows, threshold=threshold)
    best = _best_round(cfg, out, rows)
    write_rounds(out, asdict(cfg), rows, threshold=threshold, chosen=best)
    final = out / f"{cfg.size}_model_traced.pt"
    with atomic_path(final, suffix=".pt") as tmp:
        shutil.copyfile(rows[best]["model"], tmp)
    return {"rounds": rows, "threshold": threshold, "model": str(final), "chosen_round": best}


def _best_round(cfg: ActiveConfig, out: Path, rows: List[Dict[str, Any]]) -> int:
    """The round whose student has the lowest force RMSE on the last training set's validation
    split (the starting dataset's and every round's new validation frames). A fine-tuning round
    can trade what the student knew for what it learns; validation frames may decide that,
    test and held-out frames may not. Each row keeps its score (``validation``)."""
    grown = [k for k in range(len(rows)) if (out / f"round{k}" / "dataset.extxyz").is_file()]
    dataset = str(out / f"round{max(grown)}" / "dataset.extxyz") if grown else cfg.dataset
    graphs, scored = None, {}  # a converged round carries its predecessor's checkpoint: scored once
    for row in rows:
        if (row.get("validation") or {}).get("dataset") == dataset:
            continue
        if row["checkpoint"] not in scored:
            model, meta = load_checkpoint_model(row["checkpoint"])
            if graphs is None:
                graphs = frames_to_graphs(list(read_dataset(dataset, split="val")), meta["cutoff"], meta["elements"])
            scored[row["checkpoint"]] = evaluate_graphs(model, graphs, dtype=model.readout_out.weight.dtype)
        row["validation"] = {"dataset": dataset, **scored[row["checkpoint"]]}
    return min(range(len(rows)), key=lambda k: rows[k]["validation"]["force_rmse"])


def _exported_init(cfg: ActiveConfig, folder: Path) -> Dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / f"{cfg.size}_model_traced.pt"
    if not model.is_file():
        export(cfg.init, out=model, uncertainty_from=cfg.dataset)
    meta = read_metadata(model)
    return {"checkpoint": str(cfg.init), "model": str(model), "test": (meta.get("provenance") or {}).get("metrics")}
