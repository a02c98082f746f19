"""Frame-level bootstrap intervals and the paired comparison (issue 22), on synthetic errors:
no student, no teacher, a few milliseconds each."""

import time

import numpy as np
import pytest
from scipy.stats import spearmanr

from pair_student.analysis import ErrorStats, validate
from pair_student.analysis.bootstrap import (METRICS, FrameErrors, compare_rmse, spearman_interval,
                                             weight_blocks, weighted_spearman)
from pair_student.analysis.card import markdown


def frames_with_errors(n_frames, *, atoms=72, seed=0, frame_spread=1.0, noise=0.05):
    """(teacher, predicted) force pairs whose error scale differs from frame to frame
    (lognormal, ``frame_spread``): every atom of a frame errs alike, as in a rattled or hot frame."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_frames):
        t = rng.normal(size=(atoms, 3))
        scale = noise * np.exp(frame_spread * rng.normal())
        out.append((t, t + scale * rng.normal(size=(atoms, 3))))
    return out


def per_frame(pairs, energy_seed=1):
    rng = np.random.default_rng(energy_seed)
    errors = FrameErrors()
    for t, p in pairs:
        errors.add(t, p, angles=rng.uniform(0, 10, len(t)), energy_error=rng.normal(scale=1e-3))
    return errors


def width(ci):
    return ci[1] - ci[0]


def test_every_interval_contains_its_point_estimate():
    errors = per_frame(frames_with_errors(60))
    point, ci = errors.point(), errors.intervals()
    assert set(ci) == {m + "_ci95" for m in METRICS}
    for metric in METRICS:
        lo, hi = ci[metric + "_ci95"]
        assert lo < point[metric] < hi, metric


def test_the_interval_narrows_as_one_over_the_square_root_of_the_frames():
    sizes = [50, 200, 800]
    widths = [np.mean([width(per_frame(frames_with_errors(n, atoms=8, seed=s, frame_spread=0.3)).intervals()
                             ["force_rmse_ci95"]) for s in range(4)]) for n in sizes]
    slope = np.polyfit(np.log(sizes), np.log(widths), 1)[0]
    assert slope == pytest.approx(-0.5, abs=0.1)


def test_resampling_frames_is_wider_than_resampling_atoms_when_a_frames_atoms_err_together():
    pairs = frames_with_errors(40, seed=5, frame_spread=1.0)
    by_frame = per_frame(pairs)
    by_atom = FrameErrors()  # the same data with every atom its own unit: what a per-atom bootstrap does
    for t, p in pairs:
        for ta, pa in zip(t, p):
            by_atom.add(ta[None], pa[None])
    assert by_frame.point()["force_rmse"] == pytest.approx(by_atom.point()["force_rmse"])
    frame_ci, atom_ci = by_frame.intervals()["force_rmse_ci95"], by_atom.intervals()["force_rmse_ci95"]
    assert width(frame_ci) > 4 * width(atom_ci)


def test_frame_intervals_cover_the_true_rmse_where_atom_intervals_do_not():
    """Many test sets drawn from one population of frames: the frame interval holds the
    population RMSE about 95 % of the time, the atom interval far less often."""
    # the population RMSE of frames whose error scale is lognormal(0.5): E[scale²] = exp(2 * 0.5²)
    truth = 0.05 * np.exp(0.5**2)
    covered = {"frame": 0, "atom": 0}
    for trial in range(40):
        pairs = frames_with_errors(40, atoms=32, seed=1000 + trial, frame_spread=0.5)
        by_frame, by_atom = FrameErrors(), FrameErrors()
        for t, p in pairs:
            by_frame.add(t, p)
            for ta, pa in zip(t, p):
                by_atom.add(ta[None], pa[None])
        for name, errors in (("frame", by_frame), ("atom", by_atom)):
            lo, hi = errors.intervals(resamples=400, seed=trial)["force_rmse_ci95"]
            covered[name] += lo <= truth <= hi
    assert covered["frame"] >= 32 and covered["atom"] <= 24, covered  # seen: 37 and 17 of 40


def test_the_paired_comparison_calls_a_clear_win_and_a_tie():
    rng = np.random.default_rng(7)
    hard = np.exp(2.0 * rng.normal(size=150))  # frames of very different difficulty, shared by both models
    components = np.full(150, 216)
    good = hard * rng.uniform(0.9, 1.1, 150)
    worse = 1.1 * hard * rng.uniform(0.9, 1.1, 150)  # 5 % higher RMSE
    win = compare_rmse(good, worse, components)
    assert win["verdict"] == "A better" and win["ratio_ci95"][1] < 1 and win["difference_ci95"][1] < 0
    assert compare_rmse(worse, good, components)["verdict"] == "B better"
    # unpaired, the two intervals overlap: only pairing the frames separates the models
    single = [compare_rmse(x, np.ones(150), components)["difference_ci95"] for x in (good, worse)]
    assert single[0][1] > single[1][0]
    twin = hard * rng.uniform(0.9, 1.1, 150)  # the same model, other noise: no real difference
    tie = compare_rmse(good, twin, components)
    assert tie["verdict"] == "tie" and tie["ratio_ci95"][0] < 1 < tie["ratio_ci95"][1]
    assert compare_rmse(good, good, components)["verdict"] == "tie"


def test_the_same_seed_gives_the_same_intervals():
    errors = per_frame(frames_with_errors(30, seed=11))
    assert errors.intervals(seed=4) == errors.intervals(seed=4)
    assert errors.intervals(seed=4) != errors.intervals(seed=5)
    blocks = list(weight_blocks(30, resamples=50, seed=2))
    assert all(np.all(b.sum(1) == 30) for b in blocks)  # each resample draws as many frames as there are
    a, b = per_frame(frames_with_errors(30, seed=1)).squared_errors(), per_frame(frames_with_errors(30)).squared_errors()
    assert compare_rmse(a, b, np.ones(30), seed=3) == compare_rmse(a, b, np.ones(30), seed=3)


def test_two_hundred_frames_cost_milliseconds():
    errors = per_frame(frames_with_errors(200))
    start = time.perf_counter()
    errors.intervals()
    compare_rmse(errors.squared_errors(), 1.1 * errors.squared_errors(), errors.components())
    assert time.perf_counter() - start < 0.5  # ~30 ms on a loaded 2-core machine


def stats_of(pairs):
    stats = ErrorStats(["Si"], reservoir=10)
    for k, (t, p) in enumerate(pairs):
        stats.add_frame(["Si"] * len(t), {"energy": -4.0 * len(t), "forces": t, "stress": None},
                        {"energy": -4.0 * len(t) + 0.01 * (k % 3), "forces": p, "stress": None})
    return stats


def report_of(entries):
    def student(name, summary):
        return {"name": name, "path": f"{name}.pt", "parameters": 10, "file_size_bytes": 2048, "elements": ["Si"],
                **summary, "speed": {"us_per_atom": 1.0, "device": "cpu", "threads": 1},
                "target": {"size": None, "status": "report only", "target": None}}

    return {"schema_version": 1, "teacher": "t", "labels": "dataset", "frames_file": None,
            "frames": entries[0][1]["frames"], "students": [student(n, s) for n, s in entries]}


def test_error_stats_report_intervals_in_the_json_and_the_card():
    stats = stats_of(frames_with_errors(30, atoms=8))
    summary = stats.summary()
    force = summary["force"]
    assert force["rmse_ci95"][0] < force["rmse"] < force["rmse_ci95"][1]
    assert force["mae_ci95"][0] < force["mae"] < force["mae_ci95"][1]
    assert force["r2_ci95"][0] < force["r2"] < force["r2_ci95"][1]
    assert summary["angular_error_deg"]["mean_ci95"][0] < summary["angular_error_deg"]["mean"]
    energy = summary["energy_per_atom"]
    assert energy["mae_ci95"][0] <= energy["mae"] <= energy["mae_ci95"][1] and energy["rmse_ci95"][1] > 0
    assert summary["bootstrap"] == {"unit": "frame", "resamples": 2000, "seed": 0, "level": 0.95}
    report = report_of([("s", summary)])
    validate(report)
    lo, hi = (1e3 * v for v in force["rmse_ci95"])
    assert f"| {1e3 * force['rmse']:.1f} [{lo:.1f}, {hi:.1f}] |" in markdown(report)
    assert "95 % bootstrap interval over the 30 test frames" in markdown(report)


def test_one_frame_has_no_interval_and_still_validates():
    summary = stats_of(frames_with_errors(1, atoms=8)).summary()
    assert summary["force"]["rmse_ci95"] is None and summary["energy_per_atom"]["mae_ci95"] is None
    report = report_of([("s", summary)])
    validate(report)
    assert f"| {1e3 * summary['force']['rmse']:.1f} |" in markdown(report)  # the bare value, no brackets
    report["students"][0]["force"]["rmse_ci95"] = "wide"
    with pytest.raises(ValueError, match="rmse_ci95"):
        validate(report)


def test_weighted_spearman_is_scipys_on_the_repeated_frames():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=15), rng.normal(size=15)
    x[4], y[[2, 7, 9]] = x[1], y[0]  # ties take mid-ranks, as scipy's do
    weights = next(weight_blocks(15, resamples=20, seed=1))
    for w, rho in zip(weights, weighted_spearman(weights, x, y)):
        repeated = np.repeat(np.arange(15), w.astype(int))
        assert rho == pytest.approx(spearmanr(x[repeated], y[repeated])[0], abs=1e-12)
    point, (lo, hi) = spearman_interval(x, 2 * x + 0.1 * y)
    assert lo <= point <= hi <= 1
    assert spearman_interval(x[:1], y[:1]) == (None, None)
    assert np.isnan(weighted_spearman(np.ones((1, 3)), [1.0, 1.0, 1.0], [1.0, 2.0, 3.0])[0])
