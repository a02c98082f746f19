"""On-policy distillation (pair_student.active): where exploration starts, which frames are
selected, and the loop itself with EMT as the teacher: it labels only frames above the
threshold, never puts a new frame in the test split, writes its table and plot, and a round
killed while labelling resumes without exploring again."""

import json
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.calculators.emt import EMT
from ase.data import atomic_numbers, covalent_radii
from ase.calculators.singlepoint import SinglePointCalculator

import pair_student.active.loop as loop
from pair_student.active import ActiveConfig, run_active
from pair_student.active.select import select_frames
from pair_student.active.starts import STRETCHES, exploration_starts
from pair_student.teachers import ASETeacher


def test_crystal_and_molecule_starts():
    si = bulk("Si", "diamond", a=5.43, cubic=True)
    kinds = [s.kind for s in exploration_starts([si], (300, 900), (0,), seed=0)]
    assert kinds == ["bulk", "vacancy Si", "interstitial Si", "surface", "melt", "dumbbell Si-Si",
                     "dumbbell Si-Si x0.8", "dumbbell Si-Si x0.9"]
    starts = exploration_starts([si], (300, 900), (0,), seed=0)
    assert len(starts[0].atoms) >= 48 and len(starts[1].atoms) == len(starts[0].atoms) - 1
    assert starts[4].temperatures == (1800.0,)
    d = starts[2].atoms.get_all_distances(mic=True)[-1, :-1]
    assert d.min() > 1.5  # the interstitial sits in a void, not on an atom
    water = molecule("H2O")
    water.pbc = False
    gan = bulk("GaN", "wurtzite", a=3.19, c=5.19)
    bonded = {s.kind: s for s in exploration_starts([gan], (300,), (0,), seed=0) if s.kind.startswith("dumbbell")}
    assert sorted(bonded) == sorted(f"dumbbell {p}{x}" for p in ("Ga-Ga", "Ga-N", "N-N") for x in ("", " x0.8", " x0.9"))
    for kind, start in bonded.items():
        # the added atom is bonded to one atom of its partner element, at their covalent bond length
        # (MD from there) or 0.8 and 0.9 of it (a double or triple bond: scored as it is)
        atoms, factor = start.atoms, float(kind.split(" x")[1]) if " x" in kind else 1.0
        assert start.static == (factor != 1.0)
        added, partner = kind.split()[1].split("-")
        d = atoms.get_all_distances(mic=True)[-1, :-1]
        of_partner = d[np.array(atoms.get_chemical_symbols()[:-1]) == partner]
        bond = factor * (covalent_radii[atomic_numbers[added]] + covalent_radii[atomic_numbers[partner]])
        assert atoms[-1].symbol == added and np.isclose(of_partner, bond).sum() == 1
        own = covalent_radii[atomic_numbers[added]] + covalent_radii[atoms.numbers[:-1]]
        assert np.sort(d / own)[1] > 0.75  # and not pressed onto any other atom
    stretched = [s for s in exploration_starts([water], (300,), (0,), seed=0) if s.static]
    assert len(stretched) == 2 * len(STRETCHES)
    first = stretched[0].atoms  # the first bond (O-H, atoms 0 and 1) at the first stretch
    assert first.get_distance(0, 1) == pytest.approx(STRETCHES[0] * water.get_distance(0, 1))
    assert first.get_distance(0, 2) == pytest.approx(water.get_distance(0, 2))


def _frame(run, step, u):
    a = Atoms("Cu", positions=[[0, 0, 0]])
    a.info.update({"explore": run, "temperature": 300.0, "pressure": 0.0, "step": step, "uncertainty_max": u})
    return a


def test_selection_threshold_gap_and_round_robin():
    frames = [_frame("a", s, u) for s, u in [(10, 0.9), (20, 0.8), (30, 0.7), (80, 0.6), (90, 0.05)]]
    frames += [_frame("b", 10, 0.3)]
    chosen = select_frames(frames, threshold=0.1, cap=3, min_gap=40)
    # a's steps 10 and 80 (20 and 30 lie within 40 steps of 10), b's 10; 90 is under the threshold
    assert sorted((f.info["explore"], f.info["step"]) for f in chosen) == [("a", 10), ("a", 80), ("b", 10)]
    assert [f.info["step"] for f in select_frames(frames, threshold=0.1, cap=2, min_gap=40)] == [10, 10]
    assert select_frames(frames, threshold=1.0, cap=5, min_gap=1) == []


