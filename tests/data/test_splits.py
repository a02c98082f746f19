"""The stratified split, how it meets old datasets, and the data commands' one-line errors."""

import json
from collections import Counter

import ase.io
import pytest
from ase.build import bulk

from pair_student.cli import main as cli_main
from pair_student.data.dataset import kind_table, shortest_distances
from pair_student.data.label import label, recorded_split_rule, split_of
from pair_student.data.splits import frame_kind, stratified_splits


def test_frame_kind_keeps_conditions_and_drops_per_frame_values():
    assert frame_kind("md npt T=1200K P=5GPa driver=sw-si step=350 dt=1fs") == "md npt T=1200K P=5GPa"
    assert frame_kind("strain eps=0.01,0,0,0,0,0 rattle=0.02") == "strain"
    assert frame_kind("rattle sigma=0.05") == "rattle sigma=0.05"
    assert frame_kind("contact pair Ga-N r0=1.9500 ratio=0.712,0.801") == "contact pair Ga-N"
    assert frame_kind(None) == "input"


def test_every_kind_in_test_and_val_in_proportion():
    kinds = ["md T=300K"] * 500 + ["md T=1800K"] * 100 + ["contact pair Si-Si"] * 20 + ["strain"] * 3 + ["x"] * 2
    splits = stratified_splits(kinds, seed=0, split=(0.8, 0.1, 0.1), test_frames=150)
    by = {k: Counter(s for kk, s in zip(kinds, splits) if kk == k) for k in set(kinds)}
    assert Counter(splits)["test"] == 150 and Counter(splits)["val"] == round(0.1 * len(kinds))
    for k in ("md T=300K", "md T=1800K", "contact pair Si-Si", "strain"):
        assert by[k]["test"] >= 1 and by[k]["val"] >= 1 and by[k]["train"] >= 1, k
    # in proportion: 150 / 625 of each large kind, to within one frame
    assert abs(by["md T=300K"]["test"] - 500 * 150 / 625) <= 1.5
    assert abs(by["md T=1800K"]["test"] - 100 * 150 / 625) <= 1.5
    assert by["x"]["train"] == 2  # a kind of two frames stays in training
    # a pure function of its inputs
    assert splits == stratified_splits(kinds, seed=0, split=(0.8, 0.1, 0.1), test_frames=150)
    assert splits != stratified_splits(kinds, seed=1, split=(0.8, 0.1, 0.1), test_frames=150)
    with pytest.raises(ValueError, match="700 test frames asked for, but there are only 625 frames"):
        stratified_splits(kinds, seed=0, test_frames=700)


def _kinded_frames(n):
    frames = []
    for i in range(n):
        a = bulk("Cu", "fcc", a=3.6, cubic=True)
        a.rattle(0.05, seed=i)
        a.info["provenance"] = f"rattle sigma={0.02 if i % 3 else 0.1} seed={i}"
        frames.append(a)
    return frames


def test_label_stratifies_and_records_the_rule(tmp_path, emt_teacher):
    frames = _kinded_frames(30)
    out = label(frames, teacher=emt_teacher, out=tmp_path / "d.extxyz", chunk_size=8, progress=False,
                test_frames=9, keep_parts=True)
    table = kind_table(out)
    assert set(table) == {"rattle sigma=0.02", "rattle sigma=0.1"}
    assert sum(t["test"] for t in table.values()) == 9 and all(t["test"] >= 1 and t["val"] >= 1 for t in table.values())
    manifest = json.loads((tmp_path / "d.extxyz.parts" / "manifest.json").read_text())
    assert manifest["split_rule"] == "stratified" and manifest["test_frames"] == 9
    assert set(shortest_distances(ase.io.read(out, ":"))) == {"Cu-Cu"}


def test_an_unfinished_job_of_the_old_rule_resumes_with_its_splits(tmp_path, emt_teacher, failing_teacher):
    frames = _kinded_frames(12)
    out = tmp_path / "old.extxyz"
    # the old rule's job: its manifest has no split_rule key, as manifests written before had none
    with pytest.raises(failing_teacher.Crash):
        label(frames, teacher=failing_teacher(5), out=out, chunk_size=3, progress=False, split_rule="hash")
    manifest = json.loads((tmp_path / "old.extxyz.parts" / "manifest.json").read_text())
    assert "split_rule" not in manifest and recorded_split_rule(out) == "hash"
    label(frames, teacher=emt_teacher, out=out, chunk_size=3, progress=False)  # no rule given: resumes
    assert [f.info["split"] for f in ase.io.read(out, ":")] == [split_of(i, seed=0) for i in range(12)]
    # asking for the new rule on an old job is refused, not silently mixed
    with pytest.raises(failing_teacher.Crash):
        label(frames, teacher=failing_teacher(2), out=tmp_path / "o2.extxyz", chunk_size=3, progress=False,
              split_rule="hash")
    with pytest.raises(RuntimeError, match="differs in: split_rule, test_frames"):
        label(frames, teacher=emt_teacher, out=tmp_path / "o2.extxyz", chunk_size=3, progress=False,
              split_rule="stratified")


@pytest.mark.parametrize("argv,message", [
    (["sample", "si", "--driver", "lj", "--out", "x.extxyz"], "unknown MD driver 'lj'; use one of: teacher, sw-si"),
    (["sample", "gan", "--driver", "sw-si", "--out", "x.extxyz"], "MD driver sw-si has no parameters for Ga, N"),
    (["sample", "si", "--methods", "md,qmmm", "--out", "x.extxyz"], "--methods: unknown method(s) qmmm; choose from md"),
    (["sample", "si", "--temperatures", "300,hot", "--out", "x.extxyz"], "--temperatures: 'hot' is not a number"),
    (["sample", "si", "--contact-range", "0.9,1.2", "--out", "x.extxyz"], "--contact-range must be two ratios"),
    (["sample", "si", "--driver", "student:none.pt", "--out", "x.extxyz"], "student driver file 'none.pt' does not exist"),
    (["label", "nothing.extxyz", "--out", "o.extxyz"], "frames file 'nothing.extxyz' does not exist"),
    (["label", "si", "--test-frames", "-3", "--out", "o.extxyz"], "--test-frames must be >= 0"),
    (["label", "si", "--test-frames", "5", "--split-rule", "hash", "--out", "o.extxyz"],
     "--test-frames needs the stratified split"),
    (["label", "si", "--split", "0.8,0.2", "--out", "o.extxyz"], "--split must be three non-negative fractions"),
    (["label", "si", "--teacher", "sw-si", "--test-frames", "5", "--out", "o.extxyz"],
     "5 test frames asked for, but there are only 1 frames"),
])
def test_bad_input_is_one_line_before_any_work(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"pair-student {argv[0]}: error: {message}"), err
    assert "\n" not in err
    assert not (tmp_path / "x.extxyz").exists() and not (tmp_path / "o.extxyz").exists()
