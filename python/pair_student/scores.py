"""The agreement scores every stage reports a student by (training's validation, analysis,
validate): R² of force components and the angle between predicted and teacher forces."""

from __future__ import annotations

import numpy as np

MIN_FORCE_FOR_ANGLE = 0.05
"""eV/A: the teacher force below which an atom's force direction is noise and its angular
error is not counted (the count of skipped atoms is reported)."""


def r2_score(target, predicted) -> float:
    """Coefficient of determination ``1 - SSE/SST`` of ``predicted`` against ``target``."""
    t, p = np.asarray(target, float).ravel(), np.asarray(predicted, float).ravel()
    sst = float(((t - t.mean()) ** 2).sum())
    return 1.0 - float(((t - p) ** 2).sum()) / sst if sst > 0 else float("nan")


def angular_error_deg(target, predicted) -> np.ndarray:
    """Angle in degrees between each row of ``target`` and ``predicted`` ((N, 3) arrays)."""
    t, p = np.atleast_2d(np.asarray(target, float)), np.atleast_2d(np.asarray(predicted, float))
    norm = np.linalg.norm(t, axis=1) * np.linalg.norm(p, axis=1)
    cos = np.divide((t * p).sum(1), norm, out=np.ones(len(t)), where=norm > 0)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
