"""Frame kinds and the stratified train/val/test split.

A frame's *kind* is how it was made, without what varies frame to frame: ``md npt T=1200K
P=5GPa``, ``rattle sigma=0.05``, ``strain``, ``normal_modes T=300K``, ``contact pair Si-Si``.
It is read from ``atoms.info["provenance"]`` (:func:`frame_kind`).

Two split rules exist:

* ``"hash"``: :func:`pair_student.data.label.split_of`, a pure function of (seed, frame index).
  Every dataset labelled before the stratified rule used it, and resuming such a job keeps it.
* ``"stratified"``: within each kind, a seeded shuffle of its frames; each kind gives the split
  fractions of its frames to val and test (at least one each when it has three frames or more),
  so a test split of 150 frames holds every kind in proportion instead of whatever a hash drew.
  A pure function of (seed, fractions, minimum test size, the kinds of all frames in order).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Dict, List, Sequence, Set

import numpy as np

SPLITS = ("train", "val", "test")
SPLIT_RULES = ("hash", "stratified")
# provenance words kept in the kind: what names the conditions, not the frame
_KIND_KEYS = ("T", "P", "sigma")


def frame_kind(provenance) -> str:
    """The kind of a frame from its provenance: the words without ``=`` (``md``, ``npt``,
    ``contact``, ``pair``, ``Ga-N``) and the ``T=``, ``P=``, ``sigma=`` settings; the step, strain,
    driver, ratio and other per-frame values are dropped."""
    words = str(provenance or "input").split()
    kept = [w for w in words if "=" not in w or w.split("=", 1)[0] in _KIND_KEYS]
    return " ".join(kept) or "input"


def check_fractions(split: Sequence[float]) -> np.ndarray:
    fractions = np.asarray(split, dtype=float)
    if len(fractions) != 3 or np.any(fractions < 0) or fractions.sum() <= 0:
        raise ValueError(f"split must be three non-negative fractions, not {list(split)}")
    return fractions / fractions.sum()


def _apportion(sizes: Dict[str, int], total: int, *, at_least_one: Set[str]) -> Dict[str, int]:
    """Split ``total`` over groups in proportion to ``sizes`` (largest remainder), never more
    than a group has; the groups in ``at_least_one`` get one or more."""
    n = sum(sizes.values())
    if n == 0:
        return {k: 0 for k in sizes}
    quota = {k: total * s / n for k, s in sizes.items()}
    alloc = {k: min(int(np.floor(q)), sizes[k]) for k, q in quota.items()}
    alloc = {k: max(a, 1) if k in at_least_one and sizes[k] else a for k, a in alloc.items()}
    # hand out what is left by largest remainder, ties broken by kind name so it is deterministic
    order = sorted(sizes, key=lambda k: (-(quota[k] - np.floor(quota[k])), k))
    left = total - sum(alloc.values())
    while left > 0 and any(alloc[k] < sizes[k] for k in order):
        for k in order:
            if left > 0 and alloc[k] < sizes[k]:
                alloc[k] += 1
                left -= 1
    return alloc


def _kind_seed(seed: int, kind: str) -> List[int]:
    return [seed, int.from_bytes(hashlib.sha1(kind.encode()).digest()[:4], "little")]


def stratified_splits(kinds: Sequence[str], *, seed: int, split: Sequence[float] = (0.8, 0.1, 0.1),
                      test_frames: int = 0) -> List[str]:
    """The split of every frame, given the kind of every frame in index order.

    Args:
        kinds: ``frame_kind`` of each frame.
        seed: shuffle seed.
        split: train, val, test fractions.
        test_frames: minimum test size; the test fraction grows to reach it (val keeps its
            fraction, train gives the frames).
    """
    fractions = check_fractions(split)
    n = len(kinds)
    if test_frames < 0:
        raise ValueError(f"test_frames must be >= 0, not {test_frames}")
    if test_frames > n:
        raise ValueError(f"{test_frames} test frames asked for, but there are only {n} frames: "
                         "sample more frames or ask for fewer test frames")
    groups: Dict[str, List[int]] = defaultdict(list)
    for i, kind in enumerate(kinds):
        groups[kind].append(i)
    n_test = max(int(round(fractions[2] * n)), test_frames)
    n_val = min(int(round(fractions[1] * n)), n - n_test)
    # a kind of three frames or more puts one in each split; the one it keeps for train is held
    # back from val's share
    big = {k for k, v in groups.items() if len(v) >= 3}
    test = _apportion({k: len(v) for k, v in groups.items()}, n_test, at_least_one=big if fractions[2] > 0 else set())
    val = _apportion({k: len(v) - test[k] - (1 if k in big else 0) for k, v in groups.items()},
                     n_val, at_least_one=big if fractions[1] > 0 else set())
    out = ["train"] * n
    for kind, ids in groups.items():
        order = np.random.default_rng(_kind_seed(seed, kind)).permutation(ids)
        for i in order[:test[kind]]:
            out[i] = "test"
        for i in order[test[kind]:test[kind] + val[kind]]:
            out[i] = "val"
    return out
