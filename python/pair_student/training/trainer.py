"""Distillation training of one student on a labelled extxyz dataset.

Loss per batch (teacher labels, eV / Angstrom)::

    w_E mean_b ((E_b - E*_b) / n_b)^2  +  w_F mean_(atoms, xyz) (F - F*)^2  +  w_S mean_(periodic b) (S - S*)^2

Forces and stresses come from the model's ``edge_grad`` with :func:`pair_student.graph.edge_forces`
/ ``edge_virials`` (the pair style's algebra). float32 training; the checkpoint's deployable
weights are exported (float64) by :mod:`pair_student.export`, the next stage.

Data parallel: under ``torchrun`` every rank builds the same global batch (same seeded shuffle)
and takes every ``world``-th structure of it; losses are normalised by the *global* counts and
multiplied by ``world`` so DDP's gradient averaging gives exactly the one-process gradient.

Exact resumption: the shuffle of epoch ``e`` comes from a generator seeded by ``(seed, e)``, and
the checkpoint holds model, EMA, optimizer, scheduler, RNG states, early-stopping state and history.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from ase.data import atomic_numbers

from ..atomic import atomic_write_text
from ..distributed import group_rank, init_process_group
from ..models import build_student
from ..models.repulsion import core_windows, shortest_distances
from ..registry import DEFAULT_SIZE
from ..scores import MIN_FORCE_FOR_ANGLE, angular_error_deg, r2_score
from . import checkpoint as ck
from .data import collate, fit_shifts, force_rms, frames_to_graphs, mean_neighbors, predict, read_labelled


@dataclass
class TrainConfig:
    dataset: str
    out: str
    name: str = "student"  # files are <out>/<name>_checkpoint.pt and <name>_summary.json
    architecture: str = "local"
    preset: Optional[str] = DEFAULT_SIZE
    model_kwargs: Dict[str, Any] = field(default_factory=dict)
    cutoff: float = 5.0
    epochs: int = 100
    # 2, not 4: twice the optimizer steps at the same cost per epoch; Si ultra-tiny, 600 s on one
    # thread: validation force RMSE 0.0396 -> 0.0346 eV/A, test 0.0749 -> 0.0686 (batch 1 at lr 1e-3: 0.0414)
    # (Si original: 0.0699 -> 0.0533 test; Si tiny stalled at batch 2 in two runs, demo/README.md, "How these students were made")
    batch_size: int = 2
    lr: float = 3e-3
    lr_min_ratio: float = 0.02
    scheduler: str = "cosine"  # cosine | plateau
    weight_decay: float = 0.0
    energy_weight: float = 1.0
    force_weight: float = 1.0
    stress_weight: float = 10.0
    ema_decay: float = 0.99  # 0 disables EMA
    # max gradient norm per step (None: no clipping). Rattled ethanol frames carry teacher forces
    # up to 113 eV/A, and an unclipped ethanol original saw gradient norms up to 88 against a median
    # of 3.3. Unclipped at lr 3e-3 it diverged; clipped at 10, at lr 1e-3, it trained (demo/README.md)
    grad_clip: Optional[float] = None
    core_repulsion: bool = True  # ZBL below each pair's shortest training distance (models/repulsion.py)
    # a checkpoint whose (deployable) weights and data statistics start this run: on-policy rounds
    # continue from the previous student instead of relearning what it knew (optimizer starts fresh)
    init_from: Optional[str] = None
    patience: int = 40  # epochs without validation improvement before stopping
    seed: int = 0
    max_time: Optional[float] = None  # seconds; stop (with a checkpoint) when exceeded
    stop_after: Optional[int] = None  # epochs to run in this invocation (tests of resumption)
    resume: bool = True
    device: str = "cpu"
    progress: bool = True
    teacher: Optional[str] = None  # provenance only; read from the dataset when absent
    command: Optional[str] = None


# ----------------------------------------------------------------------------- loss / metrics
def batch_loss(model, batch, cfg: TrainConfig, counts: Dict[str, int], world: int):
    """Loss of a (shard of a) batch normalised by the global batch's ``counts``."""
    pred = predict(model, batch)
    n = batch["num_atoms"].to(pred["energy"].dtype)
    e_err = (pred["energy"] - batch["energy"].to(pred["energy"].dtype)) / n
    loss_e = (e_err**2).sum() / counts["structures"]
    loss_f = ((pred["forces"] - batch["forces"]) ** 2).sum() / (3 * counts["atoms"])
    mask = batch["has_stress"]
    loss_s = ((pred["stress"][mask] - batch["stress"][mask]) ** 2).sum() / (9 * max(counts["stress"], 1))
    loss = cfg.energy_weight * loss_e + cfg.force_weight * loss_f + cfg.stress_weight * loss_s
    return loss * world, {"energy": float(loss_e.detach()), "forces": float(loss_f.detach()), "stress": float(loss_s.detach())}


