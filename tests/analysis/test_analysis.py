"""Analysis metrics against hand-computed values; figure, JSON (schema) and card are written."""

import json

import numpy as np
import pytest
from ase.calculators.lj import LennardJones
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from matplotlib.image import imread

from pair_student.analysis import SCHEMA, ErrorStats, validate
from pair_student.registry import QUALITY_TARGETS, SIZES, target_status
from pair_student.scores import angular_error_deg, r2_score
from pair_student.analysis.metrics import Histogram, Moments
from pair_student.analysis import analyze_students
from pair_student.analysis.cli import main
from pair_student.calculator import StudentCalculator
from pair_student.export import export, sample_frames
from pair_student.models import ReferenceStudent

ELEMENTS = ["Si", "C"]


def test_r2_and_moments_match_hand_values():
    t, p = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 5.0])
    # SSE = 1, SST = 5 -> R² = 0.8
    assert r2_score(t, p) == pytest.approx(0.8)
    m = Moments()
    m.add(t[:2], p[:2])
    m.add(t[2:], p[2:])  # streamed in two chunks
    s = m.summary()
    assert s["r2"] == pytest.approx(0.8) and s["rmse"] == pytest.approx(0.5) and s["mae"] == pytest.approx(0.25)
    assert s["count"] == 4 and s["pearson"] == pytest.approx(np.corrcoef(t, p)[0, 1])


def test_angular_error_of_known_vectors():
    t = np.array([[1.0, 0, 0], [1.0, 0, 0], [0, 2.0, 0], [1.0, 1.0, 0]])
    p = np.array([[0, 3.0, 0], [2.0, 0, 0], [0, -1.0, 0], [1.0, 0, 0]])
    assert angular_error_deg(t, p) == pytest.approx([90.0, 0.0, 180.0, 45.0], abs=1e-6)


def test_histogram_quantiles_and_per_element_split():
    h = Histogram(np.linspace(0, 10, 11))
    h.add(np.arange(10) + 0.5)
    assert h.quantile(0.5) == pytest.approx(5.0) and h.mean() == pytest.approx(5.0)
    stats = ErrorStats(ELEMENTS, reservoir=10)
    teacher = {"energy": -4.0, "forces": np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]), "stress": None}
    student = {"energy": -3.7, "forces": np.array([[1.0, 0, 0], [1.0, 0, 0], [0, 0, 2.0]]), "stress": None}
    stats.add_frame(["Si", "C", "Si"], teacher, student)
    s = stats.summary()
    assert s["per_element"]["C"]["count"] == 3 and s["per_element"]["Si"]["count"] == 6
    assert s["per_element"]["C"]["angular_mean_deg"] == pytest.approx(90.0)
    assert s["per_element"]["Si"]["angular_mean_deg"] == pytest.approx(0.0)
    assert s["per_element"]["Si"]["mae"] == pytest.approx(1.0 / 6)  # one component off by 1
    assert s["energy_per_atom"]["mae"] == pytest.approx(0.1)
    assert s["angular_error_deg"]["mean"] == pytest.approx(30.0)
    assert s["stress_gpa"] is None


def test_target_status_by_name():
    assert target_status("ultra_tiny_traced", 0.975, 11.0)["status"] == "pass"
    assert target_status("tiny", 0.975, 11.0) == {"size": "tiny", "status": "fail",
                                                    "target": {"force_r2_min": 0.99, "angular_mean_max_deg": 8.0}}
    assert target_status("original", 0.999, 2.0)["status"] == "pass"
    assert target_status("mine", 0.5, 50.0)["status"] == "report only"


@pytest.fixture(scope="module")
def students(tmp_path_factory):
    d = tmp_path_factory.mktemp("students")
    teacher = export(ReferenceStudent(ELEMENTS), format="torchscript", out=d / "teacher_traced.pt")
    tiny = export(ReferenceStudent(ELEMENTS, cutoff=3.7), format="torchscript", out=d / "tiny_traced.pt")
    other = export(ReferenceStudent(ELEMENTS, num_layers=2), format="torchscript", dtype="float32",
                   out=d / "other_traced.pt")
    frames = [a for seed in range(3) for a in sample_frames(ELEMENTS, seed=seed)]
    return teacher, [tiny, other], frames


