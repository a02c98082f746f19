import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import ase.io
import numpy as np
import pytest

from ase.build import bulk
from ase.calculators.emt import EMT

from pair_student.cli import main as cli_main
from pair_student.data.cli import label_main
from pair_student.data.dataset import dataset_stats, read_dataset
from pair_student.data.label import label, split_of
from pair_student.data.sample import sample
from pair_student.data.splits import stratified_splits
from pair_student.teachers.base import ASETeacher

PYTHON_DIR = str(Path(__file__).resolve().parents[2] / "python")


def _same_dataset(a, b):
    fa, fb = ase.io.read(a, ":"), ase.io.read(b, ":")
    assert len(fa) == len(fb)
    for x, y in zip(fa, fb):
        assert x.info == y.info
        np.testing.assert_array_equal(x.positions, y.positions)
        assert x.get_potential_energy() == y.get_potential_energy()
        np.testing.assert_array_equal(x.get_forces(), y.get_forces())
        np.testing.assert_array_equal(x.get_stress(), y.get_stress())
    assert Path(a).read_bytes() == Path(b).read_bytes()


def test_dataset_format(tmp_path, cu_frames, emt_teacher):
    out = label(cu_frames, teacher=emt_teacher, out=tmp_path / "d.extxyz", chunk_size=5,
                progress=False)
    frames = ase.io.read(out, ":")  # what the training engineer does
    assert len(frames) == 12
    for i, (f, src) in enumerate(zip(frames, cu_frames)):
        ref = emt_teacher.compute(src)
        # extxyz keeps 8 decimals for per-atom columns, full precision for energy and stress
        assert f.get_potential_energy() == pytest.approx(ref["energy"], abs=1e-12)
        np.testing.assert_allclose(f.get_forces(), ref["forces"], atol=1e-8)
        np.testing.assert_allclose(f.get_stress(), ref["stress"], atol=1e-14)
        assert f.info["frame_id"] == i and f.info["teacher"] == "emt"
        assert f.info["teacher_version"] == "ase-emt"
        assert f.info["provenance"] == f"rattle seed={i}"
    # a new job splits by kind (here all "rattle"): exactly the stratified rule's assignment
    assert [f.info["split"] for f in frames] == stratified_splits(["rattle"] * 12, seed=0)
    assert not (tmp_path / "d.extxyz.parts").exists()
    assert sum(1 for _ in read_dataset(out, split="train")) == dataset_stats(out)["splits"]["train"]


def test_molecule_frames_have_no_stress(tmp_path, emt_teacher):
    from ase.build import molecule

    out = label([molecule("CH4")], teacher=emt_teacher, out=tmp_path / "m.extxyz", progress=False)
    (f,) = ase.io.read(out, ":")
    assert f.get_forces().shape == (5, 3)
    assert "stress" not in f.calc.results


def test_split_is_deterministic_and_proportional():
    splits = [split_of(i, seed=5) for i in range(4000)]
    assert splits == [split_of(i, seed=5) for i in range(4000)]
    assert splits != [split_of(i, seed=6) for i in range(4000)]
    frac = {s: splits.count(s) / 4000 for s in ("train", "val", "test")}
    assert frac["train"] == pytest.approx(0.8, abs=0.03)
    assert frac["val"] == pytest.approx(0.1, abs=0.02)
    with pytest.raises(ValueError):
        split_of(0, seed=0, split=(0.5, 0.5))


def test_resume_after_exception_equals_uninterrupted(tmp_path, cu_frames, emt_teacher, failing_teacher):
    ref = label(cu_frames, teacher=emt_teacher, out=tmp_path / "ref.extxyz", chunk_size=3,
                progress=False)
    out = tmp_path / "run.extxyz"
    with pytest.raises(failing_teacher.Crash):
        label(cu_frames, teacher=failing_teacher(7), out=out, chunk_size=3, progress=False)
    parts = sorted(p.name for p in (tmp_path / "run.extxyz.parts").glob("chunk-*"))
    assert parts == ["chunk-00000.extxyz", "chunk-00001.extxyz"] and not out.exists()
    # the restart must only label the 2 missing chunks (6 frames): a teacher allowing 6 suffices
    label(cu_frames, teacher=failing_teacher(6), out=out, chunk_size=3, progress=False)
    _same_dataset(ref, out)


