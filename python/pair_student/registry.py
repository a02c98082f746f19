"""One place for the names every stage shares: student sizes, demo systems and the targets a
student of each size is held to. Stages import from here; this module imports no stage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

SIZES: Tuple[str, ...] = ("original", "tiny", "ultra-tiny")
"""Student size presets, largest first (``models.local.PRESETS`` holds their hyperparameters)."""

DEFAULT_SIZE = "tiny"
"""The size a command trains or runs when none is given."""


@dataclass(frozen=True)
class DemoSystem:
    name: str
    elements: Tuple[str, ...]  # in the order of the shipped students' ``elements``
    periodic: bool
    description: str


DEMO_SYSTEMS: Dict[str, DemoSystem] = {
    "si": DemoSystem("si", ("Si",), True, "diamond Si, 64-atom cell"),
    "gan": DemoSystem("gan", ("Ga", "N"), True, "wurtzite GaN, 72-atom cell"),
    "ethanol": DemoSystem("ethanol", ("C", "H", "O"), False, "one ethanol molecule in vacuum"),
}
DEMO_NAMES: Tuple[str, ...] = tuple(DEMO_SYSTEMS)

DEMO_DIR = Path(__file__).resolve().parent / "demo"
"""Shipped students: ``demo/<system>/<size>_model_traced.pt``."""


@dataclass(frozen=True)
class QualityTarget:
    force_r2_min: float
    angular_mean_max_deg: float


QUALITY_TARGETS: Dict[str, QualityTarget] = {
    "original": QualityTarget(0.995, 5.0),
    "tiny": QualityTarget(0.99, 8.0),
    "ultra-tiny": QualityTarget(0.97, 12.0),
}
"""Force agreement with the teacher on the test split that a student of each size must reach."""

SPEED_TARGETS_VS_SW: Dict[str, float] = {"ultra-tiny": 10.0, "original": 50.0}
"""Most µs per atom-step a student may cost, as a multiple of Stillinger-Weber on Si."""

PEER_RATIO_TARGETS: Dict[str, float] = {"original": 0.8, "tiny": 1.0, "ultra-tiny": 1.3}
"""Largest force RMSE a student may have, as a multiple of the best peer's fitted on the same
frames and scored on the same test split."""


def demo_for_elements(elements) -> Optional[str]:
    """The demo system whose elements are exactly ``elements`` (in any order), if any."""
    wanted = sorted(elements)
    return next((d.name for d in DEMO_SYSTEMS.values() if sorted(d.elements) == wanted), None)


def size_of(name: Optional[str]) -> Optional[str]:
    """The size a file or student name refers to (``ultra_tiny_traced`` -> ``ultra-tiny``)."""
    if not name:
        return None
    key = name.lower().replace("_", "-")
    # longest first: "tiny" is inside "ultra-tiny"
    return next((s for s in sorted(SIZES, key=len, reverse=True) if s in key), None)


def target_status(name: Optional[str], force_r2: Optional[float], angle: Optional[float]) -> Dict:
    """Status of a student against the quality target of its size name (if it has one)."""
    size = size_of(name)
    if size is None:
        return {"size": None, "target": None, "status": "report only"}
    target = QUALITY_TARGETS[size]
    ok = force_r2 is not None and angle is not None and force_r2 >= target.force_r2_min \
        and angle <= target.angular_mean_max_deg
    return {"size": size, "target": {"force_r2_min": target.force_r2_min,
                                     "angular_mean_max_deg": target.angular_mean_max_deg},
            "status": "pass" if ok else "fail"}
