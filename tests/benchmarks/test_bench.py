"""The benchmark harness (``python -m benchmarks``): the quick mode runs and writes valid JSON; frame rotation, SNAP fit and
Pareto logic are right. Nothing here is timed or asserts a speed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

from pair_student.runtime.plugin import PLUGIN_NAME, plugin_dir

if not (Path(plugin_dir()) / PLUGIN_NAME).is_file():
    pytest.skip("pair_style student plugin is not built; run install.sh", allow_module_level=True)


def test_quick_writes_valid_json(tmp_path, monkeypatch):
    from benchmarks.run import main

    monkeypatch.chdir(tmp_path)  # a relative --out, as users type it
    assert main(["--quick", "--out", "results"]) == 0
    tmp_path = tmp_path / "results"
    results = json.loads((tmp_path / "bench.json").read_text())
    si = results["systems"]["si"]
    names = [p["name"] for p in si["potentials"]]
    assert "SW" in names and any(n.startswith("student") for n in names)
    for entry in si["potentials"]:
        assert entry["speed"], entry["name"]
        for row in entry["speed"]:
            assert row["us_per_atom_step"] > 0 and row["natoms"] > 0 and row["max_rss_mb"] > 0
    from benchmarks.common import cpu_name

    assert si["cpu"] == cpu_name() and si["cpu"]  # timings mean little without the CPU they ran on
    assert (tmp_path / "bench.md").read_text().startswith("# pair_student benchmark")
    assert f"CPU: {si['cpu']}." in (tmp_path / "bench.md").read_text()
    has_accuracy = any(e.get("accuracy") for e in si["potentials"])
    # the RMSE axis needs a test split: without a dataset (a fresh clone) no plot is drawn
    assert (tmp_path / "bench.png").exists() == has_accuracy
    if has_accuracy:
        assert (tmp_path / "bench.png").stat().st_size > 0
    # the report can be rebuilt from the JSON alone
    assert main(["--report-only", str(tmp_path / "bench.json")]) == 0


def test_triclinic_frame_forces_come_back_in_frame_axes():
    """A strained, rattled wurtzite cell (not LAMMPS-aligned): the benchmark's data file +
    back-rotation gives the same forces as the SW GaN teacher (ASE LAMMPSlib)."""
    from benchmarks.common import Potential
    from benchmarks.evaluate import lammps_forces
    from pair_student.teachers import get_teacher
    from pair_student.teachers.lammps import potentials_dir

    atoms = bulk("GaN", "wurtzite", a=3.19, c=5.19) * (3, 3, 2)
    atoms.set_cell(atoms.cell.array @ np.array([[1.0, 0.03, 0.02], [0.01, 0.98, 0.04], [0.05, 0.0, 1.02]]),
                   scale_atoms=True)
    atoms.rattle(0.05, seed=1)
    reference = get_teacher("sw-gan").compute(atoms.copy())["forces"]
    sw = Potential("SW", "classical", "sw", [f"* * {potentials_dir() / 'GaN.sw'} Ga N"], ["Ga", "N"])
    forces = lammps_forces(sw, [atoms])[0]["forces"]
    np.testing.assert_allclose(forces, reference, atol=1e-8)


def test_snap_fit_reproduces_its_own_design_matrix(tmp_path, si_frames):
    """SNAP fitted to SW-labelled Si frames: the force RMSE on the validation frames from the
    design matrix equals the one LAMMPS' pair_style snap gives (signs, ordering, units)."""
    from benchmarks.evaluate import force_errors
    from benchmarks.peers import snap

    frames = si_frames(5)
    pot = snap.fit(frames[:4], frames[4:], ["Si"], tmp_path, cutoffs=(4.0,), twojmaxes=(4,), ridges=(1e-6,))
    errors = force_errors(pot, frames[4:])
    assert errors["force_rmse"] == pytest.approx(pot.info["val_force_rmse"], rel=1e-4)
    assert errors["force_rmse"] < 0.5


