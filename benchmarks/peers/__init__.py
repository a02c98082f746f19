"""Peer potentials fitted to the same teacher-labelled training split as the students:
:mod:`.snap` and :mod:`.pod` (LAMMPS' own descriptors and fitter), :mod:`.uf3` (the uf3 extra)
and :mod:`.deepmd` (deepmd-kit in a venv of its own; :mod:`.deepmd_build` compiles its pair style
for this LAMMPS).

Each peer module has ``fit(train, val, elements, folder, **settings)`` returning a
:class:`~benchmarks.common.Potential`, and the settings of a full (``SEARCH``) and a quick
(``QUICK``) benchmark."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

PEERS = ("snap", "pod", "uf3", "deepmd")


def load(peer: str) -> ModuleType:
    """The module that fits ``peer``."""
    if peer not in PEERS:
        raise ValueError(f"unknown peer {peer!r} ({', '.join(PEERS)})")
    return import_module(f"{__name__}.{peer}")