def counts_of(graphs) -> Dict[str, int]:
    return {"structures": len(graphs), "atoms": sum(int(g["num_local"]) for g in graphs),
            "stress": sum(bool(g["has_stress"]) for g in graphs)}


def evaluate_graphs(model, graphs, *, dtype=None, batch_size: int = 8, device="cpu") -> Dict[str, float]:
    """Force R2/RMSE/MAE, mean angular error, energy MAE/RMSE per atom, stress RMSE against labels."""
    was_training = model.training
    model.eval()
    fp, ft, e_err, s_err = [], [], [], []
    for i in range(0, len(graphs), batch_size):
        batch = collate(graphs[i:i + batch_size], device=device)
        if dtype is not None:
            batch["edge_vectors"] = batch["edge_vectors"].to(dtype)
        pred = predict(model, batch)
        fp.append(pred["forces"].detach().double().cpu().numpy())
        ft.append(batch["forces"].double().cpu().numpy())
        e_err.append(((pred["energy"].detach().double() - batch["energy"].double()) / batch["num_atoms"]).cpu().numpy())
        mask = batch["has_stress"]
        s_err.append((pred["stress"].detach().double()[mask] - batch["stress"].double()[mask]).reshape(-1).cpu().numpy())
    model.train(was_training)
    fp, ft, e_err, s_err = np.concatenate(fp), np.concatenate(ft), np.concatenate(e_err), np.concatenate(s_err)
    valid = np.linalg.norm(ft, axis=1) >= MIN_FORCE_FOR_ANGLE
    angles = angular_error_deg(ft[valid], fp[valid]) if valid.any() else np.zeros(1)
    return {
        "force_r2": r2_score(ft, fp),
        "force_rmse": float(np.sqrt(((fp - ft) ** 2).mean())),
        "force_mae": float(np.abs(fp - ft).mean()),
        "force_angle_mean_deg": float(angles.mean()),
        "energy_mae_per_atom": float(np.abs(e_err).mean()),
        "energy_rmse_per_atom": float(np.sqrt((e_err**2).mean())),
        "stress_rmse": float(np.sqrt((s_err**2).mean())) if s_err.size else float("nan"),
    }


def budget_used(cfg: TrainConfig, epochs_done: int, elapsed_s: float) -> float:
    """Share of the budget spent: of ``epochs``, or of ``max_time`` when that ends first."""
    progress = epochs_done / max(cfg.epochs, 1)
    if cfg.max_time:
        progress = max(progress, elapsed_s / cfg.max_time)
    return min(progress, 1.0)


def cosine_lr(cfg: TrainConfig, epochs_done: int, elapsed_s: float) -> float:
    """Cosine decay from ``lr`` to ``lr * lr_min_ratio`` over the budget, so a time-limited
    run still ends annealed."""
    low = cfg.lr * cfg.lr_min_ratio
    return low + 0.5 * (cfg.lr - low) * (1.0 + math.cos(math.pi * budget_used(cfg, epochs_done, elapsed_s)))


