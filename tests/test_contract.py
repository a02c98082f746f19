"""The .pt file carries its metadata; bad files are refused with clear errors."""

import os
import zipfile

import pytest
import torch

import pair_student
from pair_student.contract import CONTRACT_VERSION, ContractError, load_student, read_metadata, save_student
from pair_student.models import ReferenceStudent, build_student


def test_metadata_round_trip(tmp_path):
    path = save_student(ReferenceStudent(["Si"]), tmp_path / "m.pt",
                        {"elements": ["Si"], "cutoff": 4.0, "provenance": {"teacher": "sevennet", "seed": 3}})
    meta = pair_student.read_metadata(path)
    assert meta["elements"] == ["Si"] and meta["cutoff"] == 4.0 and meta["num_layers"] == 1
    assert meta["units"] == "metal" and meta["dtype"] == "float64"
    assert meta["contract_version"] == CONTRACT_VERSION
    assert meta["provenance"] == {"teacher": "sevennet", "seed": 3}
    module, meta2 = load_student(path, dtype=torch.float32)
    assert meta2 == meta and next(iter(module.buffers())).dtype == torch.float32


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    save_student(ReferenceStudent(["Si"]), tmp_path / "m.pt", {"elements": ["Si"], "cutoff": 4.0})
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "m.pt").stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(ContractError, match="elements"):
        save_student(ReferenceStudent(["Si"]), tmp_path / "bad.pt", {"cutoff": 4.0})
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_refuses_files_that_are_not_students(tmp_path):
    (tmp_path / "junk.pt").write_text("junk")
    with pytest.raises(ContractError, match="not a TorchScript student file"):
        read_metadata(tmp_path / "junk.pt")
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(tmp_path / "plain.pt"))
    with pytest.raises(ContractError, match="without student metadata"):
        read_metadata(tmp_path / "plain.pt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_metadata(tmp_path / "missing.pt")


def test_refuses_other_contract_versions(tmp_path):
    path = save_student(ReferenceStudent(["Si"]), tmp_path / "m.pt", {"elements": ["Si"], "cutoff": 4.0})
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp_path / "v2.pt", "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            zout.writestr(item, b"2" if item.filename.endswith("/extra/contract_version") else data)
    with pytest.raises(ContractError, match="contract v2"):
        read_metadata(tmp_path / "v2.pt")


def test_build_student_rejects_unknown_architecture():
    with pytest.raises(ValueError, match="unknown student architecture 'nope'"):
        build_student({"architecture": "nope"})
