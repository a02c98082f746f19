"""A student file (``.pt``) rebuilt as the eager model it was scripted from.

A :class:`~.local.LocalStudent`, a :class:`~.tabulated.TabulatedStudent` (radial tables, as
every shipped student) or a :class:`~.reference.ReferenceStudent`; sizes are read off the
file's attributes and weights, so no training checkpoint is needed. Whether the rebuild
reproduces the file is for its user to check (export does, before writing anything).
"""

from __future__ import annotations

import os
import zipfile
from typing import Any, Callable, Dict, Tuple

import torch

from ..contract import ContractError, carries_uncertainty, read_metadata
from .local import LocalStudent
from .reference import ReferenceStudent
from .tabulated import TabulatedStudent

Metadata = Dict[str, Any]
State = Dict[str, torch.Tensor]
Rebuilder = Callable[[torch.jit.ScriptModule, State, Metadata], torch.nn.Module]


def is_student_file(path: str | os.PathLike) -> bool:
    """A TorchScript student (its zip holds ``extra/contract_version``), not a torch.save checkpoint."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(name.endswith("/extra/contract_version") for name in zf.namelist())


def model_from_student_file(path: str | os.PathLike) -> Tuple[torch.nn.Module, Metadata]:
    """``(model, metadata)``: the eager float64 model of a student ``.pt``, in eval mode, and
    the file's metadata (:func:`pair_student.contract.read_metadata`).

    Raises:
        ContractError: a quantized file (its float weights are gone) or an architecture
            :data:`REBUILDERS` does not know.
    """
    meta = read_metadata(path)
    scripted = torch.jit.load(str(path), map_location="cpu")
    state = scripted.state_dict()
    kind = scripted.original_name
    if any(key.endswith(".qweight") for key in state):
        raise ContractError(f"{path} holds quantized weights; re-export its float file or training checkpoint")
    if kind not in REBUILDERS:
        raise ContractError(f"{path} holds a {kind}, which cannot be rebuilt from its file "
                            f"(known: {', '.join(sorted(REBUILDERS))}); give its training checkpoint instead")
    model = REBUILDERS[kind](scripted, state, meta).double()
    # strict: a weight the file lacks must fail; TorchScript also keeps non-persistent
    # buffers (rebuilt by the constructor), hence the filter
    model.load_state_dict({k: v for k, v in state.items() if k in model.state_dict()})
    _set_uncertainty(model, scripted)
    return model.eval(), meta


def _set_uncertainty(model: torch.nn.Module, scripted: torch.jit.ScriptModule) -> None:
    """The uncertainty statistics of a file (non-persistent buffers, like the core windows)."""
    if carries_uncertainty(scripted):
        model.set_uncertainty(*(getattr(scripted, name).double() for name in
                                ("uncertainty_mean", "uncertainty_whiten", "uncertainty_calibration")))


def _local_sizes(scripted: torch.jit.ScriptModule, state: State) -> Dict[str, int]:
    """Constructor sizes of a local student that survive tabulation."""
    return {
        "channels": int(scripted.channels), "num_basis": int(state["frequencies"].shape[0]),
        "hidden": int(state["readout_in.weight"].shape[0]),
        "readout_layers": 1 + sum(k.endswith(".weight") and k.startswith("readout_hidden.") for k in state),
        "lmax": int(scripted.lmax), "envelope_p": int(scripted.envelope_p),
    }


def _core(scripted: torch.jit.ScriptModule) -> Dict[str, Any]:
    """The core repulsion windows of a file (non-persistent buffers, so not in its state dict)."""
    if not hasattr(scripted, "core_outer") or not bool((scripted.core_outer > 0).any()):
        return {}
    return {"core_inner": scripted.core_inner.double().tolist(), "core_outer": scripted.core_outer.double().tolist()}


def _local(scripted: torch.jit.ScriptModule, state: State, meta: Metadata) -> torch.nn.Module:
    # files written before radial_mode existed hold the shared network and no such attribute
    mode = str(getattr(scripted, "radial_mode", "shared"))
    radial_hidden = int(scripted.radial_hidden) if hasattr(scripted, "radial_hidden") \
        else int(state["radial_in.weight"].shape[0])
    return LocalStudent(meta["elements"], meta["cutoff"], radial_hidden=radial_hidden, radial_mode=mode,
                        **_local_sizes(scripted, state), **_core(scripted))


def _tabulated(scripted: torch.jit.ScriptModule, state: State, meta: Metadata) -> torch.nn.Module:
    # The file holds the tables, not the radial network they were sampled from: the
    # constructor samples a 1-wide placeholder network, whose tables the file's then replace.
    placeholder = LocalStudent(meta["elements"], meta["cutoff"], radial_hidden=1, **_local_sizes(scripted, state),
                               **_core(scripted))
    return TabulatedStudent(placeholder.double(), int(scripted.table_points))


def _reference(scripted: torch.jit.ScriptModule, state: State, meta: Metadata) -> torch.nn.Module:
    return ReferenceStudent(meta["elements"], meta["cutoff"], num_layers=meta["num_layers"])


REBUILDERS: Dict[str, Rebuilder] = {
    "LocalStudent": _local, "TabulatedStudent": _tabulated, "ReferenceStudent": _reference,
}
"""Architecture (the scripted module's ``original_name``) -> the untrained model of the
file's sizes, ``(scripted, state_dict, metadata) -> module``, whose weights are then loaded."""