def early_stopping_armed(cfg: TrainConfig, epochs_done: int, elapsed_s: float) -> bool:
    """Under the cosine schedule, patience counts only in the budget's second half: at the high
    early rates validation plateaus for tens of epochs, and the annealing is where it drops (Si
    at batch 2: ``ultra-tiny`` 0.048 -> 0.035 eV/A in its last 40 %, ``original`` 0.058 -> 0.030
    from 30 % to 60 % of its 2400 s)."""
    return cfg.scheduler != "cosine" or budget_used(cfg, epochs_done, elapsed_s) >= 0.5


# ----------------------------------------------------------------------------- EMA
@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.mul_(decay).add_(pm.detach(), alpha=1.0 - decay)
    for be, bm in zip(ema.buffers(), model.buffers()):
        be.copy_(bm)


# ----------------------------------------------------------------------------- training
def _split(frames, seed: int):
    """train/val/test by ``info["split"]``; frames without one are split 90/10 train/val."""
    parts = {"train": [], "val": [], "test": []}
    loose = []
    for a in frames:
        s = a.info.get("split")
        (parts[s] if s in parts else loose).append(a)
    if loose:
        order = np.random.default_rng(seed).permutation(len(loose))
        n_val = max(1, len(loose) // 10) if len(loose) > 1 else 0
        parts["val"] += [loose[i] for i in order[:n_val]]
        parts["train"] += [loose[i] for i in order[n_val:]]
    if not parts["train"]:
        raise ValueError("dataset has no training frames")
    if not parts["val"]:
        parts["val"] = parts["train"][-1:]  # tiny datasets: validate on one training frame
    return parts


def _elements(frames) -> List[str]:
    return sorted({s for a in frames for s in a.get_chemical_symbols()}, key=lambda s: atomic_numbers[s])


def _check_grad_clip(cfg: TrainConfig) -> None:
    if cfg.grad_clip is not None and not cfg.grad_clip > 0:  # a negative norm would flip the gradient
        raise ValueError(f"grad_clip must be a positive gradient norm, or None for no clipping; got {cfg.grad_clip!r}")


def _device(cfg: TrainConfig, rank: int, world: int) -> torch.device:
    """The configured device; under torchrun on GPUs, one GPU per rank."""
    if not cfg.device.startswith("cuda") or world == 1:
        return torch.device(cfg.device)
    return torch.device(f"cuda:{rank % max(torch.cuda.device_count(), 1)}")


def _build_model(cfg: TrainConfig, elements: List[str], train_graphs, device) -> Tuple[torch.nn.Module, Dict[str, Any]]:
    """The seeded initial student (float32, on ``device``) and the config it was built from."""
    torch.manual_seed(cfg.seed)
    if cfg.init_from:
        model, model_config = _initial_weights(cfg.init_from, elements)
    else:
        model_config = {"architecture": cfg.architecture, "elements": elements, "cutoff": cfg.cutoff, **cfg.model_kwargs}
        if cfg.preset is not None:
            model_config["preset"] = cfg.preset
        model = build_student(model_config)
    if hasattr(model, "shift") and not cfg.init_from:  # data statistics, so the network learns O(1) numbers
        model.shift.copy_(fit_shifts(train_graphs, len(elements)).to(model.shift.dtype))
        model.scale.fill_(force_rms(train_graphs))
        model.avg_num_neighbors.fill_(mean_neighbors(train_graphs))
    if cfg.core_repulsion and hasattr(model, "set_core_repulsion"):
        # the training frames only: where validation and test frames reach must not shape the model
        model.set_core_repulsion(*core_windows(elements, shortest_distances(train_graphs, elements)))
    return model.float().to(device), model_config


def _initial_weights(path: str, elements: List[str]) -> Tuple[torch.nn.Module, Dict[str, Any]]:
    """The student of checkpoint ``path`` (its deployable weights and data statistics), which
    must know exactly the dataset's ``elements``; its core windows are set again from the data."""
    saved = ck.read_checkpoint(path)
    config = {k: v for k, v in saved["model_config"].items() if k not in ("core_inner", "core_outer")}
    if list(config.get("elements", [])) != list(elements):
        raise ValueError(f"init_from {path} knows {config.get('elements')} but the dataset holds {elements}; "
                         "start from a student of the same elements")
    model = build_student(config)
    ck.load_state(model, saved["state_dict"], source=str(path))
    return model, config


def _optimizer(cfg: TrainConfig, model: torch.nn.Module):
    """Adam and, for ``plateau``, its scheduler; under ``cosine`` :func:`cosine_lr` sets the
    rate from the run's state each epoch, so there is no scheduler object."""
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = None
    if cfg.scheduler == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=max(cfg.patience // 4, 2), min_lr=cfg.lr * cfg.lr_min_ratio)
    elif cfg.scheduler != "cosine":
        raise ValueError(f"scheduler must be cosine or plateau, not {cfg.scheduler!r}")
    return optimizer, scheduler


@dataclass
class _Run:
    """What a training run carries from epoch to epoch; :meth:`checkpoint` is all a resumed run
    needs to continue exactly."""

    cfg: TrainConfig
    model: torch.nn.Module
    model_config: Dict[str, Any]
    ema: Optional[torch.nn.Module]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    elements: List[str]
    teacher: Optional[str]
    best_state: Dict[str, torch.Tensor]
    state: Dict[str, Any] = field(default_factory=lambda: {"epoch": 0, "best": math.inf, "best_epoch": -1, "bad_epochs": 0,
                                                           "history": [], "elapsed": 0.0})

    @property
    def deployable(self) -> torch.nn.Module:
        """The weights a student is exported from: the EMA when there is one."""
        return self.ema if self.ema is not None else self.model

    def config(self) -> Dict[str, Any]:
        return self.model.config() if hasattr(self.model, "config") else self.model_config

    def checkpoint(self) -> Dict[str, Any]:
        cfg = self.cfg
        metadata = {"elements": self.elements, "cutoff": cfg.cutoff,
                    "num_layers": int(getattr(self.model, "num_layers", 1))}
        return {
            "model_config": self.config(),
            "state_dict": self.best_state, "train_state_dict": self.model.state_dict(),
            "ema_state_dict": self.ema.state_dict() if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "train_state": self.state, "rng": ck.rng_state(), "train_config": asdict(cfg),
            "metadata": {**metadata, "provenance": {"teacher": self.teacher, "dataset": str(cfg.dataset), "seed": cfg.seed}},
        }

    def resume(self, path: Path, device) -> None:
        saved = ck.read_checkpoint(path)
        ck.load_state(self.model, saved["train_state_dict"], source=str(path))
        if self.ema is not None:
            ck.load_state(self.ema, saved["ema_state_dict"], source=str(path))
        self.optimizer.load_state_dict(saved["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(saved["scheduler"])
        self.best_state = {k: v.to(device) for k, v in saved["state_dict"].items()}
        self.state = saved["train_state"]
        ck.set_rng_state(saved["rng"])


def _start(cfg: TrainConfig, elements: List[str], train_graphs, device, teacher: Optional[str]) -> _Run:
    """A fresh run: the initial student, its EMA copy, the optimizer and epoch 0's state."""
    model, model_config = _build_model(cfg, elements, train_graphs, device)
    ema = copy.deepcopy(model) if cfg.ema_decay > 0 else None
    optimizer, scheduler = _optimizer(cfg, model)
    best_state = copy.deepcopy((ema if ema is not None else model).state_dict())
    return _Run(cfg=cfg, model=model, model_config=model_config, ema=ema, optimizer=optimizer, scheduler=scheduler,
                elements=elements, teacher=teacher, best_state=best_state)


def _train_step(run: _Run, train_model, global_batch, device, rank: int, world: int) -> float:
    """One optimizer step on this rank's shard of ``global_batch``; returns the batch loss."""
    cfg = run.cfg
    shard = global_batch[rank::world]
    counts = counts_of(global_batch)
    run.optimizer.zero_grad(set_to_none=True)
    if shard:
        loss, _ = batch_loss(train_model, collate(shard, device=device), cfg, counts, world)
    else:  # more ranks than structures: contribute zero gradient to the all-reduce
        loss = sum(p.sum() * 0.0 for p in train_model.parameters())
    loss.backward()
    if cfg.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(train_model.parameters(), cfg.grad_clip)
    run.optimizer.step()
    if run.ema is not None:
        ema_update(run.ema, run.model, cfg.ema_decay)
    return float(loss.detach()) / world


def _train_epoch(run: _Run, train_model, train_graphs, device, rank: int, world: int) -> float:
    """One pass over the training structures in the epoch's own seeded order (the same on every
    rank, and again after a resume); returns the mean batch loss."""
    cfg = run.cfg
    run.model.train()
    n_train = len(train_graphs)
    seed = cfg.seed * 100003 + run.state["epoch"]
    order = torch.randperm(n_train, generator=torch.Generator().manual_seed(seed)).tolist()
    total, n_batches = 0.0, 0
    for i in range(0, n_train, cfg.batch_size):
        total += _train_step(run, train_model, [train_graphs[j] for j in order[i:i + cfg.batch_size]], device, rank, world)
        n_batches += 1
    return total / max(n_batches, 1)


def _end_epoch(run: _Run, val_graphs, device, train_loss: float, start: float) -> Dict[str, float]:
    """Validate, advance the learning rate, keep the best weights and log the epoch; returns the
    validation metrics of the deployable weights."""
    cfg, state = run.cfg, run.state
    epoch = state["epoch"]
    val_raw = evaluate_graphs(run.model, val_graphs, device=device)
    val = evaluate_graphs(run.ema, val_graphs, device=device) if run.ema is not None else val_raw
    # validation loss in the training loss's units, on the deployable (EMA) weights
    val_loss = cfg.energy_weight * val["energy_rmse_per_atom"] ** 2 + cfg.force_weight * val["force_rmse"] ** 2
    state["epoch"] = epoch + 1
    state["elapsed"] = time.perf_counter() - start
    if run.scheduler is not None:
        run.scheduler.step(val_loss)
    else:
        for group in run.optimizer.param_groups:
            group["lr"] = cosine_lr(cfg, state["epoch"], state["elapsed"])
    if val_loss < state["best"]:
        state.update(best=val_loss, best_epoch=epoch, bad_epochs=0)
        run.best_state = copy.deepcopy(run.deployable.state_dict())
    else:
        state["bad_epochs"] += 1
    state["history"].append({"epoch": epoch, "lr": run.optimizer.param_groups[0]["lr"], "train_loss": train_loss,
                             "val": val, "val_raw": val_raw, "val_loss": val_loss, "elapsed_s": state["elapsed"]})
    return val


def _stop_reason(cfg: TrainConfig, state: Dict[str, Any], ran: int) -> Optional[str]:
    """Why training stops after this epoch before its ``epochs`` are done, or None."""
    if state["bad_epochs"] >= cfg.patience and early_stopping_armed(cfg, state["epoch"], state["elapsed"]):
        return "early_stopping"
    if cfg.max_time is not None and state["elapsed"] > cfg.max_time:
        return "max_time"
    if cfg.stop_after is not None and ran >= cfg.stop_after:
        return "stop_after"
    return None


def _progress_bar(cfg: TrainConfig, rank: int, initial: int):
    if not cfg.progress or rank != 0:
        return None
    from tqdm import tqdm

    return tqdm(total=cfg.epochs, initial=initial, desc=cfg.name, dynamic_ncols=True)


def _show(bar, train_loss: float, val: Dict[str, float], lr: float) -> None:
    bar.update(1)
    bar.set_postfix(loss=f"{train_loss:.3g}", val_F=f"{val['force_rmse']:.4f}",
                    val_E=f"{val['energy_mae_per_atom'] * 1000:.2f}meV", lr=f"{lr:.2g}")


def _epochs(run: _Run, graphs, device, rank: int, world: int, ckpt_path: Path) -> str:
    """Train until the epochs are done or a stop condition holds (rank 0 checkpoints every
    epoch); returns why it stopped."""
    cfg = run.cfg
    train_model = run.model
    if world > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(run.model, device_ids=[device.index] if device.type == "cuda" else None)
    bar = _progress_bar(cfg, rank, run.state["epoch"])
    start = time.perf_counter() - run.state["elapsed"]
    ran = 0
    stopped = "epochs"
    while run.state["epoch"] < cfg.epochs:
        train_loss = _train_epoch(run, train_model, graphs["train"], device, rank, world)
        val = _end_epoch(run, graphs["val"], device, train_loss, start)
        ran += 1
        if rank == 0:
            ck.save_checkpoint(run.checkpoint(), ckpt_path)
        if bar is not None:
            _show(bar, train_loss, val, run.optimizer.param_groups[0]["lr"])
        reason = _stop_reason(cfg, run.state, ran)
        if reason is not None:
            stopped = reason
            break
    if bar is not None:
        bar.close()
    return stopped


def _finish(run: _Run, graphs, summary: Dict[str, Any], ckpt_path: Path) -> None:
    """Held-out metrics of the best weights (in float64, as exported), the final checkpoint with
    the provenance a student file exported from it carries, and the summary JSON."""
    cfg = run.cfg
    final = build_student(run.config())
    ck.load_state(final, run.best_state)
    final = final.double().eval()
    test = graphs["test"] or graphs["val"]
    summary["test_split"] = "test" if graphs["test"] else "val"
    summary["metrics"] = evaluate_graphs(final, test, dtype=torch.float64)
    summary["val_metrics"] = evaluate_graphs(final, graphs["val"], dtype=torch.float64)
    summary["params"] = sum(p.numel() for p in final.parameters())
    checkpoint = run.checkpoint()
    checkpoint["metadata"]["provenance"] = provenance(cfg, run.teacher, summary)
    ck.save_checkpoint(checkpoint, ckpt_path)
    atomic_write_text(Path(cfg.out) / f"{cfg.name}_summary.json",
                      json.dumps({**summary, "history": run.state["history"]}, indent=1, default=str))


def train(cfg: TrainConfig) -> Dict[str, Any]:
    """Train (or resume) one student; returns the summary (metrics, paths). Rank 0 writes files."""
    _check_grad_clip(cfg)
    init_process_group(cfg.device)
    rank, world = group_rank()
    device = _device(cfg, rank, world)
    ckpt_path = Path(cfg.out) / f"{cfg.name}_checkpoint.pt"
    frames = read_labelled(cfg.dataset)
    elements = _elements(frames)
    graphs = {k: frames_to_graphs(v, cfg.cutoff, elements) for k, v in _split(frames, cfg.seed).items()}
    run = _start(cfg, elements, graphs["train"], device, teacher=cfg.teacher or frames[0].info.get("teacher"))
    if cfg.resume and ckpt_path.is_file():
        run.resume(ckpt_path, device)
    stopped = _epochs(run, graphs, device, rank, world, ckpt_path)
    state = run.state
    summary: Dict[str, Any] = {"checkpoint": str(ckpt_path), "stopped": stopped, "epochs_done": state["epoch"],
                               "best_epoch": state["best_epoch"], "elapsed_s": state["elapsed"], "elements": elements}
    if rank == 0 and stopped != "stop_after":
        _finish(run, graphs, summary, ckpt_path)
    return summary


def file_sha256(path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (a dataset may not fit in memory twice)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def provenance(cfg: TrainConfig, teacher, summary: Dict[str, Any]) -> Dict[str, Any]:
    """How the model was made: dataset (path and hash), teacher, recipe and held-out metrics."""
    return {
        "teacher": teacher, "dataset": str(cfg.dataset), "seed": cfg.seed, "size": cfg.name,
        # the path alone says little once the model travels; `sha256sum` tells whether a file is that dataset
        "dataset_sha256": file_sha256(cfg.dataset),
        "architecture": cfg.architecture, "preset": cfg.preset, "params": summary.get("params"),
        "metrics": summary.get("metrics"), "test_split": summary.get("test_split"),
        "epochs": summary.get("epochs_done"), "best_epoch": summary.get("best_epoch"),
        # the console script by its name, as a user types it, not by where this install put it
        "command": cfg.command or " ".join([Path(sys.argv[0]).name] + [shlex.quote(a) for a in sys.argv[1:]]),
    }
