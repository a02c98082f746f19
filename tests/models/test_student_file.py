"""A student file rebuilds as the eager model it was scripted from; files it cannot rebuild
faithfully (quantized, unknown architectures) are refused with the way out."""

import pytest
import torch

from pair_student.contract import ContractError, evaluate, load_student, save_student
from pair_student.export import quantize_model
from pair_student.models import ReferenceStudent
from pair_student.models.student_file import is_student_file, model_from_student_file
from pair_student.models.tabulated import TabulatedStudent, tabulate

from model_harness import CUTOFF, ELEMENTS, distorted_cell, energy_of, local_model

META = {"elements": ELEMENTS, "cutoff": CUTOFF, "provenance": {"teacher": "test"}}


class OtherStudent(ReferenceStudent):
    """An architecture the rebuilders do not know."""


@pytest.mark.parametrize("make", [local_model, lambda: tabulate(local_model(), 32),
                                  lambda: ReferenceStudent(ELEMENTS, CUTOFF, num_layers=2)])
def test_files_rebuild_as_their_models(tmp_path, make):
    model = make()
    path = save_student(model, tmp_path / "m.pt", {**META, "num_layers": model.num_layers})
    rebuilt, meta = model_from_student_file(path)
    assert type(rebuilt) is type(model) and not rebuilt.training
    assert meta["provenance"] == META["provenance"] and meta["dtype"] == "float64"
    if isinstance(model, TabulatedStudent):
        assert rebuilt.table_points == 32
    atoms = distorted_cell(2)
    e, g, grad = energy_of(rebuilt, atoms)
    file, _ = load_student(path)
    e_file, grad_file = evaluate(file, g["species"], g["edge_index"], g["edge_vectors"], g["num_local"])
    assert e == pytest.approx(e_file.sum().item(), rel=1e-12, abs=1e-12)
    assert torch.allclose(grad, grad_file, rtol=0, atol=1e-12)


def test_what_cannot_be_rebuilt_is_refused(tmp_path):
    other = save_student(OtherStudent(ELEMENTS, CUTOFF), tmp_path / "other.pt", META)
    with pytest.raises(ContractError, match="OtherStudent, which cannot be rebuilt.*training checkpoint"):
        model_from_student_file(other)
    quantized = save_student(quantize_model(local_model(), "int8"), tmp_path / "q.pt", META)
    with pytest.raises(ContractError, match="quantized weights"):
        model_from_student_file(quantized)


def test_student_files_are_told_from_checkpoints(tmp_path):
    pt = save_student(ReferenceStudent(ELEMENTS, CUTOFF), tmp_path / "m.pt", META)
    ckpt = tmp_path / "ckpt.pt"
    torch.save({"model_config": {}, "state_dict": {}}, ckpt)
    text = tmp_path / "notes.txt"
    text.write_text("not a zip")
    assert is_student_file(pt) and not is_student_file(ckpt) and not is_student_file(text)
