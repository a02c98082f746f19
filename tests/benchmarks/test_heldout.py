"""The committed held-out OOD test sets (``benchmarks/datasets/heldout/``): every frame carries
finite teacher labels and split ``test``, every required kind has enough frames, the JSON
describes the file it sits beside, and no frame is one of the training set's.

The sets are read by a small parser of their own: ASE's extxyz reader takes minutes on the
1,250-frame training sets on a loaded 2-core machine."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import List

import numpy as np
import pytest
from ase.io.extxyz import key_val_str_to_dict

from pair_student.data.splits import frame_kind

DATASETS = Path(__file__).resolve().parents[2] / "benchmarks" / "datasets"
MIN_FRAMES = 20
# kinds by their start: the issue asks for these, per system
REQUIRED = {
    "si": ("vacancy Si md", "interstitial Si md", "surface", "melt", "hot md"),
    "gan": ("vacancy Ga md", "vacancy N md", "interstitial", "surface", "melt", "hot md"),
    "ethanol": ("hot md", "stretch C-C", "stretch C-O", "stretch C-H", "stretch O-H"),
}


def read_frames(text: str, *, labels: bool = True) -> List[dict]:
    """Frames of an extxyz text as dicts: ``info`` (the comment line's keys), ``species``,
    ``positions`` and (with ``labels``) ``forces``, the columns after the positions."""
    lines = text.splitlines()
    frames, k = [], 0
    while k < len(lines):
        n = int(lines[k])
        info = key_val_str_to_dict(lines[k + 1])
        rows = [line.split() for line in lines[k + 2:k + 2 + n]]
        columns = np.array([r[1:7 if labels else 4] for r in rows], dtype=float)
        frame = {"info": info, "species": [r[0] for r in rows], "positions": columns[:, :3]}
        if labels:
            frame["forces"] = columns[:, 3:6]
        frames.append(frame)
        k += n + 2
    return frames


def structure_key(frame: dict) -> str:
    """Species, positions and cell to 0.01 A: equal for a frame and a copy of it."""
    h = hashlib.sha1(" ".join(frame["species"]).encode())
    h.update(np.round(frame["positions"], 2).tobytes())
    h.update(np.round(np.asarray(frame["info"]["Lattice"], dtype=float), 2).tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module", params=sorted(REQUIRED))
def heldout(request):
    system = request.param
    text = gzip.decompress((DATASETS / "heldout" / f"{system}.extxyz.gz").read_bytes()).decode()
    meta = json.loads((DATASETS / "heldout" / f"{system}.json").read_text())
    return system, text, read_frames(text), meta


def test_frames_carry_finite_teacher_labels_and_split_test(heldout):
    _, _, frames, meta = heldout
    for frame in frames:
        info = frame["info"]
        assert info["split"] == "test"
        assert info["teacher"] == meta["teacher"] == "sevennet"
        assert info["teacher_version"] == meta["teacher_version"]
        assert np.isfinite(info["energy"])
        assert frame["forces"].shape == frame["positions"].shape
        assert np.all(np.isfinite(frame["forces"]))
        assert np.linalg.norm(frame["forces"], axis=1).max() <= meta["max_force_cap_eV_A"]


def test_every_required_kind_has_enough_frames(heldout):
    system, _, frames, meta = heldout
    counts = {}
    for frame in frames:
        kind = frame_kind(frame["info"]["provenance"])
        counts[kind] = counts.get(kind, 0) + 1
    assert counts == {kind: row["frames"] for kind, row in meta["kinds"].items()}
    for start in REQUIRED[system]:
        assert sum(n for kind, n in counts.items() if kind.startswith(start)) >= MIN_FRAMES, (start, counts)


def test_hot_md_is_hotter_than_any_training_md(heldout):
    system, _, _, meta = heldout
    training = json.loads((DATASETS / "large" / f"{system}.json").read_text())
    hottest = max(float(t) for kind in training["kinds"] for t in re.findall(r"\bT=([\d.]+)K", kind))
    hot = [float(re.search(r"\bT=([\d.]+)K", kind).group(1)) for kind in meta["kinds"] if kind.startswith("hot md")]
    assert hot and min(hot) > hottest


def test_json_describes_the_file(heldout):
    _, text, frames, meta = heldout
    assert meta["frames"] == len(frames)
    assert meta["uncompressed_bytes"] == len(text.encode())
    assert meta["sha256_uncompressed"] == hashlib.sha256(text.encode()).hexdigest()


def test_no_heldout_frame_is_a_training_frame(heldout):
    system, _, frames, _ = heldout
    training = gzip.decompress((DATASETS / "large" / f"{system}.extxyz.gz").read_bytes()).decode()
    seen = {structure_key(f) for f in read_frames(training, labels=False)}
    assert not seen & {structure_key(f) for f in frames}


ACTIVE = sorted(p.name.split(".")[0] for p in (DATASETS / "active").glob("*.extxyz.gz"))


def test_the_loop_frames_of_every_shipped_loop_student_are_kept():
    """A student shipped from the on-policy loop names its frames in the demo README; they are
    committed, so it can be retrained and the peers fitted on the same frames."""
    assert ACTIVE, "benchmarks/datasets/active/ holds no loop frames"


@pytest.mark.parametrize("system", ACTIVE)
def test_loop_frames_are_labelled_train_or_val_and_never_a_test_or_heldout_frame(system):
    text = gzip.decompress((DATASETS / "active" / f"{system}.extxyz.gz").read_bytes()).decode()
    meta = json.loads((DATASETS / "active" / f"{system}.json").read_text())
    frames = read_frames(text)
    assert meta["frames"] == len(frames) and meta["sha256_uncompressed"] == hashlib.sha256(text.encode()).hexdigest()
    assert {f["info"]["split"] for f in frames} <= {"train", "val"}
    assert all(f["info"]["teacher"] == "sevennet" and np.all(np.isfinite(f["forces"])) for f in frames)
    rounds = [int(f["info"]["active_round"]) for f in frames]
    assert rounds == sorted(rounds) and min(rounds) == 1
    heldout = gzip.decompress((DATASETS / "heldout" / f"{system}.extxyz.gz").read_bytes()).decode()
    training = gzip.decompress((DATASETS / "large" / f"{system}.extxyz.gz").read_bytes()).decode()
    test = [f for f in read_frames(training, labels=False) if f["info"]["split"] == "test"]
    forbidden = {structure_key(f) for f in read_frames(heldout) + test}
    assert not forbidden & {structure_key(f) for f in frames}
