"""Atomic writes: a failed write changes nothing and leaves no temporary file behind."""

import os
import stat

import pytest

from pair_student.atomic import atomic_path, atomic_write_text


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_text_is_written_and_replaces_the_old_file(tmp_path):
    target = tmp_path / "sub" / "report.md"  # missing folders are made
    atomic_write_text(target, "first")
    atomic_write_text(target, "second ≥ 0.99\n")
    assert target.read_text() == "second ≥ 0.99\n"
    assert os.listdir(target.parent) == ["report.md"]


def test_a_write_that_raises_leaves_the_target_and_no_temporary_file(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="half way"):
        with atomic_path(target) as tmp:
            tmp.write_text("new, half written")
            raise RuntimeError("half way")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_a_write_that_raises_creates_no_target(tmp_path):
    target = tmp_path / "model.onnx"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target, suffix=".onnx") as tmp:
            assert tmp.name.endswith(".onnx") and tmp.parent == tmp_path
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_permissions_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        with atomic_path(tmp_path / "b.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    # as open() would create them, not mkstemp's 0600
    assert _mode(tmp_path / "a.txt") == 0o666 & ~umask
    assert _mode(tmp_path / "b.bin") == 0o666 & ~umask
