"""Label frames with a teacher into a resumable, shardable extxyz dataset.

Frames are labelled in chunks of ``chunk_size``. Each finished chunk is written to
``<out>.parts/chunk-NNNNN.extxyz`` through a temporary file and ``os.replace``, so a chunk file
either exists complete or not at all. A restarted job skips the chunks already written; a job
killed at any moment therefore never corrupts anything and resumes where it stopped. When
every chunk exists, the chunks are concatenated into ``<out>`` (again temp file + replace) and
the parts folder is removed.

Under ``torchrun`` (env ``RANK``/``WORLD_SIZE``) rank r labels chunks c with c % world == r;
rank 0 assembles once all chunks exist (torch.distributed barrier when a process group is
initialised, else by watching the parts folder; other ranks then return without waiting).

Splits are fixed before the first chunk, for every frame at once (:mod:`.splits`): by default
stratified by the kind of frame, so val and test hold every kind in proportion; the manifest
records the rule, and a job whose manifest records none (written before the rule existed) resumes
with the per-frame hash rule it started with.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
import time
from itertools import islice
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Set, Tuple

import ase.io
import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from ..atomic import atomic_path, atomic_write_text
from ..distributed import env_rank, process_group
from ..teachers import get_teacher
from .splits import SPLIT_RULES, SPLITS, check_fractions, frame_kind, stratified_splits
# Keys that ASE's extxyz writer would confuse with results, or that we set ourselves.
_RESERVED = {"energy", "free_energy", "stress", "forces", "split", "teacher",
             "teacher_version", "frame_id"}


def split_of(frame_id: int, *, seed: int, split: Sequence[float] = (0.8, 0.1, 0.1)) -> str:
    """The split of a frame: a pure function of (seed, frame_id), so it never depends on
    chunking, ranks or restarts."""
    fractions = check_fractions(split)
    u = np.random.default_rng([seed, frame_id]).random()
    edges = np.cumsum(fractions)
    return SPLITS[min(int(np.searchsorted(edges, u, side="right")), 2)]


def _frames(source) -> Iterator[Atoms]:
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"frames file {str(path)!r} does not exist")
        return ase.io.iread(path, index=":")
    return iter(source)


def _fingerprint(source) -> Tuple[int, str, Set[str], List[str]]:
    """Frame count, a hash of all structures (a restart must label the same input), the
    elements present (the teacher must cover them before the first frame is labelled) and the
    kind of every frame (the stratified split needs all of them before the first chunk)."""
    h = hashlib.sha1()
    n = 0
    symbols: Set[str] = set()
    kinds: List[str] = []
    for atoms in _frames(source):
        symbols.update(atoms.get_chemical_symbols())
        kinds.append(frame_kind(atoms.info.get("provenance")))
        h.update(atoms.numbers.tobytes())
        h.update(np.ascontiguousarray(atoms.positions, dtype=np.float64).round(8).tobytes())
        h.update(np.ascontiguousarray(atoms.cell.array, dtype=np.float64).round(8).tobytes())
        h.update(np.asarray(atoms.pbc).tobytes())
        n += 1
    return n, h.hexdigest(), symbols, kinds


def _labelled(atoms: Atoms, result: dict, *, frame_id: int, teacher, split: str) -> Atoms:
    out = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    out.info.update({k: v for k, v in atoms.info.items() if k not in _RESERVED})
    out.info.setdefault("provenance", "input")
    out.info["frame_id"] = int(frame_id)
    out.info["split"] = split
    out.info["teacher"] = teacher.name
    out.info["teacher_version"] = teacher.version
    results = {"energy": float(result["energy"]),
               "forces": np.asarray(result["forces"], dtype=np.float64)}
    if result.get("stress") is not None and np.all(atoms.pbc):
        results["stress"] = np.asarray(result["stress"], dtype=np.float64)
    out.calc = SinglePointCalculator(out, **results)
    return out


def _write_chunk(path: Path, frames: List[Atoms]) -> None:
    buf = io.StringIO()
    ase.io.write(buf, frames, format="extxyz")
    atomic_write_text(path, buf.getvalue())


def _chunk_path(parts: Path, c: int) -> Path:
    return parts / f"chunk-{c:05d}.extxyz"


def _check_manifest(parts: Path, manifest: dict) -> None:
    path = parts / "manifest.json"
    if path.exists():
        old = json.loads(path.read_text())
        if old != manifest:
            diff = sorted(k for k in set(old) | set(manifest) if old.get(k) != manifest.get(k))
            raise RuntimeError(
                f"{parts} holds chunks of a different labelling job (differs in: "
                f"{', '.join(diff)}); delete that folder to start over, or rerun with the "
                "same frames, teacher, seed, split, split rule and chunk_size to resume"
            )
    else:
        atomic_write_text(path, json.dumps(manifest, indent=1, sort_keys=True))


def _wait_for_chunks(parts: Path, n_chunks: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not all(_chunk_path(parts, c).exists() for c in range(n_chunks)):
        if time.monotonic() > deadline:
            missing = [c for c in range(n_chunks) if not _chunk_path(parts, c).exists()]
            raise TimeoutError(f"chunks {missing[:10]} never appeared in {parts}")
        time.sleep(1.0)


def _assemble(parts: Path, n_chunks: int, out: Path) -> None:
    with atomic_path(out) as tmp, open(tmp, "wb") as dst:
        for c in range(n_chunks):
            with open(_chunk_path(parts, c), "rb") as src:
                shutil.copyfileobj(src, dst)
        dst.flush()
        os.fsync(dst.fileno())


def label(
    frames,
    *,
    teacher,
    out,
    seed: int = 0,
    split: Sequence[float] = (0.8, 0.1, 0.1),
    chunk_size: int = 32,
    progress: bool = True,
    keep_parts: bool = False,
    wait_timeout: float = 7 * 24 * 3600.0,
    split_rule: Optional[str] = None,
    test_frames: int = 0,
) -> Path:
    """Label ``frames`` with ``teacher`` and write the dataset ``out`` (extxyz).

    Args:
        frames: a list of Atoms, or a path to any file ASE reads (streamed, never loaded
            whole).
        teacher: a :class:`~pair_student.teachers.Teacher`, a teacher name or an ASE calculator.
        out: output extxyz path. Chunks go to ``<out>.parts/`` until the job finishes.
        seed: seed of the train/val/test assignment.
        split: train, val, test fractions.
        chunk_size: frames per chunk: the unit of resuming and of sharding across ranks.
        progress: show a tqdm progress bar with ETA.
        keep_parts: keep ``<out>.parts/`` after assembling.
        wait_timeout: seconds a rank waits for other ranks' chunks before giving up.
        split_rule: ``"stratified"`` (every frame kind in val and test in proportion, see
            :mod:`.splits`) or ``"hash"`` (:func:`split_of` of the frame index, the rule of
            datasets labelled before). None: the rule an unfinished job in ``<out>.parts/``
            recorded (``hash`` for jobs that recorded none), else ``stratified``.
        test_frames: stratified rule only: at least this many test frames.

    Returns:
        ``Path(out)``. Every frame has energy, forces, stress (periodic frames only) and
        ``info`` keys ``split``, ``teacher``, ``teacher_version``, ``provenance``, ``frame_id``.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    teacher = get_teacher(teacher) if not hasattr(teacher, "compute_batch") else teacher
    out = Path(out)
    parts, splits = _open_parts(frames, out, teacher=teacher, seed=seed, split=split, chunk_size=chunk_size,
                                split_rule=split_rule, test_frames=test_frames)
    n_frames = len(splits)
    n_chunks = -(-n_frames // chunk_size)
    rank, world = env_rank()
    mine = [c for c in range(n_chunks) if c % world == rank]
    todo = {c for c in mine if not _chunk_path(parts, c).exists()}
    sizes = {c: min(chunk_size, n_frames - c * chunk_size) for c in mine}
    bar = _progress_bar(total=sum(sizes.values()), done=sum(sizes[c] for c in mine if c not in todo),
                        show=progress and bool(todo),
                        desc=f"labelling with {teacher.name}" + (f" [rank {rank}/{world}]" if world > 1 else ""))
    try:
        _label_chunks(frames, todo, n_chunks=n_chunks, chunk_size=chunk_size, parts=parts, teacher=teacher,
                      splits=splits, bar=bar)
    finally:
        bar.close()
    return _finish_ranks(parts, n_chunks, out, rank=rank, keep_parts=keep_parts, wait_timeout=wait_timeout)


def recorded_split_rule(out) -> Optional[str]:
    """The split rule an unfinished labelling job of ``out`` recorded in its manifest (``hash``
    for jobs from before the rule was recorded), None when there is no such job."""
    path = Path(out).with_name(Path(out).name + ".parts") / "manifest.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("split_rule", "hash")


def _split_manifest(rule: str, test_frames: int) -> dict:
    # The hash rule adds no keys, so a manifest written before split rules existed still
    # matches and its job resumes with the splits it started with.
    return {} if rule == "hash" else {"split_rule": rule, "test_frames": int(test_frames)}


def _open_parts(frames, out: Path, *, teacher, seed: int, split: Sequence[float], chunk_size: int,
                split_rule: Optional[str], test_frames: int) -> Tuple[Path, List[str]]:
    """Create ``<out>.parts/`` and record the job in its manifest, or check that the chunks
    already there belong to this very job; returns the folder and every frame's split."""
    rule = split_rule or recorded_split_rule(out) or "stratified"
    if rule not in SPLIT_RULES:
        raise ValueError(f"unknown split rule {rule!r}; use one of {', '.join(SPLIT_RULES)}")
    if rule == "hash" and test_frames:
        raise ValueError("a minimum number of test frames needs the stratified split; drop "
                         "test_frames (--test-frames) or use split_rule='stratified'")
    split_of(0, seed=seed, split=split)  # validate before any work
    n_frames, digest, symbols, kinds = _fingerprint(frames)
    if n_frames == 0:
        raise ValueError("no frames to label: give a file with at least one structure")
    if rule == "hash":
        splits = [split_of(i, seed=seed, split=split) for i in range(n_frames)]
    else:
        splits = stratified_splits(kinds, seed=seed, split=split, test_frames=test_frames)
    teacher.check_elements(symbols, where=str(frames) if isinstance(frames, (str, Path)) else "the frames")
    out.parent.mkdir(parents=True, exist_ok=True)
    parts = out.with_name(out.name + ".parts")
    parts.mkdir(exist_ok=True)
    manifest = {"n_frames": n_frames, "input_sha1": digest, "chunk_size": chunk_size,
                "seed": seed, "split": [float(x) for x in split], "teacher": teacher.name,
                "teacher_version": teacher.version, **_split_manifest(rule, test_frames)}
    _check_manifest(parts, manifest)
    return parts, splits


def _progress_bar(*, total: int, done: int, show: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="frame", disable=not show, desc=desc)


def _label_chunks(frames, todo: Set[int], *, n_chunks: int, chunk_size: int, parts: Path, teacher,
                  splits: Sequence[str], bar) -> None:
    """Label and write the chunks in ``todo``, streaming ``frames`` once."""
    stream = _frames(frames)
    for c in range(n_chunks):
        chunk = list(islice(stream, chunk_size))  # read every chunk to advance the stream
        if c not in todo:
            continue
        results = teacher.compute_batch(chunk)
        first = c * chunk_size
        labelled = [_labelled(a, r, frame_id=first + i, teacher=teacher, split=splits[first + i])
                    for i, (a, r) in enumerate(zip(chunk, results))]
        _write_chunk(_chunk_path(parts, c), labelled)
        bar.update(len(chunk))


def _finish_ranks(parts: Path, n_chunks: int, out: Path, *, rank: int, keep_parts: bool, wait_timeout: float) -> Path:
    """Rank 0 assembles ``out`` once every rank's chunks exist; the other ranks are done."""
    group = process_group()
    if group is not None:
        group.barrier()
    if rank != 0:
        # Without a process group, polling ranks would race rank 0 deleting the parts folder;
        # only rank 0 needs every chunk, the others are done once theirs are written.
        if group is not None:
            group.barrier()  # return only once rank 0 has assembled the file
        return out
    _wait_for_chunks(parts, n_chunks, wait_timeout)
    _assemble(parts, n_chunks, out)
    if not keep_parts:
        shutil.rmtree(parts, ignore_errors=True)
    if group is not None:
        group.barrier()
    return out


if __name__ == "__main__":
    from .cli import label_main  # not at the top: data.cli imports this module

    sys.exit(label_main(prog="python -m pair_student.data.label"))