def test_pareto_analysis():
    from benchmarks.report import analyse

    def entry(name, kind, rmse, cost, size=None):
        return {"name": name, "kind": kind, "size": size, "accuracy": {"force_rmse": rmse},
                "speed": [{"natoms": 1000, "nprocs": 1, "us_per_atom_step": cost}]}

    system = {"potentials": [entry("student tiny float32", "student", 0.05, 10.0, "tiny"),
                             entry("student ultra-tiny float32", "student", 0.2, 8.0, "ultra-tiny"),
                             entry("SNAP", "peer", 0.1, 5.0), entry("SW", "classical", 0.3, 1.0)],
              "teacher": {"us_per_atom_step": 10000.0}}
    result = analyse(system, 1000)
    assert set(result["front"]) == {"student tiny float32", "SNAP", "SW"}
    targets = {t["name"]: t for t in result["targets"]}
    assert targets["student tiny float32"]["on_front_vs_peers"]
    assert targets["student ultra-tiny float32"]["dominated_by"] == ["SNAP"]
    assert targets["student ultra-tiny float32"]["cost_vs_sw"] == pytest.approx(8.0)
    assert targets["student tiny float32"]["speedup_vs_teacher"] == pytest.approx(1000.0)


def test_locality_counts_a_deeper_ghost_shell_for_two_layers(tmp_path, capsys):
    from benchmarks.locality import main

    assert main(["--natoms", "216", "--ranks", "1", "--steps", "2", "--out", str(tmp_path)]) == 0
    rows = {r["layers"]: r for r in json.loads((tmp_path / "locality.json").read_text())["rows"]}
    # shells of 7 A and 12 A around a 16.3 A cube: the ghost count grows with the shell volume
    assert rows[2]["ghosts_per_rank"] > 1.8 * rows[1]["ghosts_per_rank"] > 0
    assert "| 2 | 1 |" in capsys.readouterr().out


def test_memory_prediction_extrapolates_the_last_two_runs():
    from benchmarks.speed import predicted_rss_mb

    rows = [{"natoms": 1000, "max_rss_mb": 600.0}, {"natoms": 10000, "max_rss_mb": 1500.0}]
    assert predicted_rss_mb(rows, 100000) == pytest.approx(10500.0)
    assert predicted_rss_mb(rows[:1], 100000) is None


def test_a_peer_fit_is_reused_only_for_the_same_data_settings_and_files(tmp_path):
    from benchmarks.common import Potential, fit_once, frames_digest

    atoms = bulk("Si", "diamond", a=5.43)
    atoms.calc = SinglePointCalculator(atoms, energy=-10.0, forces=np.zeros((2, 3)))
    moved = atoms.copy()
    moved.positions[0, 0] += 0.01
    moved.calc = SinglePointCalculator(moved, energy=-10.0, forces=np.zeros((2, 3)))
    assert frames_digest([atoms]) != frames_digest([moved])

    calls = []

    def fit():
        calls.append(1)
        coeff = tmp_path / "peer" / "coeff.txt"
        coeff.parent.mkdir(exist_ok=True)
        coeff.write_text("x")
        return Potential(name="P", kind="peer", pair_style="p", pair_coeff=[f"* * {coeff} Si"],
                         elements=["Si"], info={"val_force_rmse": 0.1})

    key = {"frames": frames_digest([atoms]), "settings": {"a": 1}}
    first = fit_once(tmp_path / "peer", key, fit)
    again = fit_once(tmp_path / "peer", key, fit)
    assert len(calls) == 1 and again.pair_coeff == first.pair_coeff and "reused_fit" in again.info
    fit_once(tmp_path / "peer", {**key, "frames": frames_digest([moved])}, fit)  # other data: refit
    fit_once(tmp_path / "peer", {**key, "settings": {"a": 2}}, fit)  # other settings: refit
    assert len(calls) == 3
    (tmp_path / "peer" / "coeff.txt").unlink()  # the fitted file is gone: refit
    fit_once(tmp_path / "peer", {**key, "settings": {"a": 2}}, fit)
    assert len(calls) == 4


