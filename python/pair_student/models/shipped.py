"""Students shipped inside the package: ``demo/<system>/<size>_model_traced.pt``."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

from ..registry import DEMO_DIR


def shipped_models() -> Dict[str, Dict[str, Path]]:
    """``{system: {size: path}}`` for every shipped student file."""
    found: Dict[str, Dict[str, Path]] = {}
    for path in sorted(DEMO_DIR.glob("*/*_model_traced.pt")):
        size = path.name[: -len("_model_traced.pt")]
        found.setdefault(path.parent.name, {})[size] = path
    return found


def shipped_model(system: str, size: str) -> Path:
    """Path of one shipped student; a clear error listing what exists otherwise."""
    models = shipped_models()
    if system not in models or size not in models[system]:
        have = ", ".join(f"{s}/{z}" for s, sizes in models.items() for z in sizes) or "none"
        raise FileNotFoundError(f"no shipped student {system}/{size}; shipped: {have}")
    return models[system][size]