def test_sigkill_then_restart_equals_uninterrupted(tmp_path, cu_frames, emt_teacher):
    frames_file = tmp_path / "frames.extxyz"
    ase.io.write(frames_file, cu_frames)
    ref = label(str(frames_file), teacher=emt_teacher, out=tmp_path / "ref.extxyz",
                chunk_size=2, progress=False)
    out = tmp_path / "run.extxyz"
    script = textwrap.dedent(f"""
        import os, signal
        from ase.calculators.emt import EMT
        from pair_student.data.label import label
        from pair_student.teachers.base import ASETeacher

        class Killer(ASETeacher):
            calls = 0
            def calculator(self):
                return EMT()
            def compute(self, atoms):
                Killer.calls += 1
                if Killer.calls == 8:  # SIGKILL inside chunk 3, after chunks 0-2 were written
                    os.kill(os.getpid(), signal.SIGKILL)
                return super().compute(atoms)

        label({str(frames_file)!r}, teacher=Killer(EMT(), name="emt", version="ase-emt"),
              out={str(out)!r}, chunk_size=2, progress=False)
    """)
    env = {**os.environ, "PYTHONPATH": PYTHON_DIR, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", script], env=env, timeout=120)
    assert res.returncode == -signal.SIGKILL
    done = sorted(p.name for p in (tmp_path / "run.extxyz.parts").glob("chunk-*"))
    assert done == [f"chunk-{c:05d}.extxyz" for c in range(3)] and not out.exists()
    label(str(frames_file), teacher=emt_teacher, out=out, chunk_size=2, progress=False)
    _same_dataset(ref, out)


def test_restart_with_other_inputs_refuses(tmp_path, cu_frames, emt_teacher, failing_teacher):
    out = tmp_path / "run.extxyz"
    with pytest.raises(failing_teacher.Crash):
        label(cu_frames, teacher=failing_teacher(4), out=out, chunk_size=3, progress=False)
    with pytest.raises(RuntimeError, match="seed"):
        label(cu_frames, teacher=emt_teacher, out=out, chunk_size=3, seed=1, progress=False)
    with pytest.raises(RuntimeError, match="input_sha1"):
        label(cu_frames[:-1], teacher=emt_teacher, out=out, chunk_size=3, progress=False)


def test_two_ranks_shard_and_rank0_assembles(tmp_path, cu_frames, emt_teacher):
    frames_file = tmp_path / "frames.extxyz"
    ase.io.write(frames_file, cu_frames)
    ref = label(str(frames_file), teacher=emt_teacher, out=tmp_path / "ref.extxyz",
                chunk_size=2, progress=False)
    out = tmp_path / "sharded.extxyz"
    log = tmp_path / "calls"
    script = textwrap.dedent(f"""
        import os
        from ase.calculators.emt import EMT
        from pair_student.data.label import label
        from pair_student.teachers.base import ASETeacher

        class Logged(ASETeacher):
            def calculator(self):
                return EMT()
            def compute(self, atoms):
                with open({str(log)!r} + os.environ["RANK"], "a") as fh:
                    fh.write("x")
                return super().compute(atoms)

        label({str(frames_file)!r}, teacher=Logged(EMT(), name="emt", version="ase-emt"),
              out={str(out)!r}, chunk_size=2, progress=False)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script],
                              env={**os.environ, "PYTHONPATH": PYTHON_DIR, "RANK": str(r),
                                   "WORLD_SIZE": "2", "OMP_NUM_THREADS": "1"})
             for r in (0, 1)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    # 6 chunks of 2 frames: each rank labelled its 3 chunks only
    assert [len(Path(f"{log}{r}").read_text()) for r in (0, 1)] == [6, 6]
    _same_dataset(ref, out)


def test_label_cli(tmp_path, cu_frames):
    frames_file = tmp_path / "frames.extxyz"
    ase.io.write(frames_file, cu_frames[:3])
    si = tmp_path / "si.extxyz"
    ase.io.write(si, [bulk("Si", "diamond", a=5.43, cubic=True)])
    assert label_main([str(si), "--teacher", "sw-si", "--out", str(tmp_path / "o.extxyz"),
                       "--no-progress"]) == 0
    (f,) = ase.io.read(tmp_path / "o.extxyz", ":")
    assert f.info["teacher"] == "sw-si" and f.get_stress().shape == (6,)
    with pytest.raises(SystemExit):
        label_main(["--help"])


class _CopperOnly(ASETeacher):
    def __init__(self):
        super().__init__(EMT(), name="emt")

    def covered_elements(self):
        return {"Cu"}

    def compute(self, atoms):
        raise AssertionError("no frame may be labelled when the teacher lacks an element")


def test_element_the_teacher_lacks_is_refused_before_any_labelling(tmp_path, cu_frames):
    frames = cu_frames[:3] + [bulk("Au", "fcc", a=4.08)]
    out = tmp_path / "ds.extxyz"
    with pytest.raises(ValueError, match=r"teacher emt has no parameters for Au \(in the frames\)"):
        label(frames, teacher=_CopperOnly(), out=out)
    assert not out.exists() and not out.with_name(out.name + ".parts").exists()


def test_label_command_says_one_line_for_an_uncovered_element(tmp_path, capsys):
    frames_file = tmp_path / "gan.extxyz"
    ase.io.write(frames_file, [bulk("GaN", "wurtzite", a=3.19, c=5.19)])
    assert cli_main(["label", str(frames_file), "--teacher", "sw-si", "--out", str(tmp_path / "o.extxyz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pair-student label: error: teacher sw-si has no parameters for Ga, N") and "\n" not in err


def test_sampling_checks_the_teacher_before_md():
    with pytest.raises(ValueError, match="no parameters for Au"):
        sample([bulk("Au", "fcc", a=4.08)], teacher=_CopperOnly(), n_frames=2, seed=0, methods=["md"])