def test_a_reused_fit_keeps_its_plugin_and_needs_its_model_and_plugin_files(tmp_path):
    """A peer whose pair style needs a plugin (DeePMD): the reloaded potential still loads it
    first, and a missing model file (in pair_style) or plugin file means a refit."""
    from benchmarks.common import Potential, fit_once

    model, plugin = tmp_path / "graph.pb", tmp_path / "libpeer.so"
    calls = []

    def fit():
        calls.append(1)
        model.write_text("m")
        plugin.write_text("p")
        return Potential(name="D", kind="peer", pair_style=f"deepmd {model}", pair_coeff=["* * Si"],
                         elements=["Si"], plugin=str(plugin))

    key = {"frames": "f", "settings": {}}
    first = fit_once(tmp_path / "d", key, fit)
    again = fit_once(tmp_path / "d", key, fit)
    assert len(calls) == 1 and again.commands() == first.commands()
    assert again.commands()[:2] == [f"plugin load {plugin}", f"pair_style deepmd {model}"]
    for gone in (model, plugin):
        gone.unlink()
        fit_once(tmp_path / "d", key, fit)
    assert len(calls) == 3


def test_rmse_by_kind_splits_the_error_by_how_frames_were_sampled():
    """Two MD frames with 0.1 eV/Å errors and one rattled frame with 1 eV/Å: the kinds get their
    own RMSE, their shares of the squared error add to one, and the total agrees with them."""
    from benchmarks.evaluate import frame_kind, rmse_by_kind

    frames, predicted = [], []
    for k, (prov, err) in enumerate([("md nvt T=300K", 0.1), ("md nvt T=600K", 0.1), ("rattle sigma=0.1", 1.0)]):
        atoms = bulk("Si", "diamond", a=5.431)
        atoms.info["provenance"] = prov
        forces = np.full((len(atoms), 3), float(k))
        atoms.calc = SinglePointCalculator(atoms, forces=forces)
        frames.append(atoms)
        predicted.append(forces + err)
    by_kind = rmse_by_kind(frames, predicted)
    assert [frame_kind(a) for a in frames] == ["md", "md", "rattle"]
    assert by_kind["md"]["frames"] == 2 and by_kind["md"]["force_rmse"] == pytest.approx(0.1)
    assert by_kind["rattle"]["force_rmse"] == pytest.approx(1.0)
    assert by_kind["rattle"]["share_of_squared_error"] == pytest.approx(1.0 / 1.02)
    assert sum(v["share_of_squared_error"] for v in by_kind.values()) == pytest.approx(1.0)


def test_rescore_adds_the_per_kind_breakdown_to_an_existing_result(tmp_path, labelled):
    """A bench.json with an SW row and a row whose model file is gone, on SW-labelled test
    frames: the SW row is scored again (zero error against its own labels, per kind too), the
    other keeps its old scores with a note, and the report gains the per-kind table."""
    import ase.io

    from benchmarks.potentials import classical_potentials
    from benchmarks.run import main

    frames = []
    for seed, prov in enumerate(["md nvt T=300K step=1", "rattle sigma=0.1"]):
        atoms = bulk("Si", "diamond", a=5.431, cubic=True)
        atoms.rattle(0.05, seed=seed)
        atoms = labelled(atoms)
        atoms.info.update(provenance=prov, split="test")
        frames.append(atoms)
    dataset = tmp_path / "si.extxyz"
    ase.io.write(dataset, frames, format="extxyz")
    sw = {**classical_potentials("si")[0].to_json(), "size": None, "speed": []}
    gone = {**sw, "name": "student gone", "kind": "student", "pair_style": f"student {tmp_path / 'gone.pt'}",
            "accuracy": {"force_rmse": 0.5}}
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"mode": "full", "machine": "test", "lammps": "-", "torch": "-", "settings": {},
                                 "notes": [], "systems": {"si": {"elements": ["Si"], "dataset": str(dataset),
                                                                 "test_frames": 2, "potentials": [sw, gone]}}}))
    assert main(["--rescore", str(bench)]) == 0
    results = json.loads(bench.read_text())
    rows = results["systems"]["si"]["potentials"]
    assert rows[0]["accuracy"]["force_rmse"] < 1e-6 and rows[0]["accuracy"]["frames"] == 2
    assert sorted(rows[0]["accuracy"]["by_kind"]) == ["md", "rattle"]
    assert rows[1]["accuracy"] == {"force_rmse": 0.5}
    assert any("student gone not rescored" in n for n in results["notes"])
    assert "by kind of test frame" in (tmp_path / "bench.md").read_text()


