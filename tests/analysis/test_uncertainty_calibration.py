"""analyze of a student that carries a per-atom uncertainty: the calibration block of its JSON
entry is what its atom_uncertainty and its actual errors give, and its figure has the
calibration row; a student without an uncertainty has no block (its figure keeps the 3 x 4
grid: test_analysis)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import imread
from scipy.stats import spearmanr

from pair_student.analysis import analyze_students, validate
from pair_student.analysis.calibration import U_BINS, UncertaintyStats
from pair_student.calculator import StudentCalculator
from pair_student.contract import save_student
from pair_student.data.dataset import frame_labels
from pair_student.models.tabulated import tabulate
from pair_student.models.uncertainty import fit_uncertainty

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from model_harness import CUTOFF, ELEMENTS, distorted_cell, local_model  # noqa: E402

META = {"elements": ELEMENTS, "cutoff": CUTOFF, "num_layers": 1, "dtype": "float64"}


def labelled(model, atoms, noise, seed):
    """``atoms`` labelled by ``model`` plus noise: a teacher the student misses by about ``noise``."""
    atoms = atoms.copy()
    atoms.calc = StudentCalculator(model)
    forces = atoms.get_forces()
    atoms.calc = None
    atoms.info["energy"] = 0.0
    atoms.arrays["forces"] = forces + noise * np.random.default_rng(seed).standard_normal(forces.shape)
    return atoms


@pytest.fixture(scope="module")
def students(tmp_path_factory):
    d = tmp_path_factory.mktemp("uncertain")
    m = local_model()
    t = tabulate(m, points=64)
    plain = save_student(torch.jit.script(t), d / "plain_traced.pt", META)
    train = [distorted_cell(seed) for seed in range(6)]
    validation = [labelled(plain, distorted_cell(100 + s), 0.05, s) for s in range(6)]
    fit_uncertainty(m, train, validation)
    t.set_uncertainty(m.uncertainty_mean, m.uncertainty_whiten, m.uncertainty_calibration)
    uncertain = save_student(torch.jit.script(t), d / "uncertain_traced.pt", META)
    # squeezed frames leave the training features: the uncertainty spans more than one bin
    frames = []
    for k in range(5):
        atoms = distorted_cell(200 + k)
        atoms.set_cell(atoms.cell * (1 - 0.02 * k), scale_atoms=True)
        frames.append(labelled(plain, atoms, 0.02 * (1 + k), k))
    return uncertain, plain, frames


def test_calibration_block_is_the_modules_uncertainty_against_its_errors(tmp_path, students):
    uncertain, plain, frames = students
    report = analyze_students(students=[uncertain], frames=frames, out=tmp_path, html=False)
    doc = json.loads((tmp_path / "metrics.json").read_text())
    validate(doc)
    [entry] = doc["students"]
    block = entry["uncertainty"]
    assert block == report["students"][0]["uncertainty"]
    # what the module itself predicts, and the errors of its forces against the labels
    calc = StudentCalculator(uncertain, uncertainty=True)
    u, err = [], []
    for frame in frames:
        atoms = frame.copy()
        atoms.calc = calc
        forces = atoms.get_forces()
        u.append(calc.results["uncertainty"])
        err.append(np.linalg.norm(forces - frame_labels(frame)["forces"], axis=1))
    every_u, every_err = np.concatenate(u), np.concatenate(err)
    assert block["frames"] == len(frames) and block["atoms"] == entry["atoms"] == every_u.size
    assert sum(b["count"] for b in block["bins"]) == every_u.size
    assert len(block["bins"]) >= 2
    which = np.clip(np.searchsorted(U_BINS, every_u, side="right") - 1, 0, len(U_BINS) - 2)
    for b in block["bins"]:
        mine = which == int(np.searchsorted(U_BINS, b["lo"]))
        assert b["count"] == mine.sum() and b["lo"] <= b["mean_predicted"] < b["hi"]
        assert b["mean_predicted"] == pytest.approx(every_u[mine].mean(), rel=1e-12)
        assert b["rms_actual"] == pytest.approx(np.sqrt((every_err[mine] ** 2).mean()), rel=1e-9)
    assert block["mean_predicted"] == pytest.approx(every_u.mean(), rel=1e-12)
    assert block["ratio"] == pytest.approx(every_u.mean() / np.sqrt((every_err ** 2).mean()), rel=1e-9)
    rho = spearmanr([x.max() for x in u], [e.max() for e in err])[0]
    assert block["spearman_max_error"] == pytest.approx(rho)
    lo, hi = block["spearman_max_error_ci95"]
    assert -1 <= lo <= hi <= 1 and -1 <= block["spearman_frame_rmse"] <= 1
    height, width = imread(tmp_path / "uncertain.png").shape[:2]
    assert width == 1600 and height > 1160  # a fourth row below the 3 x 4 grid (1160 pixels at 80 dpi)
    assert "Per-atom uncertainty" in (tmp_path / "card.md").read_text()


def test_a_student_without_uncertainty_has_no_block(tmp_path, students):
    _, plain, frames = students
    report = analyze_students(students=[plain], frames=frames[:2], out=tmp_path, html=False, figures=False)
    assert "uncertainty" not in report["students"][0]
    assert "uncertainty" not in (tmp_path / "card.md").read_text()


def test_atoms_beyond_the_grid_land_in_its_end_bins():
    stats = UncertaintyStats()
    stats.add([1e-6, 0.5, 1e4], [0.1, 0.2, 0.3], frame_rmse=0.1)
    stats.add([0.5], [0.25], frame_rmse=0.2)
    s = stats.summary(resamples=50)
    assert [b["count"] for b in s["bins"]] == [1, 2, 1]
    assert s["bins"][0]["lo"] == U_BINS[0] and s["bins"][-1]["hi"] == U_BINS[-1]
    assert s["bins"][1]["rms_actual"] == pytest.approx(np.sqrt((0.2 ** 2 + 0.25 ** 2) / 2))
    # the first frame has both the larger max u and the larger max error
    assert s["spearman_max_error"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="2 uncertainties for 3 atoms"):
        stats.add([0.1, 0.2], [0.1, 0.2, 0.3], frame_rmse=0.1)
