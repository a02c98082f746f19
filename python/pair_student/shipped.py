"""Students shipped inside the package: ``demo/<system>/<size>_model_traced.pt``.

``pair-student models`` prints the absolute path of each, one per line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Dict, List, Optional

DEMO_DIR = Path(__file__).resolve().parent / "demo"
SIZES = ("original", "tiny", "ultra-tiny")


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


def main(argv: Optional[List[str]] = None, prog: str = "pair-student models") -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Print the absolute path of every shipped student.")
    parser.add_argument("--system", help="only this demo system (si, gan, ethanol)")
    args = parser.parse_args(argv)
    for system, sizes in shipped_models().items():
        if args.system in (None, system):
            for path in sizes.values():
                print(path)
    return 0
