"""pair-student validate: teacher through fix external, classical teacher, verdicts, errors.

The "teacher" of most tests is a reference student evaluated in Python (``student:FILE``,
through ``fix external``) while the student is the same file in ``pair_style student``: the two
must agree to round-off, so any difference is a bug of the validator, not of a model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ase.build import bulk

from pair_student import StudentCalculator
from pair_student.contract import save_student
from pair_student.runtime.runner import read_thermo, run_lammps
from pair_student.models import ReferenceStudent
from pair_student.runtime.plugin import PLUGIN_NAME, plugin_dir
from pair_student.teachers import get_teacher
from pair_student.validate import ValidationError, validate_system, write_report
from pair_student.validate.cli import main
from pair_student.validate.compare import load_thresholds
from pair_student.validate.runs import INPUTS_DIR, python_teacher_model, read_dump_frames, run_protocol, write_data
from pair_student.validate.teacher_fix import run_inprocess, student_lines

if not (Path(plugin_dir()) / PLUGIN_NAME).is_file():
    pytest.skip("pair_style student plugin is not built; run install.sh", allow_module_level=True)

ELEMENTS = {"si": ["Si"], "gan": ["Ga", "N"], "ethanol": ["C", "H", "O"]}


class Scaled(torch.nn.Module):
    """A deliberately broken student: energy and its gradient times ``factor``."""

    def __init__(self, inner: torch.nn.Module, factor: float):
        super().__init__()
        self.inner = inner
        self.factor = factor

    def forward(self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, num_local: int):
        energy, grad = self.inner(species, edge_index, edge_vectors, num_local)
        return energy * self.factor, grad * self.factor


def reference(path: Path, elements, *, factor: float = 1.0) -> Path:
    module = ReferenceStudent(elements, cutoff=4.0)
    if factor != 1.0:
        module = Scaled(module, factor)
    return save_student(module, path, {"elements": list(elements), "cutoff": 4.0})


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    out = {name: reference(root / f"{name}_model_traced.pt", els) for name, els in ELEMENTS.items()}
    out["broken"] = reference(root / "broken_model_traced.pt", ["Si"], factor=1.5)
    return out


@pytest.mark.parametrize("system,protocols", [("si", ["minimize", "nve", "nvt"]), ("gan", ["nvt", "npt"]),
                                              ("ethanol", ["minimize", "nvt"])])
def test_same_model_as_teacher_and_student_passes(models, tmp_path, capsys, system, protocols):
    model = models[system]
    code = main(["--teacher", f"student:{model}", "--students", str(model), "--structure", system,
                 "--steps", "30", "--min-steps", "30", "--protocols", *protocols, "--out", str(tmp_path),
                 "--no-progress", "--threshold", "explode_temp_factor=20"])
    # (the analytic reference is no model of ethanol: released strain heats it well above 300 K)
    assert code == 0, capsys.readouterr()
    report = json.loads((tmp_path / "report.json").read_text())
    (res,) = report["results"]
    assert res["passed"] and not res["reasons"]
    static = res["observables"]["static"]
    assert static["force_rmse"] < 1e-6 and static["energy_mae"] < 1e-6
    nvt = res["observables"]["nvt"]
    # identical physics, integrator and start: trajectories agree to round-off
    assert abs(nvt["student"]["temp_mean"] - nvt["teacher"]["temp_mean"]) < 1e-3
    if system != "ethanol":  # no pressure for a molecule in vacuum
        assert abs(nvt["student"]["press_mean"] - nvt["teacher"]["press_mean"]) < 1e-2
    if "npt" in protocols:  # the teacher's virial drives the barostat like the pair style's
        npt = res["observables"]["npt"]
        assert abs(npt["student"]["volume_mean"] - npt["teacher"]["volume_mean"]) < 1e-6 * npt["teacher"]["volume_mean"]
    if system == "ethanol":
        assert "bonds" in res["observables"] and "rdf" not in res["observables"]
        assert (tmp_path / system / f"{system}_bonds.png").is_file()
    md = (tmp_path / "report.md").read_text()
    assert "PASS" in md and f"{system}/{system}" in md
    assert (tmp_path / system / f"{system}_nvt_thermo.png").is_file()


def test_broken_student_fails_with_reason(models, tmp_path, capsys):
    code = main(["--teacher", f"student:{models['si']}", "--students", str(models["si"]), str(models["broken"]),
                 "--structure", "si", "--steps", "20", "--protocols", "nvt", "--out", str(tmp_path), "--no-progress"])
    assert code == 1
    printed = capsys.readouterr().out
    results = {r["student"]: r for r in json.loads((tmp_path / "report.json").read_text())["results"]}
    assert results["si"]["passed"]
    broken = results["broken"]
    assert not broken["passed"]
    assert broken["observables"]["static"]["force_rmse_rel"] == pytest.approx(0.5, rel=1e-4)
    assert any(r.startswith("force RMSE/RMS(teacher) 0.5") for r in broken["reasons"])
    assert any(r.startswith("energy MAE") for r in broken["reasons"])
    assert "FAIL si/broken" in printed
    # switching the failing checks off makes the same student pass: thresholds are honoured
    code = main(["--teacher", f"student:{models['si']}", "--students", str(models["broken"]), "--structure", "si",
                 "--steps", "20", "--protocols", "nvt", "--out", str(tmp_path / "lenient"), "--no-progress",
                 "--threshold", "force_rmse_rel_max=none", "--threshold", "energy_mae_max=10",
                 "--threshold", "force_r2_min=0.5", "--threshold", "press_mean_diff_max=none"])
    assert code == 0, capsys.readouterr()


def test_fix_external_forces_match_direct_teacher(models, tmp_path):
    """Forces and energies the teacher put into LAMMPS equal the teacher evaluated directly on
    the dumped frames (triclinic, rattled, two elements)."""
    atoms = bulk("GaN", "wurtzite", a=3.19, c=5.19) * (3, 3, 2)
    atoms.rattle(0.05, seed=1)
    write_data(atoms, tmp_path / "gan.data", ["Ga", "N"])
    teacher = get_teacher(StudentCalculator(models["gan"]), name="ref")
    run = run_protocol(model=python_teacher_model(teacher), protocol="nvt", script=(INPUTS_DIR / "nvt.in").read_text(),
                       workdir=tmp_path / "run", data=tmp_path / "gan.data", elements=["Ga", "N"], natoms=len(atoms),
                       variables={"temp": 600, "steps": 20, "dt": 0.001, "seed": 5, "every": 5, "boundary": "p p p"})
    assert run.ok, (run.error, run.unstable)
    assert len(run.frames) == 5
    energy = dict(zip(run.thermo["Step"].astype(int), run.thermo["PotEng"]))
    for frame in run.frames:
        direct = teacher.compute(frame)
        np.testing.assert_allclose(frame.arrays["forces"], direct["forces"], atol=1e-7)
        assert energy[frame.info["step"]] == pytest.approx(direct["energy"], abs=1e-6)


def test_fix_external_virial_matches_pair_style(models, tmp_path):
    """Full pressure tensor (off-diagonal too) of the teacher path equals pair_style student's."""
    atoms = bulk("GaN", "wurtzite", a=3.19, c=5.19) * (3, 3, 2)
    atoms.rattle(0.08, seed=2)
    write_data(atoms, tmp_path / "gan.data", ["Ga", "N"])
    script = ("units metal\natom_style atomic\nread_data ${data}\ninclude ${potential}\n"
              "thermo_style custom step pe pxx pyy pzz pxy pxz pyz\nthermo_modify format float %.12g\nrun 0\n")
    variables = {"data": str(tmp_path / "gan.data"), "potential": "potential.in"}
    teacher = get_teacher(StudentCalculator(models["gan"]), name="ref")
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "potential.in").write_text("\n".join(python_teacher_model(teacher).lines))
    from pair_student.validate.teacher_fix import TeacherFix

    out = run_inprocess(script=script, workdir=tmp_path / "t", variables=variables,
                        teacher_fix=TeacherFix(teacher=teacher, elements=["Ga", "N"]))
    assert out["returncode"] == 0, out
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "potential.in").write_text("\n".join(student_lines(model=models["gan"], elements=["Ga", "N"])))
    run_lammps(script, workdir=tmp_path / "s", variables=variables).check()
    t, s = read_thermo(tmp_path / "t" / "log.lammps"), read_thermo(tmp_path / "s" / "log.lammps")
    for col in ("PotEng", "Pxx", "Pyy", "Pzz", "Pxy", "Pxz", "Pyz"):
        assert t[col][0] == pytest.approx(s[col][0], abs=1e-4), col
    assert abs(s["Pxy"][0]) + abs(s["Pyz"][0]) > 10.0  # the off-diagonal terms were really tested


