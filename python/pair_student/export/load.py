"""What export starts from: a training checkpoint, or a student file (``.pt``) rebuilt as the
eager model it was scripted from, so that any file a user holds can be re-exported (e.g. a
shipped, tabulated student as ONNX)."""

from __future__ import annotations

import os
import zipfile
from typing import Any, Callable, Dict, Tuple

import torch

from ..contract import ContractError, evaluate, read_metadata
from .frames import sample_frames, verification_graphs
from .verify import TOLERANCE, ExportVerificationError, differences

Metadata = Dict[str, Any]
_KEPT = ("elements", "cutoff", "num_layers", "provenance")


def load_checkpoint(path: str | os.PathLike) -> Tuple[torch.nn.Module, Metadata]:
    """``(model, metadata)`` of a training checkpoint, or of a student's TorchScript file
    (:func:`local_student_from_file`)."""
    if is_student_file(path):
        return local_student_from_file(path)
    from ..models.checkpoint import load_checkpoint_model

    return load_checkpoint_model(path)


def is_student_file(path: str | os.PathLike) -> bool:
    """A TorchScript student (its zip holds ``extra/contract_version``), not a torch.save checkpoint."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(name.endswith("/extra/contract_version") for name in zf.namelist())


def local_student_from_file(path: str | os.PathLike) -> Tuple[torch.nn.Module, Metadata]:
    """The eager float64 model inside a student ``.pt``, with its metadata.

    A :class:`LocalStudent`, a :class:`TabulatedStudent` (radial tables, as every shipped
    student) or a :class:`ReferenceStudent`; sizes are read off the file's attributes and
    weights. The rebuilt model must reproduce the file on the verification frames to
    ``TOLERANCE["float64"]`` (:class:`ExportVerificationError` otherwise), so an export from
    it is checked against the file itself, not only against the rebuild.
    """
    meta = read_metadata(path)
    scripted = torch.jit.load(str(path), map_location="cpu")
    state = scripted.state_dict()
    kind = scripted.original_name
    if any(key.endswith(".qweight") for key in state):
        raise ContractError(f"{path} holds quantized weights; re-export its float file or training checkpoint")
    if kind not in _REBUILDERS:
        raise ContractError(f"{path} holds a {kind}, which cannot be rebuilt from its file "
                            f"(known: {', '.join(sorted(_REBUILDERS))}); give its training checkpoint instead")
    model = _REBUILDERS[kind](scripted, state, meta).double()
    # strict: a weight the file lacks must fail; TorchScript also keeps non-persistent
    # buffers (rebuilt by the constructor), hence the filter
    model.load_state_dict({k: v for k, v in state.items() if k in model.state_dict()})
    model.eval()
    _check_rebuild(model, scripted, meta, path)
    return model, {k: meta[k] for k in _KEPT}


def _local_sizes(scripted: torch.jit.ScriptModule, state: Dict[str, torch.Tensor]) -> Dict[str, int]:
    """Constructor sizes of a local student that survive tabulation."""
    return {
        "channels": int(scripted.channels), "num_basis": int(state["frequencies"].shape[0]),
        "hidden": int(state["readout_in.weight"].shape[0]),
        "readout_layers": 1 + sum(k.endswith(".weight") and k.startswith("readout_hidden.") for k in state),
        "lmax": int(scripted.lmax), "envelope_p": int(scripted.envelope_p),
    }


def _local(scripted, state, meta) -> torch.nn.Module:
    from ..models import LocalStudent

    radial_hidden = int(state["radial_in.weight"].shape[0])
    return LocalStudent(meta["elements"], meta["cutoff"], radial_hidden=radial_hidden, **_local_sizes(scripted, state))


def _tabulated(scripted, state, meta) -> torch.nn.Module:
    from ..models import LocalStudent
    from ..models.tabulated import TabulatedStudent

    # The file holds the tables, not the radial network they were sampled from: the
    # constructor samples a 1-wide placeholder network, whose tables the file's then replace.
    placeholder = LocalStudent(meta["elements"], meta["cutoff"], radial_hidden=1, **_local_sizes(scripted, state))
    return TabulatedStudent(placeholder.double(), int(scripted.table_points))


def _reference(scripted, state, meta) -> torch.nn.Module:
    from ..models import ReferenceStudent

    return ReferenceStudent(meta["elements"], meta["cutoff"], num_layers=meta["num_layers"])


_REBUILDERS: Dict[str, Callable[..., torch.nn.Module]] = {
    "LocalStudent": _local, "TabulatedStudent": _tabulated, "ReferenceStudent": _reference,
}


def _check_rebuild(model: torch.nn.Module, scripted: torch.jit.ScriptModule, meta: Metadata, path) -> None:
    """The rebuilt model against the file, both in float64, on the verification frames."""
    graphs = verification_graphs(sample_frames(meta["elements"]), meta["elements"], meta["cutoff"], torch.float64)
    source = scripted.to(torch.float64)
    worst = differences(lambda *args: evaluate(source, *args), model, graphs)
    if not max(worst.values()) <= TOLERANCE["float64"]:
        raise ExportVerificationError(
            f"the model rebuilt from {path} does not reproduce the file: relative differences "
            + ", ".join(f"{k}={v:.3g}" for k, v in worst.items()))


def model_metadata(model: torch.nn.Module, extra: Metadata | None = None) -> Metadata:
    """Contract metadata from the model's attributes, overridden by ``extra`` (checkpoint)."""
    meta: Metadata = {}
    for key in ("elements", "cutoff", "num_layers"):
        if hasattr(model, key):
            meta[key] = getattr(model, key)
    meta.update(extra or {})
    if "elements" not in meta or "cutoff" not in meta:
        raise ValueError("model has no elements/cutoff attributes and the checkpoint metadata gives none")
    return meta
