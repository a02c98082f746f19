"""Exports reproduce the eager model; broken or wrong files are caught by the verifier."""

import copy

import numpy as np
import pytest
import torch

from pair_student.contract import read_metadata
from pair_student.export.cli import main
from pair_student.export import export, quantize_model, sample_frames, verification_graphs
from pair_student.export.verify import (
    ExportVerificationError, differences, onnx_runner, torchscript_runner, verify_file,
)
from pair_student.models import ReferenceStudent
from toy_student import ToyStudent

ELEMENTS = ["Si", "C"]


@pytest.fixture(scope="module")
def toy():
    torch.manual_seed(0)
    return ToyStudent(ELEMENTS).eval()


def graphs_for(dtype):
    return verification_graphs(sample_frames(ELEMENTS, seed=3), ELEMENTS, 4.0, getattr(torch, dtype))


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_export_matches_eager(tmp_path, toy, fmt, dtype):
    path = export(toy, format=fmt, dtype=dtype, out=tmp_path, name="toy")
    assert path.name == ("toy_traced.pt" if fmt == "torchscript" else "toy.onnx")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind
    model = copy.deepcopy(toy).to(getattr(torch, dtype))
    graphs = graphs_for(dtype)  # frames the export did not verify on
    run = torchscript_runner(path, getattr(torch, dtype)) if fmt == "torchscript" else onnx_runner(path)
    diff = differences(run, model, graphs)
    if dtype == "float64":
        assert max(diff.values()) < 1e-10, diff
    elif fmt == "torchscript":  # run as the plugin runs it: the same kernels as eager
        assert max(diff.values()) < 1e-6, diff
    else:
        # onnxruntime's float32 kernels sum in another order: energies agree to ~1e-6, edge
        # gradients to a few 1e-6 (the model's own float32 rounding is ~3e-6 vs float64)
        assert diff["atom_energy"] < 2e-6 and diff["energy"] < 1e-6, diff
        assert diff["edge_grad"] < 1e-5 and diff["forces"] < 1e-5, diff


def test_metadata_travels(tmp_path, toy):
    pt = export(toy, format="torchscript", dtype="float32", out=tmp_path, name="m",
                metadata={"provenance": {"teacher": "lj"}})
    meta = read_metadata(pt)
    assert meta["elements"] == ELEMENTS and meta["dtype"] == "float32" and meta["provenance"]["teacher"] == "lj"
    import onnx

    props = {p.key: p.value for p in onnx.load(str(export(toy, format="onnx", out=tmp_path, name="m"))).metadata_props}
    assert props["elements"] == "Si C" and props["cutoff"] == "4.0" and props["dtype"] == "float64"


def test_onnx_message_passing_reference_with_ghosts(tmp_path):
    model = ReferenceStudent(ELEMENTS, num_layers=2)
    path = export(model, format="onnx", out=tmp_path, name="ref2")
    assert max(differences(onnx_runner(path), model.double(), graphs_for("float64")).values()) < 1e-10


def _corrupt(src, dst, how):
    data = bytearray(src.read_bytes())
    if how == "truncate":
        data = data[: len(data) // 2]
    else:  # flip bytes in the middle, where the weights are
        for k in range(len(data) // 2, len(data) // 2 + 64):
            data[k] ^= 0xFF
    dst.write_bytes(bytes(data))


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
@pytest.mark.parametrize("how", ["truncate", "flip", "wrong-model"])
def test_verifier_detects_bad_files(tmp_path, toy, fmt, how):
    good = export(toy, format=fmt, out=tmp_path / "good", name="toy")
    bad = tmp_path / ("bad_traced.pt" if fmt == "torchscript" else "bad.onnx")
    if how == "wrong-model":
        torch.manual_seed(1)
        other = export(ToyStudent(ELEMENTS), format=fmt, out=tmp_path / "other", name="toy")
        bad.write_bytes(other.read_bytes())
    else:
        _corrupt(good, bad, how)
    with pytest.raises(ExportVerificationError):
        verify_file(bad, toy.double(), graphs_for("float64"), dtype="float64")


def test_cli_fails_and_leaves_nothing_on_mismatch(tmp_path, toy, monkeypatch):
    ckpt = tmp_path / "toy.ckpt"
    torch.save({"model_config": {"architecture": "reference", "elements": ELEMENTS, "cutoff": 4.0},
                "state_dict": ReferenceStudent(ELEMENTS).state_dict(), "metadata": {}}, ckpt)
    out = tmp_path / "out"
    assert main([str(ckpt), "--format", "onnx", "--out", str(out)]) == 0
    assert (out / "toy.onnx").is_file()
    import pair_student.export.torchscript as ex

    # an exporter that writes a different model must be refused by the CLI
    real = ex.save_student
    monkeypatch.setattr(ex, "save_student", lambda m, p, meta: real(ReferenceStudent(ELEMENTS, cutoff=3.0), p, meta))
    assert main([str(ckpt), "--format", "torchscript", "--out", str(out)]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["toy.onnx"]


def test_quantized_exports_are_verified_and_smaller(tmp_path):
    torch.manual_seed(0)
    big = ToyStudent(ELEMENTS, num_basis=32, hidden=256).eval()
    sizes = {}
    for q in (None, "fp16", "int8"):
        path = export(big, format="torchscript", dtype="float32", quantize=q, out=tmp_path, name="big")
        sizes[q] = path.stat().st_size
    assert sizes["int8"] < sizes["fp16"] < sizes[None]
    quant = quantize_model(big.float(), "int8")
    g = graphs_for("float32")[0]
    args = (g["species"], g["edge_index"], g["edge_vectors"], g["num_local"])
    e0, g0 = big.float()(*args)
    e1, g1 = quant(*args)
    # weight-only int8 stays close to the float model and its forces remain gradients
    assert torch.linalg.norm(g1 - g0) / torch.linalg.norm(g0) < 0.05
    assert np.isfinite(e1.detach().numpy()).all()


def test_a_file_that_is_no_checkpoint_is_named_in_one_line(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("not a model\n")
    assert main([str(text), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is neither a pair_student training checkpoint nor a student file" in err and "\n" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