def test_classical_teacher_runs_as_its_own_pair_style(models, tmp_path, capsys):
    code = main(["--teacher", "sw-si", "--students", str(models["si"]), "--structure", "si", "--steps", "20",
                 "--min-steps", "20", "--protocols", "minimize", "nvt", "--out", str(tmp_path), "--no-progress"])
    assert code == 1  # the analytic reference is not Stillinger-Weber: it must be failed
    assert "pair_style sw" in (tmp_path / "si" / "nvt" / "teacher" / "potential.in").read_text()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["systems"][0]["teacher"]["kind"].startswith("classical")
    thermo = report["systems"][0]["runs"]["nvt"]["teacher"]["thermo"]
    assert thermo["PotEng"][0] / 64 == pytest.approx(-4.3366, abs=2e-3)  # SW diamond Si cohesive energy
    frames = read_dump_frames(tmp_path / "si" / "nvt" / "teacher" / "dump.lammpstrj", ["Si"])
    assert len(frames) >= 2 and np.abs(frames[-1].arrays["forces"]).max() > 0


def test_missing_model_file_fails_cleanly(tmp_path, capsys):
    missing = tmp_path / "nowhere_model_traced.pt"
    code = main(["--teacher", "sw-si", "--students", str(missing), "--structure", "si", "--out", str(tmp_path)])
    assert code == 2
    assert str(missing) in capsys.readouterr().err


