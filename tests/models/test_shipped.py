"""Shipped demo students: ``pair-student models`` and ``read_metadata`` on every one."""

from pathlib import Path

import pytest
import torch

from pair_student import read_metadata
from pair_student.models.repulsion import dimer_slopes
from pair_student.models.student_file import model_from_student_file
from pair_student.models.cli import main
from pair_student.models.shipped import shipped_model, shipped_models
from pair_student.registry import SIZES


def test_models_prints_one_absolute_existing_path_per_student(capsys):
    assert main([]) == 0
    lines = capsys.readouterr().out.split()
    assert len(lines) == 9
    for line in lines:
        path = Path(line)
        assert path.is_absolute() and path.is_file() and path.name.endswith("_model_traced.pt")
    assert main(["--system", "gan"]) == 0
    assert len(capsys.readouterr().out.split()) == 3


@pytest.mark.parametrize("system,elements", [("si", ["Si"]), ("gan", ["N", "Ga"]), ("ethanol", ["H", "C", "O"])])
def test_metadata_of_shipped_students(system, elements):
    for size in SIZES:
        meta = read_metadata(shipped_model(system, size))
        assert sorted(meta["elements"]) == sorted(elements)
        assert meta["cutoff"] == 5.0 and meta["num_layers"] == 1 and meta["units"] == "metal"
        prov = meta["provenance"]
        assert prov["teacher"].startswith("sevennet") and prov["seed"] == 0
        # the distill run (or its on-policy loop), a longer `train` resumed from its checkpoint, `train` on a
        # dataset that scripts/make_datasets.py made, named with its checksum, or on a committed large dataset
        cmd = prov["command"]
        made = f"scripts/make_datasets.py --systems {system}" in prov.get("dataset_source", "")
        assert (cmd.startswith("pair-student distill") and f"--structures {system}" in cmd) or \
            (cmd.startswith("pair-student train") and f"{system}/dataset.extxyz" in cmd) or \
            (cmd.startswith("pair-student train") and made and len(prov.get("dataset_sha256", "")) == 64) or \
            (cmd.startswith("pair-student train") and f"benchmarks/datasets/large/{system}.extxyz.gz" in cmd), cmd
        assert prov["metrics"]["force_r2"] > 0.9  # trained, not a placeholder


def test_unknown_shipped_student_names_what_exists():
    with pytest.raises(FileNotFoundError, match="shipped: .*si/tiny"):
        shipped_model("si", "huge")
    assert set(shipped_models()) == {"si", "gan", "ethanol"}


@pytest.mark.parametrize("system", ["si", "gan", "ethanol"])
def test_every_shipped_dimer_repels_from_its_core_window_down_to_0_2_angstrom(system):
    """Two atoms of any element pair pushed together below the shortest distance of the training
    data: the energy rises monotonically and the force pushes them apart, down to 0.2 A (the
    students shipped before the core repulsion attracted at 0.05 A)."""
    for size in SIZES:
        model, meta = model_from_student_file(shipped_model(system, size))
        report = meta["provenance"]["core_repulsion"]
        n, elements = model.num_elements, meta["elements"]
        for i in range(n):
            for j in range(i, n):
                window = report[f"{elements[i]}-{elements[j]}"]
                outer = model.core_outer.view(n, n)[i, j].item()
                assert outer == pytest.approx(window["outer"]) and 0 < outer <= window["shortest"]
                r = torch.linspace(0.2, outer, 401, dtype=torch.float64)[:-1]  # at outer: the learned slope
                slopes = dimer_slopes(model, i, j, r)
                assert slopes.max() < 0, f"{system} {size} {elements[i]}-{elements[j]} attracts at " \
                                         f"{r[slopes.argmax()]:.3f} A"


@pytest.mark.parametrize("system", ["si", "gan", "ethanol"])
def test_every_shipped_student_knows_when_it_is_wrong(system):
    """Each file carries its uncertainty, fitted on a dataset's training and validation splits,
    and it is larger on a squeezed copy of a frame than on the frame itself."""
    from pair_student.calculator import StudentCalculator
    from pair_student.data.structures import demo_structure

    for size in SIZES:
        path = shipped_model(system, size)
        fitted = read_metadata(path)["provenance"]["uncertainty"]
        assert fitted["train_frames"] > 100 and fitted["validation_frames"] >= 40
        assert fitted["calibration"]["a"] > 0 and 0.5 <= fitted["calibration"]["p"] <= 3.0
        atoms = demo_structure(system)
        atoms.calc = StudentCalculator(path, uncertainty=True)
        atoms.get_potential_energy()
        near = atoms.calc.results["uncertainty"].max()
        squeezed = atoms.copy()
        squeezed.set_cell(squeezed.cell * 0.85, scale_atoms=True) if system != "ethanol" else \
            squeezed.set_positions(0.85 * (squeezed.positions - squeezed.positions.mean(0)))
        squeezed.calc = StudentCalculator(path, uncertainty=True)
        squeezed.get_potential_energy()
        assert squeezed.calc.results["uncertainty"].max() > 2 * near