def _emt_dataset(path, n=10):
    rng = np.random.default_rng(0)
    frames = []
    for i in range(n):
        a = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 1, 1))
        a.rattle(0.05, seed=int(rng.integers(1 << 30)))
        a.calc = EMT()
        e, f, s = a.get_potential_energy(), a.get_forces(), a.get_stress()
        a.calc = SinglePointCalculator(a, energy=e, forces=f, stress=s)
        a.info["split"] = "test" if i >= n - 2 else ("val" if i >= n - 4 else "train")
        frames.append(a)
    ase.io.write(path, frames)
    return path


@pytest.fixture
def emt_teacher(monkeypatch):
    monkeypatch.setattr(loop, "get_teacher", lambda name, device="cpu": ASETeacher(EMT(), name="emt"))


def _config(tmp_path, **kw):
    ase.io.write(tmp_path / "cu.extxyz", bulk("Cu", "fcc", a=3.6, cubic=True))
    base = dict(dataset=str(_emt_dataset(tmp_path / "data.extxyz")), structures=str(tmp_path / "cu.extxyz"),
                out=str(tmp_path / "active"), size="ultra-tiny", temperatures=(300.0,), rounds=1, frames_per_round=3,
                budget=3, threshold=1e-6, steps=20, stride=10, epochs=1, progress=False)
    base.update(kw)
    return ActiveConfig(**base)


def test_loop_labels_uncertain_frames_and_resumes_a_killed_round(tmp_path, emt_teacher, monkeypatch):
    cfg = _config(tmp_path)
    real_label = loop.label

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "label", killed)
    with pytest.raises(KeyboardInterrupt):
        run_active(cfg)
    out = tmp_path / "active"
    explored = out / "round1" / "explore.extxyz"
    assert explored.is_file() and not (out / "round1" / "labelled.extxyz").exists()
    stamp = explored.stat().st_mtime_ns
    monkeypatch.setattr(loop, "label", real_label)
    result = run_active(cfg)
    assert explored.stat().st_mtime_ns == stamp  # the resumed round did not explore again
    rows = json.loads((out / "rounds.json").read_text())["rounds"]
    assert [r["round"] for r in rows] == [0, 1] and rows[1]["selected"] == 3 and rows[1]["stop"] == "budget"
    labelled = ase.io.read(out / "round1" / "labelled.extxyz", ":")
    assert len(labelled) == 3 and {a.info["split"] for a in labelled} <= {"train", "val"}
    merged = ase.io.read(out / "round1" / "dataset.extxyz", ":")
    assert sum(a.info["split"] == "test" for a in merged) == 2 and len(merged) == 13
    assert all(a.info["uncertainty_max"] > cfg.threshold for a in labelled)
    assert (out / "rounds.png").is_file() and "| 1 |" in (out / "rounds.md").read_text()
    assert result["model"].endswith("ultra-tiny_model_traced.pt")
    # the loop's student is the round with the lowest validation error on the last training set,
    # whose validation split holds the new validation frames too; test frames play no part
    record = json.loads((out / "rounds.json").read_text())
    scores = [r["validation"]["force_rmse"] for r in record["rounds"]]
    assert {r["validation"]["dataset"] for r in record["rounds"]} == {str(out / "round1" / "dataset.extxyz")}
    assert record["chosen_round"] == result["chosen_round"] == int(np.argmin(scores))
    chosen = Path(record["rounds"][record["chosen_round"]]["model"]).read_bytes()
    assert Path(result["model"]).read_bytes() == chosen
    assert f"round {record['chosen_round']}'s" in (out / "rounds.md").read_text()


def test_loop_stops_when_exploration_stays_under_the_threshold(tmp_path, emt_teacher):
    result = run_active(_config(tmp_path, threshold=1e6, rounds=3))
    assert [r["round"] for r in result["rounds"]] == [0, 1] and result["rounds"][1]["stop"] == "converged"
    assert result["rounds"][1]["labels_spent"] == 0 and result["rounds"][1]["explored"] > 0