def test_input_without_needed_variables_is_refused(models, tmp_path, capsys):
    bad = tmp_path / "nvt.in"
    bad.write_text("units metal\nread_data ${data}\npair_style sw\nrun 10\n")
    code = main(["--teacher", "sw-si", "--students", str(models["si"]), "--structure", "si", "--input", str(bad),
                 "--out", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err
    assert "potential" in err and str(bad) in err


def test_failing_teacher_is_reported(models, tmp_path):
    class Broken:
        name = "broken"

        def compute(self, atoms):
            raise RuntimeError("no weights")

    with pytest.raises(ValidationError, match="no weights"):
        validate_system(teacher=Broken(), students=[models["si"]], structure="si",
                        out=tmp_path, protocols=["nvt"], steps=5, progress=False)


def test_thresholds_file_and_flags(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"force_r2_min": 0.95, "speedup_min": 2}))
    values = load_thresholds(path=str(path), overrides=["drift_max=none"])
    assert values["force_r2_min"] == 0.95 and values["speedup_min"] == 2.0 and values["drift_max"] is None
    with pytest.raises(ValueError, match="unknown threshold"):
        load_thresholds(overrides=["force_r3=1"])


def test_user_input_with_the_same_variables(models, tmp_path, capsys):
    """A user's own input (here: the shipped NVT input turned into NVE) is run as given."""
    mine = tmp_path / "my_md.in"
    mine.write_text((INPUTS_DIR / "nvt.in").read_text().replace("fix integrate all nvt temp ${temp} ${temp} ${tdamp}",
                                                                  "fix integrate all nve"))
    code = main(["--teacher", f"student:{models['si']}", "--students", str(models["si"]), "--structure", "si",
                 "--steps", "10", "--input", f"nve={mine}", "--out", str(tmp_path / "r"), "--no-progress"])
    assert code == 0, capsys.readouterr()
    assert "fix integrate all nve" in (tmp_path / "r" / "si" / "nve" / "teacher" / "in.lammps").read_text()
    md = (tmp_path / "r" / "report.md").read_text()
    assert "si/teacher (student:si_model_traced.pt)" in md


def test_overall_verdict_includes_property_and_stability_checks(tmp_path):
    """The LAMMPS runs may all pass while a property check fails: report.md must not say PASS then."""
    full = write_report(out=tmp_path, systems=[], thresholds={}, wall=1.0, checks={"properties": False, "stability": True})
    assert full["passed"] is False
    text = (tmp_path / "report.md").read_text()
    assert "Overall: **FAIL**; properties: FAIL" in text and "stability: PASS" in text
    assert write_report(out=tmp_path, systems=[], thresholds={}, wall=1.0, checks={"stability": True})["passed"] is True
