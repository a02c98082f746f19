"""Tabulated students (and any other student file) export to ONNX, which equals the
TorchScript file; the model rebuilt from a file is checked against the file."""

import pytest
import torch

from pair_student.contract import read_metadata
from pair_student.export import TABULATION_TOLERANCE, ExportVerificationError, export, load_source, sample_frames
from pair_student.export.frames import verification_graphs
from pair_student.export.verify import differences, onnx_runner, torchscript_runner
from pair_student.models import LocalStudent, ReferenceStudent
from pair_student.models import student_file
from pair_student.models.tabulated import TabulatedStudent

ELEMENTS = ["Si", "C"]


@pytest.fixture(scope="module")
def local():
    torch.manual_seed(0)
    return LocalStudent(ELEMENTS, 4.0, channels=6, num_basis=8, radial_hidden=12, hidden=16).double().eval()


@pytest.fixture(scope="module")
def table_file(local, tmp_path_factory):
    return export(local, out=tmp_path_factory.mktemp("pt") / "small_traced.pt", table_points=64)


def graphs_for(dtype):
    # frames the exports did not verify on
    return verification_graphs(sample_frames(ELEMENTS, seed=3), ELEMENTS, 4.0, getattr(torch, dtype))


@pytest.mark.parametrize("source", ["file", "model"])
def test_tabulated_onnx_equals_the_torchscript_file(tmp_path, local, table_file, source):
    onnx_path = export(table_file if source == "file" else local, format="onnx", out=tmp_path,
                       table_points=None if source == "file" else 64)
    assert onnx_path.name == ("small.onnx" if source == "file" else "student.onnx")
    diff = differences(onnx_runner(onnx_path), torchscript_runner(table_file, torch.float64), graphs_for("float64"))
    assert max(diff.values()) < 1e-10, diff
    import onnx

    props = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert '"points": 64' in props["provenance"]


@pytest.mark.parametrize("radial_mode", ["pair_out", "pair_mlp"])
def test_species_resolved_students_tabulate_to_the_same_onnx(tmp_path, radial_mode):
    """The per-pair radial networks exist only before tabulation: their files, and the ONNX
    made from them, are tables like any other."""
    torch.manual_seed(1)
    model = LocalStudent(ELEMENTS, 4.0, channels=6, num_basis=8, radial_hidden=12, hidden=16,
                         radial_mode=radial_mode).double().eval()
    pt = export(model, out=tmp_path / "pair_traced.pt", table_points=64)
    onnx_path = export(pt, format="onnx", out=tmp_path)
    diff = differences(onnx_runner(onnx_path), torchscript_runner(pt, torch.float64), graphs_for("float64"))
    assert max(diff.values()) < 1e-10, diff
    assert differences(onnx_runner(onnx_path), model, graphs_for("float64"))["forces"] < TABULATION_TOLERANCE


def test_local_student_keeps_its_network_on_request(tmp_path, local):
    onnx_path = export(local, format="onnx", out=tmp_path, table_points=0)
    import onnx

    props = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert "tabulated" not in props["provenance"]
    assert max(differences(onnx_runner(onnx_path), local, graphs_for("float64")).values()) < 1e-10


def test_tabulated_float32_onnx(tmp_path, table_file):
    onnx_path = export(table_file, format="onnx", dtype="float32", out=tmp_path)
    diff = differences(onnx_runner(onnx_path), torchscript_runner(table_file, torch.float32), graphs_for("float32"))
    # as test_export: onnxruntime's float32 kernels sum in another order than libtorch's
    assert diff["energy"] < 1e-6 and diff["forces"] < 1e-5, diff


def test_files_rebuild_as_their_eager_models(tmp_path, table_file):
    model, meta = load_source(table_file)
    assert isinstance(model, TabulatedStudent) and model.table_points == 64
    assert meta["provenance"] == read_metadata(table_file)["provenance"]
    reference = ReferenceStudent(ELEMENTS, num_layers=2)
    pt = export(reference, out=tmp_path / "ref_traced.pt")
    onnx_path = export(pt, format="onnx", out=tmp_path)
    diff = differences(onnx_runner(onnx_path), torchscript_runner(pt, torch.float64), graphs_for("float64"))
    assert max(diff.values()) < 1e-10, diff


def test_a_wrong_rebuild_is_refused(tmp_path, table_file, monkeypatch):
    real = student_file.REBUILDERS["TabulatedStudent"]

    def skewed(*args):  # tables read 1% off their radii: shapes and weights all fit
        model = real(*args)
        model.table_spacing *= 1.01
        return model

    monkeypatch.setitem(student_file.REBUILDERS, "TabulatedStudent", skewed)
    with pytest.raises(ExportVerificationError, match="does not reproduce the file"):
        export(table_file, format="onnx", out=tmp_path)
    assert list(tmp_path.iterdir()) == []



def test_a_student_with_uncertainty_keeps_it_in_its_pt_and_not_in_its_onnx(tmp_path, local):
    """The ONNX graph computes no uncertainty, so its provenance must not claim one."""
    import copy

    import onnx

    student = copy.deepcopy(local)
    width = student.readout_in.in_features
    eye = torch.eye(width, dtype=torch.float64).repeat(len(ELEMENTS), 1, 1)
    student.set_uncertainty(torch.zeros(len(ELEMENTS), width), eye, torch.tensor([0.1, 1.0]))
    meta = {"provenance": {"uncertainty": {"calibration": {"a": 0.1, "p": 1.0}}}}
    pt = export(student, out=tmp_path / "u_traced.pt", table_points=64, metadata=meta)
    assert read_metadata(pt)["provenance"]["uncertainty"]["calibration"]["a"] == 0.1
    assert torch.jit.load(str(pt)).uncertainty_mean.shape[0] == len(ELEMENTS)
    onnx_path = export(pt, format="onnx", out=tmp_path)
    props = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert "uncertainty" not in props["provenance"] and '"points": 64' in props["provenance"]
