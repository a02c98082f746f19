"""Training checkpoints as the later stages read them: prefix-tolerant weight loading and the
model a checkpoint describes (what export turns into a student file).

A checkpoint is a dict::

    {"model_config": {"architecture": ..., ...}, "state_dict": ..., "metadata": {"elements",
     "cutoff", "num_layers", "provenance": {...}}, "ema_state_dict": ..., "optimizer": ...,
     "scheduler": ..., "epoch": int, "rng": {...}, "history": [...], ...}

``state_dict`` holds the weights to deploy (the EMA weights when EMA is on); the raw weights
the optimizer updates are in ``train_state_dict`` so that a resumed run continues exactly.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any, Dict, Mapping, Tuple

import torch

from . import build_student


PREFIXES = ("module.", "model.")


class CheckpointMismatchError(ValueError):
    """A state dict does not fit the model: names the missing and unexpected keys."""


def strip_prefixes(state_dict: Mapping[str, torch.Tensor], expected: Mapping[str, Any]) -> Dict[str, torch.Tensor]:
    """Drop ``module.`` (DDP) / ``model.`` (wrappers) prefixes, repeatedly, when keys do not match."""
    out = dict(state_dict)
    for _ in range(4):
        if set(out) == set(expected):
            break
        changed = False
        for prefix in PREFIXES:
            if out and all(k.startswith(prefix) for k in out):
                out = {k[len(prefix):]: v for k, v in out.items()}
                changed = True
        if not changed:
            break
    return out


def load_state(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], *, source: str = "checkpoint") -> None:
    """Load weights, tolerating prefixes; a clear error naming keys for a real mismatch."""
    expected = model.state_dict()
    state = strip_prefixes(state_dict, expected)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(k for k in set(expected) & set(state) if tuple(expected[k].shape) != tuple(state[k].shape))
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {missing}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected}")
        if shapes:
            parts.append("shape mismatch " + ", ".join(
                f"{k}: model {tuple(expected[k].shape)} vs {tuple(state[k].shape)}" for k in shapes))
        raise CheckpointMismatchError(
            f"{source} does not fit the {type(model).__name__} model: " + "; ".join(parts)
            + " (was it trained with a different architecture, size or element list?)"
        )
    model.load_state_dict(state)


def read_checkpoint(path) -> Dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    not_ours = (f"{path} is neither a pair_student training checkpoint nor a student file; give the "
                "<name>_checkpoint.pt that `pair-student train` wrote, or a student .pt")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; a text or pickle file is not ours
        raise ValueError(not_ours)
    try:
        # weights_only=False: the checkpoint holds RNG states (numpy arrays, tuples), and it is our own file
        ckpt = torch.load(str(path), map_location="cpu", weights_only=False)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise ValueError(f"{not_ours} ({exc})") from exc
    if not isinstance(ckpt, dict) or "model_config" not in ckpt or "state_dict" not in ckpt:
        raise ValueError(f"{path} is not a pair_student checkpoint (needs model_config and state_dict)")
    return ckpt


def load_checkpoint_model(path, *, raw: bool = False) -> Tuple[torch.nn.Module, Dict[str, Any]]:
    """``(model, metadata)`` of a checkpoint, in eval mode, float64, on CPU.

    The model is rebuilt with :func:`pair_student.models.build_student` from ``model_config``
    and loaded with the deployable (EMA) weights, or the raw optimizer weights with ``raw``.
    """
    ckpt = read_checkpoint(path)
    model = build_student(ckpt["model_config"])
    state = ckpt["train_state_dict"] if raw and "train_state_dict" in ckpt else ckpt["state_dict"]
    load_state(model, state, source=str(path))
    model = model.double().eval()
    return model, dict(ckpt.get("metadata") or {})