def test_analyze_with_calculator_teacher(tmp_path, students):
    teacher, paths, frames = students
    report = analyze_students(students=paths, frames=frames, teacher=StudentCalculator(teacher), out=tmp_path)
    validate(json.loads((tmp_path / "metrics.json").read_text()))
    assert {p.name for p in tmp_path.iterdir()} >= {"tiny.png", "other.png", "metrics.json", "card.md", "card.html"}
    assert imread(tmp_path / "tiny.png").shape[:2] == (1160, 1600)  # 3 x 4 panels at 80 dpi
    tiny = report["students"][0]
    assert tiny["frames"] == 6 and tiny["atoms"] == 3 * (32 + 13)
    assert 0.5 < tiny["force"]["r2"] < 1.0 and tiny["target"]["size"] == "tiny"
    assert tiny["stress_gpa"]["count"] == 3 * 6 and tiny["speed"]["us_per_atom"] > 0
    card = (tmp_path / "card.md").read_text()
    assert "| tiny |" in card and "| other |" in card
    # 6 frames: every RMSE has its frame interval, and the students are ranked by a paired bootstrap
    lo, hi = tiny["force"]["rmse_ci95"]
    assert lo <= tiny["force"]["rmse"] <= hi and f"{1e3 * tiny['force']['rmse']:.1f} [{1e3 * lo:.1f}, " in card
    best = report["best_force_rmse"]
    assert best in ("tiny", "other") and "| best |" in card
    [other] = [s for s in report["students"] if s["name"] != best]
    assert other["force_rmse_vs_best"]["best"] == best and other["force_rmse_vs_best"]["ratio"] >= 1
    for size, goal in QUALITY_TARGETS.items():  # the targets stated are the registry's
        assert f"`{size}` " in card and f"{goal.force_r2_min:g} and" in card and f"{goal.angular_mean_max_deg:g}°" in card


def test_teacher_identical_to_student_is_perfect(tmp_path, students):
    teacher, _, frames = students
    report = analyze_students(students=[teacher], frames=frames[:2], teacher=StudentCalculator(teacher), out=None)
    s = report["students"][0]
    assert s["force"]["r2"] == pytest.approx(1.0) and s["angular_error_deg"]["mean"] < 0.5
    assert s["energy_per_atom"]["mae"] < 1e-10


def test_dataset_labels_and_cli(tmp_path, students):
    _, paths, frames = students
    labelled = []
    for i, atoms in enumerate(frames[:4]):  # Lennard-Jones labels stored in the file, as a dataset would
        atoms = atoms.copy()
        atoms.info["split"] = "test" if i % 2 else "train"
        atoms.info["teacher"] = "lj"  # as pair_student.data.label records it
        atoms.calc = LennardJones(sigma=2.0, epsilon=0.1, rc=4.0)
        atoms.calc = SinglePointCalculator(atoms, energy=atoms.get_potential_energy(), forces=atoms.get_forces(),
                                           **({"stress": atoms.get_stress()} if atoms.pbc.all() else {}))
        labelled.append(atoms)
    write(tmp_path / "set.extxyz", labelled)
    out = tmp_path / "out"
    assert main(["--students", *map(str, paths), "--frames", str(tmp_path / "set.extxyz"),
                 "--teacher", "lj-recorded", "--out", str(out), "--no-html"]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    validate(doc)
    assert doc["labels"] == "dataset" and doc["teacher"] == "lj-recorded" and doc["frames"] == 4
    assert not (out / "card.html").exists()
    assert "**lj-recorded**" in (out / "card.md").read_text()  # the card names the recorded teacher too
    assert main(["--students", str(paths[0]), "--frames", str(tmp_path / "set.extxyz"), "--split", "test",
                 "--out", str(out / "test"), "--no-html"]) == 0
    doc = json.loads((out / "test" / "metrics.json").read_text())
    assert doc["frames"] == 2 and doc["teacher"] == "lj"  # named by the frames without --teacher
    assert main(["--students", str(paths[0]), "--frames", str(tmp_path / "set.extxyz"), "--split", "val",
                 "--out", str(out / "val")]) == 2  # no frame of that split: a clear error, not an empty report
    assert main(["--students", str(paths[0]), "--frames", str(tmp_path / "missing.extxyz")]) == 2


def test_invalid_json_fails_validation(tmp_path, students):
    teacher, paths, frames = students
    doc = analyze_students(students=paths[:1], frames=frames[:2], teacher=StudentCalculator(teacher), out=None)
    validate(doc, SCHEMA)
    broken = json.loads(json.dumps(doc))
    del broken["students"][0]["force"]["components"]["y"]
    broken["students"][0]["parameters"] = -3
    broken["students"][0]["target"]["status"] = "great"
    with pytest.raises(ValueError) as err:
        validate(broken)
    text = str(err.value)
    assert "missing required 'y'" in text and "minimum" in text and "great" in text
    with pytest.raises(ValueError, match="expected object"):
        validate([])


def test_target_sizes_of_the_schema_are_the_registrys(students):
    teacher, paths, frames = students
    doc = analyze_students(students=paths[:1], frames=frames[:1], teacher=StudentCalculator(teacher), out=None)
    for size in (*SIZES, None):
        doc["students"][0]["target"]["size"] = size
        validate(doc)
    doc["students"][0]["target"]["size"] = "huge"
    with pytest.raises(ValueError, match="huge"):
        validate(doc)
