"""Teachers: the big models (or cheap classical potentials) that label training data.

``get_teacher(name)`` resolves a name to a :class:`Teacher`:

* ``"sevennet"`` (aliases ``"default"``, ``"sevennet-0"``, ``"7net-0"``): SevenNet-0, the
  embedded default; its weights ship with ``pip install 'pair-student[sevenn]'``.
* any orb-models name, e.g. ``"orb-v3-conservative-inf-omat"``, ``"orb-v3-direct-20-omat"``
  (``pip install 'pair-student[orb]'``); options ``weights_path=``, ``random_weights=True``,
  ``dtype=``, ``compile=``.
* classical LAMMPS potentials: ``"sw-si"`` (alias ``"lammps:sw"``), ``"sw-gan"``,
  ``"tersoff-gan"``, or ``"lammps"`` with ``pair_style=``, ``pair_coeff=``, ``elements=``.
* an ASE calculator object: ``get_teacher(EMT())`` wraps it in :class:`ASETeacher`.
"""

from __future__ import annotations

from typing import Callable, Dict

from .base import ASETeacher, Teacher
from .lammps import PRESET_ALIASES, PRESETS, LAMMPSTeacher
from .orb import OrbTeacher, orb_model_names
from .sevennet import SevenNetTeacher


def _sevennet(name: str, device: str, **options) -> Teacher:
    return SevenNetTeacher(device=device, **options)


def _orb(name: str, device: str, **options) -> Teacher:
    return OrbTeacher(name=name, device=device, **options)


def _lammps(name: str, device: str, **options) -> Teacher:
    preset = None if name == "lammps" else PRESET_ALIASES.get(name, name)
    return LAMMPSTeacher(preset=preset, device=device, **options)


#: name -> factory(name, device, **options). Orb names are added from orb-models' own list.
TEACHERS: Dict[str, Callable[..., Teacher]] = {
    "sevennet": _sevennet,
    "default": _sevennet,
    "sevennet-0": _sevennet,
    "7net-0": _sevennet,
    **{name: _lammps for name in (*PRESETS, *PRESET_ALIASES)},
    "lammps": _lammps,
}
TEACHERS.update({n: _orb for n in orb_model_names()})


def get_teacher(name, /, *, device: str = "cpu", **options) -> Teacher:
    """Build a teacher.

    Args:
        name: a registry name (see the module docstring and ``TEACHERS``), a :class:`Teacher`
            (returned as is) or an ASE calculator (wrapped in :class:`ASETeacher`; ``options``
            go to it, e.g. ``name=``, ``version=``). Positional-only, so that ``name=`` can
            name a wrapped calculator.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:0"``, ...
        options: backend options, e.g. ``dtype="float64"``, ``weights_path=...``,
            ``random_weights=True`` (Orb), ``model=``/``modal=`` (SevenNet).
    """
    if isinstance(name, Teacher):
        return name
    if not isinstance(name, str):
        if hasattr(name, "get_potential_energy") or hasattr(name, "calculate"):
            return ASETeacher(name, **options)
        raise TypeError(f"a teacher is a name or an ASE calculator, not {type(name).__name__}")
    key = name.strip().lower()
    if key not in TEACHERS:
        raise ValueError(
            f"unknown teacher {name!r}; known: {', '.join(sorted(TEACHERS))} "
            "(or pass an ASE calculator object)"
        )
    return TEACHERS[key](key, device, **options)


__all__ = ["Teacher", "ASETeacher", "TEACHERS", "get_teacher"]
