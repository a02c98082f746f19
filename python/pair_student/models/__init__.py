"""Student architectures, built by name from a plain config dict (what checkpoints store)."""

from __future__ import annotations

from typing import Any, Callable, Dict

from .base import StudentModel, polynomial_cutoff
from .local import PRESETS, LocalStudent
from .reference import ReferenceStudent

ARCHITECTURES: Dict[str, Callable[..., StudentModel]] = {
    "reference": ReferenceStudent,
    "local": LocalStudent,
}


def build_student(config: Dict[str, Any]) -> StudentModel:
    """``config = {"architecture": name, **constructor kwargs}``; a clear error for unknown names."""
    config = dict(config)
    name = config.pop("architecture", None)
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown student architecture {name!r}; known: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name](**config)


__all__ = ["ARCHITECTURES", "LocalStudent", "PRESETS", "StudentModel", "ReferenceStudent", "build_student", "polynomial_cutoff"]
