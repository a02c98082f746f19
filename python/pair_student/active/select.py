"""Which explored frames the teacher labels: those whose most uncertain atom passes the
threshold, spread over trajectories and over time, at most ``cap`` per round."""

from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Sequence

from ase import Atoms


def trajectory_of(frame: Atoms) -> str:
    info = frame.info
    return f"{info.get('explore')} T={info.get('temperature', 0):g}K P={info.get('pressure', 0):g}GPa"


def select_frames(frames: Sequence[Atoms], *, threshold: float, cap: int, min_gap: int) -> List[Atoms]:
    """Per trajectory its most uncertain frames above ``threshold``, each at least ``min_gap``
    MD steps from the others picked there (neighbouring snapshots teach the same thing); then
    round-robin over trajectories, most uncertain first, until ``cap``: one trajectory that
    goes wrong cannot take a whole round's labels."""
    by_run: Dict[str, List[Atoms]] = defaultdict(list)
    for f in frames:
        if f.info["uncertainty_max"] > threshold:
            by_run[trajectory_of(f)].append(f)
    queues = []
    for run in sorted(by_run):
        picked: List[Atoms] = []
        for f in sorted(by_run[run], key=lambda f: -f.info["uncertainty_max"]):
            if all(abs(f.info["step"] - g.info["step"]) >= min_gap for g in picked):
                picked.append(f)
        queues.append(picked)
    chosen: List[Atoms] = []
    depth = 0
    while len(chosen) < cap and any(depth < len(q) for q in queues):
        layer = sorted((q[depth] for q in queues if depth < len(q)), key=lambda f: -f.info["uncertainty_max"])
        chosen += layer[: cap - len(chosen)]
        depth += 1
    return chosen