def test_rescore_refuses_a_file_that_is_not_a_benchmark_result(tmp_path, capsys):
    from benchmarks.run import main

    bad = tmp_path / "fit.json"
    bad.write_text('{"potential": {}}')
    with pytest.raises(SystemExit):
        main(["--rescore", str(bad)])
    assert f"{bad} is not a benchmark result" in capsys.readouterr().err


def test_rmse_axis_ends_before_a_far_outlier():
    from benchmarks.report import rmse_axis_end

    ethanol = [0.184, 0.197, 0.457, 0.317, 1.04, 76.8]
    assert 1.04 < rmse_axis_end(ethanol) < 76.8  # POD at the edge, SNAP still inside
    assert rmse_axis_end([0.05, 0.06, 0.49]) == pytest.approx(1.15 * 0.49)  # no outlier: all inside


def test_the_teacher_is_timed_on_at_least_the_minimum_atoms(monkeypatch):
    """A 9-atom molecule would time mostly the teacher's fixed cost per call; the 64-atom Si
    cell is timed as it is."""
    import pair_student.teachers as teachers
    from benchmarks.speed import TEACHER_MIN_ATOMS, teacher_cost

    sizes = []

    class Counting:
        def compute(self, atoms):
            sizes.append(len(atoms))
            return {"energy": 0.0, "forces": np.zeros((len(atoms), 3))}

    monkeypatch.setattr(teachers, "get_teacher", lambda name: Counting())
    ethanol = teacher_cost("ethanol", "counting")
    assert ethanol["natoms"] >= TEACHER_MIN_ATOMS and ethanol["natoms"] % 9 == 0
    assert set(sizes) == {ethanol["natoms"]}
    assert teacher_cost("si", "counting")["natoms"] == 64
    assert teacher_cost("si", "counting", natoms=200)["natoms"] == 216


def test_blas_products_count_the_native_kernels_matrix_products(tmp_path):
    """Channels 5 are padded to 8 as in the kernel; every product appears forward and transposed."""
    import torch

    from benchmarks.profile import blas_products_us, gemm_shapes
    from pair_student.contract import save_student
    from pair_student.export import quantize_model
    from pair_student.models import LocalStudent, ReferenceStudent
    from pair_student.models.tabulated import tabulate

    model = LocalStudent(["Ga", "N"], 4.5, channels=5, radial_hidden=8, hidden=12, lmax=2, readout_layers=2)
    path = save_student(tabulate(model, 16), tmp_path / "model.pt", {"elements": ["Ga", "N"], "cutoff": 4.5})
    shapes = gemm_shapes(torch.jit.load(str(path)), block=4)
    forward = [(12, 8, 8), (20, 8, 24), (4, 40, 12), (4, 12, 12)]
    assert shapes == forward + [(r, c, i) for r, i, c in forward]
    assert blas_products_us(path, "float64", min_s=0.01) > 0
    plain = save_student(ReferenceStudent(["Si"], cutoff=4.5), tmp_path / "plain.pt", {"elements": ["Si"], "cutoff": 4.5})
    assert blas_products_us(plain, "float32") is None
    int8 = save_student(quantize_model(tabulate(model, 16), "int8"), tmp_path / "int8.pt",
                        {"elements": ["Ga", "N"], "cutoff": 4.5})
    assert blas_products_us(int8, "float32") is None  # the native kernel runs no quantized readout


def test_the_harness_runs_from_the_checkout_and_writes_into_its_out():
    """``python -m benchmarks`` from the repository root, its tools through the same entry, and
    every default output under the checkout's out/."""
    import subprocess
    import sys

    from benchmarks.common import OUT, ROOT
    from benchmarks.run import build_parser

    assert OUT == ROOT / "out" and (ROOT / "benchmarks" / "__main__.py").is_file()
    defaults = build_parser("bench").parse_args([])
    assert defaults.out == OUT / "bench"
    assert defaults.datasets == ROOT / "benchmarks" / "datasets" / "large"
    assert defaults.added == ROOT / "benchmarks" / "datasets" / "active"
    run = subprocess.run([sys.executable, "-m", "benchmarks", "floor", "--help"], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert run.stdout.startswith("usage: python -m benchmarks floor")


def test_accuracy_carries_frame_intervals_and_per_frame_errors():
    """Synthetic frames whose error scale differs frame to frame: the accuracy keys hold 95 %
    intervals around the point values, each frame's squared error for paired comparisons, and an
    energy interval that a constant energy offset (another reference energy) does not move."""
    from benchmarks.evaluate import accuracy_intervals, energy_mae_interval
    from pair_student.analysis.metrics import Moments

    rng = np.random.default_rng(0)
    frames, predicted, forces = [], [], Moments()
    for k in range(30):
        atoms = bulk("Si", "diamond", a=5.431)
        target = rng.normal(size=(len(atoms), 3))
        atoms.calc = SinglePointCalculator(atoms, forces=target)
        frames.append(atoms)
        predicted.append(target + 0.05 * np.exp(rng.normal()) * rng.normal(size=target.shape))
        forces.add(target, predicted[-1])
    energy = rng.normal(scale=1e-3, size=30)
    acc = accuracy_intervals(frames, predicted, energy)
    point = forces.summary()
    for key in ("rmse", "mae", "r2"):
        lo, hi = acc[f"force_{key}_ci95"]
        assert lo < point[key] < hi, key
    assert len(acc["frame_force_sse"]) == 30 and acc["frame_force_components"] == [6] * 30
    assert np.sqrt(sum(acc["frame_force_sse"]) / 180) == pytest.approx(point["rmse"])
    lo, hi = acc["energy_mae_per_atom_ci95"]
    assert lo < np.abs(energy - energy.mean()).mean() < hi
    assert energy_mae_interval(energy + 5.0) == pytest.approx(acc["energy_mae_per_atom_ci95"])
    assert acc["bootstrap"] == {"unit": "frame", "resamples": 2000, "seed": 0, "level": 0.95}
    assert json.loads(json.dumps(acc)) == acc  # plain JSON, as bench.json needs


def synthetic_system():
    """Four rows on 150 shared test frames of very different difficulty: a student clearly better
    than the best peer (UF3), one as good as UF3 but slower, UF3, and a faster, worse SNAP."""
    rng = np.random.default_rng(1)
    hard = np.exp(1.5 * rng.normal(size=150))

    def row(name, kind, scale, cost, seed):
        sse = scale * hard * np.random.default_rng(seed).uniform(0.8, 1.2, 150)
        rmse = float(np.sqrt(sse.sum() / (150 * 96)))
        speed = [{"natoms": 1000, "nprocs": 1, "us_per_atom_step": cost, "max_rss_mb": 100.0}]
        return {"name": name, "kind": kind, "size": None, "speed": speed, "info": {},
                "accuracy": {"force_rmse": rmse, "force_rmse_ci95": [0.9 * rmse, 1.1 * rmse], "force_mae": 0.5 * rmse,
                             "frame_force_sse": sse.tolist(), "frame_force_components": [96] * 150,
                             "bootstrap": {"unit": "frame", "resamples": 2000, "seed": 0, "level": 0.95}}}

    return {"potentials": [row("student good", "student", 0.8, 20.0, 2), row("student same", "student", 1.0, 30.0, 3),
                           row("UF3", "peer", 1.0, 25.0, 4), row("SNAP", "peer", 1.5, 10.0, 5)]}


def test_students_are_ranked_against_the_best_peer_by_the_paired_ratio(tmp_path, monkeypatch):
    from benchmarks.report import analyse, markdown, plot

    system = synthetic_system()
    system["analysis"] = analyse(system, 1000)
    targets = {t["name"]: t for t in system["analysis"]["targets"]}
    good, same = targets["student good"], targets["student same"]
    assert good["vs_best_peer"]["peer"] == "UF3" and good["vs_best_peer"]["verdict"] == "A better"
    assert good["vs_best_peer"]["ratio_ci95"][1] < 1
    assert same["vs_best_peer"]["verdict"] == "tie"
    # UF3 is faster than "student same" but not more accurate at 95 %: a tie, not a domination
    assert same["on_front_vs_peers"] and same["faster_tied"] == ["UF3"] and same["dominated_by"] == []
    results = {"machine": "test", "mode": "full", "lammps": "-", "torch": "-", "systems": {"si": system}}
    text = markdown(results)
    rmse = system["potentials"][0]["accuracy"]["force_rmse"]
    assert f"| {rmse:.3g} [{0.9 * rmse:.3g}, {1.1 * rmse:.3g}] |" in text
    assert "better than UF3" in text and "tie with UF3" in text and "tie in accuracy with faster UF3" in text
    assert "2,000 resamples" in text and "paired bootstrap over the same test frames" in text
    import matplotlib.axes

    bars = []
    original = matplotlib.axes.Axes.errorbar
    monkeypatch.setattr(matplotlib.axes.Axes, "errorbar", lambda ax, *a, **k: bars.append(k["xerr"]) or original(ax, *a, **k))
    assert plot(results, tmp_path / "bench.png").stat().st_size > 0
    assert len(bars) == 4 and bars[0][0][0] == pytest.approx(0.1 * rmse)  # one 95 % bar per row, to its low end


def test_peers_fit_on_the_frames_the_loop_added_and_score_on_the_test_split_alone(tmp_path):
    """The benchmark's dataset (plain extxyz) plus the loop's added frames (gzipped): peers get
    both train and both val parts, the test frames come from the dataset alone, and without
    peers nothing but the test split is read."""
    import argparse
    import gzip

    import ase.io
    from benchmarks.run import SystemBench

    def frames(splits, shift):
        out = []
        for k, split in enumerate(splits):
            atoms = bulk("Si", "diamond", a=5.43 + 0.01 * (k + shift))
            atoms.info["split"] = split
            atoms.calc = SinglePointCalculator(atoms, energy=-5.0 * len(atoms), forces=np.zeros((len(atoms), 3)))
            out.append(atoms)
        return out

    (tmp_path / "data").mkdir()
    (tmp_path / "added").mkdir()
    ase.io.write(tmp_path / "data" / "si.extxyz", frames(["train", "train", "val", "test", "test"], 0), format="extxyz")
    ase.io.write(tmp_path / "added.extxyz", frames(["train", "val", "train"], 10), format="extxyz")
    (tmp_path / "added" / "si.extxyz.gz").write_bytes(gzip.compress((tmp_path / "added.extxyz").read_bytes()))
    args = argparse.Namespace(datasets=tmp_path / "data", added=tmp_path / "added", peers=["snap"], test_frames=10**9)
    result = {}
    test, train, val = SystemBench("si", args, tmp_path, print).read_splits(result)
    assert (len(test), len(train), len(val)) == (2, 4, 2)
    assert result["added"].endswith("si.extxyz.gz") and result["test_frames"] == 2
    args.peers = []
    test, train, val = SystemBench("si", args, tmp_path, print).read_splits({})
    assert (len(test), len(train), len(val)) == (2, 0, 0)


def test_peer_ratio_target_is_met_only_when_the_whole_interval_is_under_it():
    from benchmarks.report import peer_target_cell

    assert peer_target_cell({"ratio": 1.1, "ratio_ci95": [1.0, 1.25]}, 1.3) == "≤ 1.3x: met"
    assert peer_target_cell({"ratio": 1.2, "ratio_ci95": [1.1, 1.4]}, 1.3) == "≤ 1.3x: open"
    assert peer_target_cell({"ratio": 0.9, "ratio_ci95": [0.85, 0.95]}, 0.8) == "≤ 0.8x: missed"
    assert peer_target_cell(None, 1.0) == "–" and peer_target_cell({"ratio": 0.5}, None) == "–"
